"""Chunked exact top-k: equals brute force, independent of chunk size, ties by id rank."""

from __future__ import annotations

import numpy as np
import pytest

from harness.search import chunk_for, rerank, top_k


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean_jmteb_retrieval", "euclidean"])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_top_k_equals_brute_force_with_ties(similarity, chunk):
    rng = np.random.default_rng(0)
    # integer-valued vectors produce many exact score ties
    q = rng.integers(-2, 3, size=(9, 4)).astype(np.float32)
    d = rng.integers(-2, 3, size=(50, 4)).astype(np.float32)
    tie = rng.permutation(50)
    idx, scores = top_k(q, d, 10, similarity, chunk_size=chunk, tie_rank=tie, device="cpu")
    if similarity == "cosine":
        full = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (d / np.linalg.norm(d, axis=1, keepdims=True)).T
    elif similarity == "dot":
        full = q @ d.T
    elif similarity == "euclidean":
        full = -np.linalg.norm(q[:, None] - d[None], axis=2)
    else:
        full = 100 / (np.linalg.norm(q[:, None] - d[None], axis=2) + 1e-4)
    full = full.astype(np.float32)
    for row in range(q.shape[0]):
        expected = sorted(range(50), key=lambda j: (-float(full[row, j]), tie[j]))[:10]
        assert np.allclose(scores[row], full[row, expected], atol=1e-5)
        if similarity != "cosine":  # integer dot products and distances tie exactly in any BLAS order
            assert list(idx[row]) == expected
    # cosine "ties" of parallel vectors differ in the last float32 bit (normalisation, BLAS blocking), so
    # only their scores are compared; exact ties (dot, distances) are ordered by tie rank in any chunking.


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean_jmteb_retrieval"])
def test_chunking_and_the_memory_cap_never_change_indices_or_scores(similarity):
    # Float data (no planted ties): every chunking must give bit-identical scores and the same order, so
    # capping JMTEB's 1,000,000-document chunk to fit memory cannot move a published number.
    rng = np.random.default_rng(3)
    q = rng.standard_normal((37, 48)).astype(np.float32)
    d = rng.standard_normal((5000, 48)).astype(np.float32)
    whole = top_k(q, d, 100, similarity, chunk_size=1_000_000, device="cpu")
    # (Only the document axis is cut by the cap. The query batch is fixed: BLAS picks another kernel for a
    # 5-row product and the last bits move, which is why query_batch is not a memory knob.)
    for kwargs in ({"chunk_size": 777}, {"chunk_size": 10}, {"chunk_size": 1_000_000, "max_score_bytes": 37 * 4 * 300}):
        idx, scores = top_k(q, d, 100, similarity, device="cpu", **kwargs)
        assert np.array_equal(idx, whole[0]) and np.array_equal(scores, whole[1])


def test_boundary_ties_wider_than_k_survive_every_chunk():
    # 30 identical documents, k=5: each chunk's topk cuts the tie arbitrarily; the tie rank must decide.
    d = np.ones((30, 2), dtype=np.float32)
    tie = np.random.default_rng(0).permutation(30)
    for chunk in (4, 7, 30):
        idx, _ = top_k(np.ones((2, 2), dtype=np.float32), d, 5, "dot", chunk_size=chunk, tie_rank=tie, device="cpu")
        assert [list(row) for row in idx] == [list(np.argsort(tie)[:5])] * 2


def test_chunk_for_caps_the_score_block():
    assert chunk_for(1_000_000, 4096, 100) == 256 * 2**20 // (4 * 4096)  # 16,384 documents
    assert chunk_for(1_000_000, 10, 100) == 1_000_000  # few queries: the task's chunk fits
    assert chunk_for(50, 4096, 100, max_score_bytes=1) == 100  # never below k


def test_top_k_k_larger_than_corpus():
    q = np.eye(3, dtype=np.float32)
    d = np.eye(3, dtype=np.float32)[:2]
    idx, _ = top_k(q, d, 10, "dot", device="cpu")
    assert idx.shape == (3, 2)
    assert list(idx[0]) == [0, 1] and list(idx[1]) == [1, 0]


def test_rerank_orders_candidates_and_breaks_ties_by_rank():
    query = np.array([1.0, 0.0], dtype=np.float32)
    cands = np.array([[0.5, 0], [1, 0], [0.5, 0], [0, 1]], dtype=np.float32)
    order = rerank(query, cands, "dot", tie_rank=np.array([3, 0, 1, 2]))
    assert list(order) == [1, 2, 0, 3]
