"""Malformed input: one line on stderr naming the file and the field (or line), exit 2, nothing written.

Each test breaks one thing in an otherwise valid run (tiny model, small data dir written here) and checks
that neither results nor cache entries appear.
"""

from __future__ import annotations

import json
import shutil

import pytest

from harness.paths import CONF_DIR
from tests.conftest import write_jsonl
from tests.faults.conftest import fails_cleanly, run_args


def set_field(path, index: int, field: str, value):
    """Rewrite one field of one row of a jsonl file; returns the path."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[index][field] = value
    write_jsonl(path, rows)
    return path


@pytest.fixture
def clean(tmp_path):
    return (tmp_path / "out", tmp_path / "cache")


def test_faults_unknown_model_lists_valid_names(tmp_path, capsys, clean):
    fails_cleanly(capsys, ["run", "model=nope", f"output_dir={tmp_path / 'out'}"], "conf/model",
                  "unknown model 'nope'", "all-minilm-l6-v2", clean=clean)


def test_faults_unknown_suite_lists_valid_names(tmp_path, capsys, clean):
    fails_cleanly(capsys, ["run", "suite=nope", f"output_dir={tmp_path / 'out'}"], "conf/suite",
                  "unknown suite 'nope'", "offline_real", clean=clean)


def test_faults_unknown_task_lists_valid_names(tmp_path, tiny_model, data_dir, capsys, clean):
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jsts,nope]"), "field 'tasks'",
                  "unknown task 'nope'", "jaquad_retrieval, jsts", clean=clean)


def test_faults_unknown_protocol_lists_valid_names(tmp_path, tiny_model, data_dir, capsys, clean):
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "protocol=nope"), "field 'protocol'",
                  "unknown protocol 'nope'", "jmteb, mteb, nanobeir", clean=clean)


def test_faults_malformed_yaml_in_a_model_config(tmp_path, tiny_model, data_dir, capsys, clean, monkeypatch):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "model" / "broken.yaml").write_text("name: broken\npath: [x\nbackend: sentence_transformers\n")
    monkeypatch.setattr("harness.config.CONF_DIR", conf)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "model=broken"), "broken.yaml:3:", "malformed YAML",
                  clean=clean)


def test_faults_malformed_yaml_in_a_task_file(tmp_path, tiny_model, data_dir, capsys, clean, monkeypatch):
    from harness.paths import TASKS_DIR
    from harness.taskspec import load_task

    tasks = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, tasks)
    (tasks / "jsts.yaml").write_text((TASKS_DIR / "jsts.yaml").read_text().replace("family: sts", "family: [sts"))
    monkeypatch.setattr("harness.taskspec.TASKS_DIR", tasks)
    load_task.cache_clear()
    try:
        fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{tasks / 'jsts.yaml'}:", "malformed YAML",
                      clean=clean)
    finally:
        load_task.cache_clear()


def test_faults_unparseable_override(tmp_path, tiny_model, data_dir, capsys, clean):
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "tasks=[jsts"), "argument 'tasks=[jsts'", "not a valid override", clean=clean)


@pytest.mark.parametrize("override, needles", [
    ("encode.batch_size=abc", ("encode.batch_size", "an integer", "'abc'")),
    ("seed=1.5", ("config.yaml", "'seed'", "an integer")),
    ("model.max_length=[1]", ("all-minilm-l6-v2.yaml", "'max_length'", "an integer")),
    ("overwrite=maybe", ("config.yaml", "'overwrite'", "true/false")),
    ("cache_chunk=0", ("config.yaml", "'cache_chunk'", "positive")),
])
def test_faults_config_value_of_the_wrong_type(tmp_path, tiny_model, data_dir, capsys, clean, override, needles):
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, override), *needles, clean=clean)


def test_faults_missing_dataset_file(tmp_path, tiny_model, data_dir, capsys, clean):
    (data_dir / "jsts" / "test.jsonl").unlink()
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), str(data_dir / "jsts" / "test.jsonl"),
                  "missing data file", clean=clean)


def test_faults_jsonl_line_that_does_not_parse(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:-3]  # truncated line 5
    path.write_text("\n".join(lines) + "\n")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:5:", "not valid JSON", clean=clean)


def test_faults_jsonl_line_that_is_not_an_object(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jaquad_retrieval" / "corpus.jsonl"
    path.write_text(path.read_text() + "[1, 2]\n")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:21:",
                  "not a JSON object", clean=clean)


def test_faults_missing_column_in_first_row(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    write_jsonl(path, [{"sentence1": "a", "label": 1.0}])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), str(path), "missing column 'sentence2'", clean=clean)


def test_faults_missing_column_in_a_later_row(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jaquad_retrieval" / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    del rows[3]["relevant_docs"]
    write_jsonl(path, rows)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:4:",
                  "missing column 'relevant_docs'", clean=clean)


def test_faults_empty_corpus(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jaquad_retrieval" / "corpus.jsonl"
    path.write_text("\n")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), str(path), "empty",
                  clean=clean)


def test_faults_empty_split_file(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "test.jsonl"
    path.write_text("")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), str(path), "empty", clean=clean)


def test_faults_empty_query(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 2, "query", "  ")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:3:",
                  "column 'query' is empty", clean=clean)


def test_faults_empty_sentence_in_the_second_split(tmp_path, tiny_model, data_dir, capsys, clean):
    """The test split is read after the validation split: still nothing may be encoded or cached."""
    path = set_field(data_dir / "jsts" / "test.jsonl", 6, "sentence2", "")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:7:", "column 'sentence2' is empty",
                  clean=clean)


def test_faults_relevant_document_missing_from_corpus(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 1, "relevant_docs", ["d1", "d999"])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), str(path), "'q1'",
                  "'d999'", "not in the corpus", clean=clean)


def test_faults_duplicate_document_ids(tmp_path, tiny_model, data_dir, capsys, clean):
    path = set_field(data_dir / "jaquad_retrieval" / "corpus.jsonl", 7, "docid", "d2")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[jaquad_retrieval]"), f"{path}:8:",
                  "duplicate document id 'd2'", clean=clean)


@pytest.mark.parametrize("kind", ["nan", "inf"])
def test_faults_nan_or_infinite_embeddings(tmp_path, broken_models, data_dir, capsys, clean, kind):
    fails_cleanly(capsys, run_args(tmp_path, broken_models[kind]), "task jsts",
                  "NaN or infinite embeddings", clean=clean)


def test_faults_non_utf8_file(tmp_path, tiny_model, data_dir, capsys, clean):
    path = data_dir / "jsts" / "train.jsonl"
    path.write_bytes(path.read_text().encode("shift_jis"))
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), str(path), "not UTF-8", clean=clean)


@pytest.mark.parametrize("label", ["high", True, None, [3.0]])
def test_faults_label_of_an_unexpected_type(tmp_path, tiny_model, data_dir, capsys, clean, label):
    path = set_field(data_dir / "jsts" / "test.jsonl", 5, "label", label)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), f"{path}:6:", "column 'label' must be a number",
                  clean=clean)


def test_faults_classification_label_of_an_unexpected_type(tmp_path, tiny_model, capsys, clean):
    from tests.conftest import CORPUS

    rows = [{"text": CORPUS[i % 10], "label": i % 2} for i in range(12)]
    for split in ("train", "validation", "test"):
        write_jsonl(tmp_path / "data" / "amazon_counterfactual_classification" / f"{split}.jsonl", rows)
    path = tmp_path / "data" / "amazon_counterfactual_classification" / "train.jsonl"
    write_jsonl(path, rows[:3] + [{"text": "x", "label": 1.5}] + rows[4:])
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, tasks="[amazon_counterfactual_classification]"),
                  f"{path}:4:", "column 'label'", clean=clean)


def test_faults_unwritable_output_directory(tmp_path, tiny_model, data_dir, capsys, clean):
    blocker = tmp_path / "out"
    blocker.write_text("a file where a directory should be\n")
    argv = run_args(tmp_path, tiny_model) + [f"output_dir={blocker / 'results'}"]
    fails_cleanly(capsys, argv, "field 'output_dir'", str(blocker), "not", clean=(tmp_path / "cache",))
    assert blocker.read_text() == "a file where a directory should be\n"


def test_faults_output_directory_is_a_file(tmp_path, tiny_model, data_dir, capsys, clean):
    target = tmp_path / "out"
    target.write_text("x")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), "field 'output_dir'", str(target), "is a file",
                  clean=(tmp_path / "cache",))


def test_faults_missing_data_dir(tmp_path, tiny_model, capsys, clean):
    fails_cleanly(capsys, run_args(tmp_path, tiny_model), "field 'data_dir'", str(tmp_path / "data"),
                  "not a directory", clean=clean)


def test_faults_missing_model_directory(tmp_path, data_dir, capsys, clean):
    fails_cleanly(capsys, run_args(tmp_path, tmp_path / "no-model"), "no-model", clean=clean)
