"""Corpora on disk: memmap input to top_k, float16 storage, block-wise encoding, the config field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.cli import main
from harness.config import compose, plan
from harness.errors import HarnessError
from harness.search import top_k
from harness.store import encode_to_disk
from tests.conftest import refuse_corpus_rows
from tests.scale.test_torchrun import _make_data


def _separated_case(seed: int = 0):
    """Unit-norm documents; each query's 20 best are planted at cosines 0.95, 0.93, ... 0.57 (random ones stay
    below 0.5 in 64 dimensions), so every similarity ranks them the same and no gap is near float16 rounding."""
    rng = np.random.default_rng(seed)
    dim, n_docs, n_queries = 64, 3000, 8
    d = rng.standard_normal((n_docs, dim))
    q = rng.standard_normal((n_queries, dim))
    q *= (1.0 + np.arange(n_queries))[:, None] / np.linalg.norm(q, axis=1, keepdims=True)  # varied query norms
    slots = rng.permutation(n_docs)[:20 * n_queries].reshape(n_queries, 20)
    for i in range(n_queries):
        unit = q[i] / np.linalg.norm(q[i])
        for j, slot in enumerate(slots[i]):
            noise = rng.standard_normal(dim)
            noise -= noise @ unit * unit
            cos = 0.95 - 0.02 * j
            d[slot] = cos * unit + np.sqrt(1 - cos**2) * noise / np.linalg.norm(noise)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return q.astype(np.float32), d.astype(np.float32), slots


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean_jmteb_retrieval"])
def test_memmap_and_float16_storage_give_the_in_memory_top_k(tmp_path, similarity):
    q, d, planted = _separated_case()
    expected_idx, expected_scores = top_k(q, d, 20, similarity, chunk_size=700, device="cpu")
    assert np.array_equal(expected_idx, planted)
    blocks = []

    def encode(texts):
        blocks.append(len(texts))
        return d[[int(t) for t in texts]]

    texts = [str(i) for i in range(len(d))]
    stored32 = encode_to_disk(encode, texts, "float32", block=1024)
    assert blocks == [1024, 1024, 952] and isinstance(stored32, np.memmap)
    assert np.array_equal(np.asarray(stored32), d)  # float32 storage is lossless
    idx, scores = top_k(q, stored32, 20, similarity, chunk_size=700, device="cpu")
    assert np.array_equal(idx, expected_idx) and np.array_equal(scores, expected_scores)

    stored16 = encode_to_disk(encode, texts, "float16", block=1024)
    assert stored16.dtype == np.float16 and np.array_equal(np.asarray(stored16), d.astype(np.float16))
    idx16, scores16 = top_k(q, stored16, 20, similarity, chunk_size=700, device="cpu")
    assert np.array_equal(idx16, expected_idx)  # same documents in the same order
    assert np.abs(scores16 - expected_scores).max() < 1e-2 * max(1.0, np.abs(expected_scores).max())


def test_float16_overflow_is_one_clear_error():
    with pytest.raises(HarnessError, match="encode.storage_dtype.*overflow float16"):
        encode_to_disk(lambda texts: np.full((len(texts), 2), 1e6, np.float32), ["a", "b"], "float16")


def test_storage_dtype_is_validated():
    assert plan(compose(["encode.storage_dtype=float16", "tasks=[jsts]"])).storage_dtype == "float16"
    with pytest.raises(HarnessError, match="encode.storage_dtype.*unknown storage dtype 'int8'"):
        plan(compose(["encode.storage_dtype=int8", "tasks=[jsts]"]))


def test_encode_to_disk_takes_a_stream_of_texts_with_its_total():
    vectors = np.arange(10, dtype=np.float32).reshape(5, 2)
    blocks = []

    def encode(texts):
        blocks.append(list(texts))
        return vectors[[int(t) for t in texts]]

    stored = encode_to_disk(encode, (str(i) for i in range(5)), "float32", block=2, total=5)
    assert blocks == [["0", "1"], ["2", "3"], ["4"]] and np.array_equal(np.asarray(stored), vectors)
    for wrong in (4, 6):  # a stream that does not hold `total` texts is a caller's bug, never a short file
        with pytest.raises(ValueError, match="total"):
            encode_to_disk(encode, (str(i) for i in range(5)), "float32", block=2, total=wrong)


@pytest.mark.parametrize("protocol", ["jmteb", "mteb"])
def test_run_with_float32_storage_streams_the_corpus_and_scores_like_in_memory(tmp_path, tiny_model, monkeypatch,
                                                                               protocol):
    data = tmp_path / "data"
    _make_data(data)
    common = [f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jaquad_retrieval]", f"protocol={protocol}",
              "encode.show_progress=false", "encode.dtype=float32", "cache=false"]
    assert main(["run", *common, f"output_dir={tmp_path / 'mem'}"]) == 0
    refuse_corpus_rows(monkeypatch)
    assert main(["run", *common, f"output_dir={tmp_path / 'disk'}", "encode.storage_dtype=float32"]) == 0
    mem, disk = (json.loads((tmp_path / o / "Retrieval" / "scores_jaquad_retrieval.json").read_text())
                 for o in ("mem", "disk"))
    # 75 documents fit one block, planned exactly as in memory: the same vectors, rankings and scores
    assert disk["details"] == mem["details"]  # test scores and the per-query values
    assert disk["metric_value"] == mem["metric_value"]
    # the corpus, read twice (ids, then texts), is recorded as rows() records it
    assert disk["provenance"]["dataset"] == mem["provenance"]["dataset"]
    assert disk["provenance"]["dataset"]["parts"]["corpus"]["rows"] == 75
