"""Data that parses but means nothing a score can be computed from (issue 14), refused before encoding.

Each case: exit 2, one stderr line naming the file and physical line (or the file), and neither a score file nor
a cache entry (harness.preflight runs every protocol up to its first encode before the model is loaded).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import CORPUS, write_jsonl
from tests.faults.conftest import fails_cleanly, run_args
from tests.faults.test_faults_inputs import set_field


@pytest.fixture
def clean(tmp_path):
    return (tmp_path / "out", tmp_path / "cache")


def write_lines(path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def replace_line(path, index: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[index] = text
    write_lines(path, lines)


# --- STS gold scores ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["test", "train"])  # train = the JMTEB validation split of jsts
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999", "-1e999"])
def test_faults_sts_gold_score_not_finite(tmp_path, tiny_model, data_dir, capsys, clean, split, literal):
    path = data_dir / "jsts" / f"{split}.jsonl"
    replace_line(path, 3, json.dumps({"sentence1": "a b", "sentence2": "c d", "label": 0.0}).replace("0.0", literal))
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:4:", "column 'label'", "finite", clean=clean)


def test_faults_sts_one_row_split(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    write_jsonl(path, [{"sentence1": CORPUS[0], "sentence2": CORPUS[1], "label": 3.0}])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), str(path), "at least 2 rows", clean=clean)


def test_faults_sts_constant_gold_scores(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    write_jsonl(path, [{**row, "label": 2.5} for row in rows])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), str(path), "two distinct", clean=clean)


# --- line numbers, encoding, JSON shape ---------------------------------------------------------------------

def test_faults_line_number_counts_blank_lines(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    lines = path.read_text().splitlines()
    bad = json.loads(lines[7])
    bad["sentence2"] = ""
    write_lines(path, lines[:2] + ["", "   "] + lines[2:7] + [json.dumps(bad)] + lines[8:])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:10:", "column 'sentence2' is empty", clean=clean)


def test_faults_invalid_utf8_names_the_physical_line(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    lines = path.read_bytes().splitlines()
    lines[5] = lines[5].replace(b'"label"', b'"lab\xffel"')
    path.write_bytes(b"\n".join(lines[:2] + [b""] + lines[2:]) + b"\n")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:7:", "not UTF-8", clean=clean)


def test_faults_lone_surrogate_in_a_text(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    replace_line(path, 4, '{"sentence1": "a \\ud800 b", "sentence2": "c", "label": 1.0}')
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:5:", "surrogate", clean=clean)


def test_faults_surrogate_pair_is_a_character(tmp_path, tiny_model, data_dir, capsys):
    """A valid escaped pair (an emoji) is text, not a defect: the run scores."""
    from harness.cli import main

    path = data_dir / "jsts" / "test.jsonl"
    replace_line(path, 4, '{"sentence1": "a \\ud83d\\ude00 b", "sentence2": "c", "label": 1.0}')
    assert main(run_args(tmp_path, tiny_model)) == 0, capsys.readouterr().err


def test_faults_deeply_nested_json(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jaquad_retrieval" / "corpus.jsonl"
    replace_line(path, 2, '{"docid": "d2", "text": "x", "title": ' + "[" * 100_000 + "]" * 100_000 + "}")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:3:",
                  "nested too deeply", clean=clean)


# --- retrieval ids and relevance ----------------------------------------------------------------------------

def make_beir(root, qrels: list[dict], queries: list[dict] | None = None) -> None:
    """scifact's local layout (BEIR schema), 20 documents and 6 queries."""
    task = root / "scifact"
    write_jsonl(task / "corpus.jsonl", [{"_id": f"d{i}", "title": "", "text": CORPUS[i % 10] + f" {i}"}
                                        for i in range(20)])
    write_jsonl(task / "queries.jsonl", queries or [{"_id": f"q{i}", "text": CORPUS[i]} for i in range(6)])
    write_jsonl(task / "qrels.jsonl", qrels)


def good_qrels() -> list[dict]:
    return [{"query-id": f"q{i}", "corpus-id": f"d{i}", "score": 1} for i in range(6)]


@pytest.mark.parametrize("protocol", ["mteb", "nanobeir", "jmteb"])
@pytest.mark.parametrize("score", [0.5, "abc", None, -1, True])
def test_faults_qrels_score_not_a_grade(tmp_path, tiny_model, capsys, clean, protocol, score):
    qrels = good_qrels()
    qrels[3]["score"] = score
    make_beir(tmp_path / "data", qrels)
    path = tmp_path / "data" / "scifact" / "qrels.jsonl"
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, f"protocol={protocol}", tasks="[scifact]"), f"{path}:4:",
                  "column 'score'", "integer from 0 to", clean=clean)


def test_faults_qrels_all_zero(tmp_path, tiny_model, capsys, clean):
    make_beir(tmp_path / "data", [{**row, "score": 0} for row in good_qrels()])
    path = tmp_path / "data" / "scifact" / "qrels.jsonl"
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "protocol=mteb", tasks="[scifact]"), str(path),
                  "no query of task scifact has a relevant document", clean=clean)


def test_faults_qrels_pair_judged_twice(tmp_path, tiny_model, capsys, clean):
    make_beir(tmp_path / "data", good_qrels() + [{"query-id": "q2", "corpus-id": "d2", "score": 0}])
    path = tmp_path / "data" / "scifact" / "qrels.jsonl"
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "protocol=mteb", tasks="[scifact]"), f"{path}:7:",
                  "'q2'", "'d2'", "second time", clean=clean)


def test_faults_duplicate_beir_query_id(tmp_path, tiny_model, capsys, clean):
    queries = [{"_id": f"q{i}", "text": CORPUS[i]} for i in range(6)] + [{"_id": "q1", "text": CORPUS[7]}]
    make_beir(tmp_path / "data", good_qrels(), queries)
    path = tmp_path / "data" / "scifact" / "queries.jsonl"
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "protocol=mteb", tasks="[scifact]"), f"{path}:7:",
                  "duplicate query id 'q1'", clean=clean)


def test_faults_duplicate_jmteb_query_id(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 5, "qid", "q2")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:6:",
                  "duplicate query id 'q2'", clean=clean)


def test_faults_relevance_grade_in_a_mapping(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 2, "relevant_docs", {"d2": 0.5})
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:3:",
                  "column 'relevant_docs'", "integer from 0 to", clean=clean)


def test_faults_relevant_docs_list_names_a_document_twice(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 2, "relevant_docs", ["d2", "d2"])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:3:",
                  "duplicate document id 'd2' in column 'relevant_docs'", clean=clean)


def test_faults_query_ids_given_for_some_rows_only(tmp_path, tiny_model, data_dir, capsys, clean):
    # rows without a qid are numbered by position, which could be another row's qid: merged queries
    path = data_dir / "jaquad_retrieval" / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    del rows[1]["qid"]
    write_jsonl(path, rows)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:2:",
                  "column 'qid' is missing here but present in other rows", clean=clean)


@pytest.mark.parametrize("line, message", [
    ('{"sentence1": "a b", "sentence2": "c d", "label": NaN, "label": 1.0}', "key 'label' appears twice"),
    ('{"sentence1": "a b", "sentence2": "c d", "label": 1' + "0" * 400 + "}", "must be a finite number"),
    ('{"sentence1": "a b", "sentence2": "c d", "label": 1' + "0" * 5000 + "}", "not a usable JSON row"),
])
def test_faults_json_a_reader_would_resolve_silently(tmp_path, tiny_model, data_dir, capsys, clean, line, message):
    # json.loads keeps the last of two equal keys (hiding the NaN); a 401-digit integer overflows a float; one
    # beyond Python's digit limit raises a plain ValueError
    path = data_dir / "jsts" / "test.jsonl"
    replace_line(path, 3, line)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:4:", message, clean=clean)


def test_faults_relevance_grade_too_large(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 2, "relevant_docs", {"d2": 10 ** 400})
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:3:",
                  "integer from 0 to 1000", "an integer of 401 digits", clean=clean)


# --- clustering and classification --------------------------------------------------------------------------

def write_clustering(root, labels_test: list, labels_val: list | None = None) -> None:
    task = root / "sib200_japanese_clustering"
    for split, labels in (("validation", labels_val or labels_test), ("test", labels_test)):
        write_jsonl(task / f"{split}.jsonl", [{"text": CORPUS[i % 10] + f" {i}", "label": label}
                                              for i, label in enumerate(labels)])


def test_faults_clustering_single_label(tmp_path, tiny_model, capsys, clean):
    write_clustering(tmp_path / "data", ["a"] * 10, ["a", "b"] * 5)
    path = tmp_path / "data" / "sib200_japanese_clustering" / "test.jsonl"
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[sib200_japanese_clustering]"), str(path),
                  "at least two distinct labels", clean=clean)


def test_faults_clustering_fewer_rows_than_clusters(tmp_path, tiny_model, capsys, clean):
    write_clustering(tmp_path / "data", ["a", "b", "c", "d"], ["a", "b"])
    path = tmp_path / "data" / "sib200_japanese_clustering" / "validation.jsonl"
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[sib200_japanese_clustering]"), str(path),
                  "cannot form 4 clusters", clean=clean)


def test_warns_of_a_class_absent_from_train(tmp_path, tiny_model, capsys, caplog):
    """Valid but suspicious: the run scores, and says once which class train never shows."""
    from harness.cli import main

    task = tmp_path / "data" / "amazon_counterfactual_classification"
    rows = [{"text": CORPUS[i % 10] + f" {i}", "label": i % 2} for i in range(12)]
    write_jsonl(task / "train.jsonl", rows)
    write_jsonl(task / "validation.jsonl", rows)
    write_jsonl(task / "test.jsonl", rows[:-1] + [{"text": "zzz", "label": 7}])
    assert main(run_args(tmp_path, tiny_model, tasks="[amazon_counterfactual_classification]")) == 0
    warned = [r.getMessage() for r in caplog.records if "never occur in the train split" in r.getMessage()]
    assert len(warned) == 1 and "test.jsonl" in warned[0] and "7" in warned[0], warned


@pytest.mark.parametrize("storage", [[], ["encode.storage_dtype=float32"]])  # in memory, streamed
def test_faults_document_text_not_a_string(tmp_path, tiny_model, data_dir, capsys, clean, storage):
    path = set_field(data_dir / "jaquad_retrieval" / "corpus.jsonl", 4, "text", 5)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, *storage, tasks="[jaquad_retrieval]"), f"{path}:5:",
                  "column 'text' must be text", clean=clean)


def test_faults_two_tasks_with_bad_data_each_get_their_line(tmp_path, tiny_model, data_dir, capsys, clean):
    from harness.cli import main
    from tests.faults.conftest import files_under

    sts = set_field(data_dir / "jsts" / "test.jsonl", 2, "label", float("nan"))
    retrieval = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 5, "qid", "q2")
    assert main(run_args(tmp_path, tiny_model, tasks="[jsts,jaquad_retrieval]")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and f"{sts}:3:" in lines[0] and f"{retrieval}:6:" in lines[1], lines
    assert all(files_under(directory) == [] for directory in clean)


def test_warns_of_queries_without_a_relevant_document(tmp_path, tiny_model, data_dir, capsys, caplog):
    from harness.cli import main

    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 3, "relevant_docs", [])
    assert main(run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]")) == 0
    warned = [r.getMessage() for r in caplog.records if "no relevant document" in r.getMessage()]
    assert warned == [f"{path}: 1 of 8 queries of task jaquad_retrieval have no relevant document (a grade > 0)"]
