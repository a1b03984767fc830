"""Bad retrieval input with a streamed corpus (`encode.storage_dtype` set): one line naming the file (and line),
exit 2, the encoder never called, nothing written - the corpus is checked in its first, ids-only pass."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.cache import CachedEncoder
from tests.faults.conftest import fails_cleanly, run_args
from tests.faults.test_faults_inputs import set_field

STREAMED = ("encode.storage_dtype=float16",)


@pytest.fixture
def encodes(monkeypatch) -> list[str]:
    """The role of every encode call a family makes (run_args turns the embedding cache on, so every call
    goes through CachedEncoder)."""
    calls = []
    encode = CachedEncoder.encode

    def spy(self, texts, side):
        calls.append(side.role)
        return encode(self, texts, side)

    monkeypatch.setattr(CachedEncoder, "encode", spy)
    return calls


def fails_before_encoding(tmp_path, model, capsys, encodes, *needles: str) -> None:
    fails_cleanly(capsys, run_args(tmp_path, model, *STREAMED, tasks="[jaquad_retrieval]"), *needles,
                  clean=(tmp_path / "out", tmp_path / "cache"))
    assert encodes == []


def test_streamed_relevant_document_missing_from_corpus(tmp_path, tiny_model, data_dir, capsys, encodes):
    path = set_field(data_dir / "jaquad_retrieval" / "test.jsonl", 1, "relevant_docs", ["d1", "d999"])
    fails_before_encoding(tmp_path, tiny_model, capsys, encodes, str(path), "'q1'", "'d999'", "not in the corpus")


def test_streamed_duplicate_document_ids(tmp_path, tiny_model, data_dir, capsys, encodes):
    path = set_field(data_dir / "jaquad_retrieval" / "corpus.jsonl", 7, "docid", "d2")
    fails_before_encoding(tmp_path, tiny_model, capsys, encodes, f"{path}:8:", "duplicate document id 'd2'")


@pytest.mark.parametrize("tail, needle", [("[1, 2]\n", ":21: line is not a JSON object"),
                                          ('{"docid": "d20", "te\n', ":21: line is not valid JSON"),
                                          ('{"docid": "d20"}\n', ":21: missing column 'text'")])
def test_streamed_bad_last_corpus_line(tmp_path, tiny_model, data_dir, capsys, encodes, tail, needle):
    path = data_dir / "jaquad_retrieval" / "corpus.jsonl"
    path.write_text(path.read_text() + tail)
    fails_before_encoding(tmp_path, tiny_model, capsys, encodes, f"{path}{needle}")


def test_streamed_corpus_not_utf8(tmp_path, tiny_model, data_dir, capsys, encodes):
    path = data_dir / "jaquad_retrieval" / "corpus.jsonl"
    path.write_bytes(path.read_text().encode("shift_jis"))
    fails_before_encoding(tmp_path, tiny_model, capsys, encodes, str(path), "not UTF-8")


def test_streamed_empty_corpus(tmp_path, tiny_model, data_dir, capsys, encodes):
    path = data_dir / "jaquad_retrieval" / "corpus.jsonl"
    path.write_text("\n")
    fails_before_encoding(tmp_path, tiny_model, capsys, encodes, str(path), "is empty")


def test_streamed_valid_run_is_seen_encoding(tmp_path, tiny_model, data_dir, encodes):
    """The control: the spy above does see the encodes of a good streamed run."""
    assert main(run_args(tmp_path, tiny_model, *STREAMED, tasks="[jaquad_retrieval]")) == 0
    assert encodes[0] == "document" and set(encodes[1:]) == {"query"}
