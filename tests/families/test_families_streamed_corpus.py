"""Streamed corpora (`encode.storage_dtype` set): rows read block by block, the corpus never materialised as
rows or texts, and every retrieval protocol scoring exactly as the in-memory path."""

from __future__ import annotations

import json
import math

import pytest

from harness.data import DataSource
from harness.errors import HarnessError
from harness.families.base import Context
from harness.families.corpus import StreamedCorpus, stream_corpus
from tests.conftest import refuse_corpus_rows

STREAMED = {"storage_dtype": "float32"}


def vec(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


@pytest.fixture
def no_corpus_rows(monkeypatch):
    refuse_corpus_rows(monkeypatch)


def both_ways(tiny, task, vectors, protocol, monkeypatch):
    """The outcome in memory, then streamed with DataSource.rows refusing the corpus; asserts they agree."""
    in_memory = tiny.run(task, vectors, protocol=protocol)
    with monkeypatch.context() as patch:
        refuse_corpus_rows(patch)
        streamed = tiny.run(task, vectors, protocol=protocol, notes=STREAMED)
    assert streamed == in_memory
    return streamed


def test_streamed_jmteb_selects_and_scores_like_in_memory(tiny, monkeypatch):
    corpus = [{"docid": f"d{i}", "title": f"t{i}", "text": f"x{i}"} for i in range(6)]
    queries = [{"qid": f"q{i}", "query": f"q{i}", "relevant_docs": [f"d{i}", f"d{5 - i}"]} for i in range(3)]
    task = tiny.make("jr", "retrieval", "Retrieval", {"test": queries, "corpus": corpus},
                     splits={"validation": "test", "test": "test"}, params={"doc_text": "title_text"})
    vectors = {f"q{i}": vec(20 * i) for i in range(3)} | {f"t{i} x{i}": vec(13 * i) for i in range(6)}
    out = both_ways(tiny, task, vectors, "jmteb", monkeypatch)
    assert 0 < out.metric_value < 1


def test_streamed_nanobeir_drops_empty_documents_like_in_memory(tiny, monkeypatch):
    corpus = [{"_id": "d1", "text": "one"}, {"_id": "d2", "text": ""}, {"_id": "d3", "text": "three"}]
    queries = [{"_id": "q1", "text": "first"}, {"_id": "q3", "text": "third"}]
    qrels = [{"query-id": "q1", "corpus-id": "d1", "score": 1}, {"query-id": "q1", "corpus-id": "d2", "score": 1},
             {"query-id": "q3", "corpus-id": "d3", "score": 0}]
    task = tiny.make("nano", "retrieval", "Retrieval", {"corpus": corpus, "queries": queries, "qrels": qrels},
                     protocols={"nanobeir": {"name": "NanoTest"}}, schema="beir")
    vectors = {"first": vec(0), "third": vec(0), "one": vec(10), "three": vec(5)}
    out = both_ways(tiny, task, vectors, "nanobeir", monkeypatch)
    assert out.details["documents"] == 2  # d2 dropped, still relevant to q1


def test_streamed_card_pool_and_min_grade_like_in_memory(tiny, monkeypatch):
    corpus = [{"docid": f"d{i}", "text": f"d{i}"} for i in range(5)]
    queries = [{"qid": "a", "query": "qa", "relevant_docs": {"d3": 1, "d0": 0}},
               {"qid": "b", "query": "qb", "relevant_docs": {"d1": 2}}]
    pool = [{"qid": "a", "docs": ["d3", "d4"]}, {"qid": "b", "docs": ["d0", "d1"]}]
    task = tiny.make("miracl", "retrieval", "Retrieval", {"dev": queries, "corpus": corpus, "pool": pool},
                     splits={"test": "dev"}, protocols={"card": {"main_metric": "recall@1", "pool": "pool"}})
    vectors = {"qa": vec(0), "qb": vec(0), "d0": vec(1), "d1": vec(2), "d2": vec(3), "d3": vec(20), "d4": vec(10)}
    out = both_ways(tiny, task, vectors, "card", monkeypatch)
    assert out.metric_value == 0.0 and out.details["test_scores"]["cosine"]["mrr@10"] == 0.5


def test_streamed_answer_match_reads_back_only_the_ranked_texts(tiny, monkeypatch):
    corpus = [{"docid": f"p{i}", "title": "山", "text": f"本文{i}"} for i in range(8)]
    corpus[6]["text"] = "エベレストが最高峰"
    questions = [{"qid": "1", "query": "世界一高い山は", "answers": ["エベレスト"]}]
    task = tiny.make("aio", "retrieval", "Retrieval", {"dev": questions, "corpus": corpus}, splits={"test": "dev"},
                     protocols={"card": {"relevance": "answer_match", "main_metric": "accuracy@1",
                                         "accuracy_at": [1, 2]}}, params={"doc_text": "title_text"})
    vectors = {"世界一高い山は": vec(0)} | {f"山 {row['text']}": vec(1 + 3 * i) for i, row in enumerate(corpus)}
    vectors["山 エベレストが最高峰"] = vec(2)  # ranked second
    asked = []
    texts_at = StreamedCorpus.texts_at

    def spy(self, positions):
        positions = list(positions)
        asked.append(positions)
        return texts_at(self, positions)

    monkeypatch.setattr(StreamedCorpus, "texts_at", spy)
    out = both_ways(tiny, task, vectors, "card", monkeypatch)
    assert out.metric_value == 0.0 and out.details["test_scores"]["cosine"]["accuracy@2"] == 1.0
    assert asked == [[0, 6]]  # the top 2 of the one question, not the 8 texts


def _write(path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _task(tiny, corpus_lines: list[str]):
    task = tiny.make("jr", "retrieval", "Retrieval", {"test": [{"qid": "q", "query": "q", "relevant_docs": ["d0"]}]},
                     splits={"test": "test"}, protocols={"card": {}})
    _write(tiny.root / "data" / "jr" / "corpus.jsonl", corpus_lines)
    return task, tiny.root / "data" / "jr" / "corpus.jsonl"


def _ctx(tiny) -> Context:
    return Context(data=DataSource(tiny.root / "data"), encoder=None, **STREAMED)


def test_streamed_duplicate_id_names_its_file_line(tiny, no_corpus_rows):
    rows = [json.dumps({"docid": f"d{i}", "text": f"t{i}"}) for i in range(4)]
    task, path = _task(tiny, [rows[0], "", rows[1], rows[2], json.dumps({"docid": "d1", "text": "again"}), rows[3]])
    with pytest.raises(HarnessError, match=f"^{path}:5: duplicate document id 'd1' in column 'docid'$"):
        stream_corpus(task, _ctx(tiny), "text")


def test_streamed_corpus_of_empty_documents_is_empty(tiny, no_corpus_rows):
    task, path = _task(tiny, [json.dumps({"docid": "d0", "text": ""})])
    with pytest.raises(HarnessError, match=f"^{path}: the corpus of task jr is empty$"):
        stream_corpus(task, _ctx(tiny), "text", drop_empty=True)


def test_streamed_corpus_that_changes_between_reads_fails_naming_the_line(tiny, no_corpus_rows):
    rows = [json.dumps({"docid": f"d{i}", "text": f"t{i}"}) for i in range(3)]
    task, path = _task(tiny, rows)
    corpus, _ = stream_corpus(task, _ctx(tiny), "text")
    _write(path, [rows[0], rows[2], rows[1]])
    with pytest.raises(HarnessError, match=f"^{path}:2: the corpus changed while it was being read"):
        list(corpus.stream_texts())
    _write(path, rows[:2])
    with pytest.raises(HarnessError, match=f"^{path}: the corpus changed .*2 documents, the first read had 3"):
        list(corpus.stream_texts())


def test_iter_rows_reads_local_blocks_with_line_numbers_and_provenance(tiny):
    rows = [json.dumps({"docid": f"d{i}", "text": f"t{i}"}) for i in range(5)]
    task, _ = _task(tiny, [*rows[:2], "", *rows[2:]])  # a blank line 3
    streamed = DataSource(tiny.root / "data")
    blocks = list(streamed.iter_rows(task, "corpus", ("docid", "text"), block=2))
    assert [[line for line, _ in b] for b in blocks] == [[1, 2], [4, 5], [6]]
    whole = DataSource(tiny.root / "data")
    assert [row for b in blocks for _, row in b] == whole.rows(task, "corpus", ("docid", "text"))
    assert streamed.provenance == whole.provenance
    assert streamed.provenance["jr"]["corpus"]["rows"] == 5


@pytest.mark.parametrize("lines, message", [
    (['{"docid": "d0", "text": "a"}', '{"docid": "d1"'], r":2: line is not valid JSON"),
    (['{"docid": "d0", "text": "a"}', '[1]'], r":2: line is not a JSON object"),
    (['{"docid": "d0", "text": "a"}', '{"docid": "d1"}'], r":2: missing column 'text'$"),
    (['{"docid": "d0"}'], r": missing column 'text' \(task jr, columns present: docid\)$"),
    ([], r": is empty \(no rows for task jr, corpus\)$"),
])
def test_iter_rows_fails_as_rows_does(tiny, lines, message):
    task, path = _task(tiny, lines)
    for read in (lambda s: s.rows(task, "corpus", ("docid", "text")),
                 lambda s: list(s.iter_rows(task, "corpus", ("docid", "text")))):
        with pytest.raises(HarnessError, match=f"^{path}{message}"):
            read(DataSource(tiny.root / "data"))


def test_iter_rows_reads_the_hub_in_arrow_batches(tmp_path, monkeypatch):
    import datasets

    from harness.taskspec import load_task

    rows = [{"docid": f"d{i}", "title": "", "text": f"t{i}", "extra": {"k": [i]}} for i in range(7)]
    monkeypatch.setattr("harness.data.hub_reachable", lambda: True)
    monkeypatch.setattr("harness.data.resolve", lambda *a, **k: "c" * 40)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: datasets.Dataset.from_list(rows))
    task = load_task("jaqket")
    streamed, whole = DataSource(None), DataSource(None)
    blocks = list(streamed.iter_rows(task, "corpus", ("docid", "text"), block=3))
    assert [len(b) for b in blocks] == [3, 3, 1] and [line for line, _ in blocks[-1]] == [7]
    assert [row for b in blocks for _, row in b] == whole.rows(task, "corpus", ("docid", "text")) == rows
    assert streamed.provenance == whole.provenance and streamed.provenance["jaqket"]["corpus"]["rows"] == 7


def test_iter_rows_offline_hub_fails_fast_as_rows_does(monkeypatch):
    from harness.taskspec import load_task

    monkeypatch.setattr("harness.data.hub_reachable", lambda: False)
    task = load_task("jaqket")
    with pytest.raises(HarnessError, match="Hugging Face Hub is unreachable"):
        list(DataSource(None).iter_rows(task, "corpus", ("docid", "text")))
