"""Paired similarities (harness.pairwise): hand-worked values, and bit-for-bit equality with the operations of
the evaluators they reproduce (JMTEB's STS PairwiseSimilarities, sentence-transformers' pairwise_*, sklearn's
paired distances as JMTEB's pair classification calls them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers.util import pairwise_cos_sim, pairwise_dot_score
from sklearn.metrics.pairwise import paired_cosine_distances, paired_euclidean_distances, \
    paired_manhattan_distances

from harness.errors import HarnessError
from harness.pairwise import pair_scores, sts_similarity

A = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
B = np.array([[4.0, 3.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)


def test_sts_hand_values():
    # row 0: cos = 24/25; L1 = 2; L2 = sqrt 2; dot 24. row 1: orthogonal. row 2: zero vector -> cos 0.
    np.testing.assert_allclose(sts_similarity(A, B, "cosine"), [0.96, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(sts_similarity(A, B, "manhattan"), [-2.0, -2.0, -2.0])
    np.testing.assert_allclose(sts_similarity(A, B, "euclidean"), [-np.sqrt(2)] * 3, rtol=1e-6)
    np.testing.assert_allclose(sts_similarity(A, B, "dot"), [24.0, 0.0, 0.0])
    # JMTEB's "euclidean" is -sum(sqrt((a-b)^2)) = -sum|a-b|: Manhattan, not -sqrt 2
    np.testing.assert_allclose(sts_similarity(A, B, "euclidean_jmteb"), [-2.0, -2.0, -2.0])
    assert sts_similarity(A, B, "cosine").dtype == np.float32


def test_sts_equals_reference_ops_bit_for_bit():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 64)).astype(np.float32)
    b = rng.normal(size=(200, 64)).astype(np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert np.array_equal(sts_similarity(a, b, "cosine"), pairwise_cos_sim(ta, tb).numpy())
    assert np.array_equal(sts_similarity(a, b, "dot"), pairwise_dot_score(ta, tb).numpy())
    jmteb_euclid = (-torch.sqrt(torch.square(tb - ta)).sum(dim=1)).numpy()  # JMTEB's own expression
    assert np.array_equal(sts_similarity(a, b, "euclidean_jmteb"), jmteb_euclid)
    assert np.array_equal(sts_similarity(a, b, "manhattan"), (-abs(tb - ta).sum(dim=1)).numpy())


def test_pair_scores_hand_values_and_sklearn():
    # sklearn's paired cosine distance is 0.5 * ||a/|a| - b/|b|||^2 with a zero vector left at zero, so a zero
    # row scores 1 - 0.5 * (0 + 1) = 0.5 in JMTEB's pair classification (not 0 as in its STS cosine).
    np.testing.assert_allclose(pair_scores(A, B, "cosine"), [0.96, 0.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(pair_scores(A, B, "manhattan"), [2.0, 2.0, 2.0])  # distances stay positive
    np.testing.assert_allclose(pair_scores(A, B, "euclidean"), [np.sqrt(2)] * 3, rtol=1e-6)
    np.testing.assert_allclose(pair_scores(A, B, "dot"), [24.0, 0.0, 0.0])
    rng = np.random.default_rng(1)
    a = rng.normal(size=(100, 32)).astype(np.float32)
    b = rng.normal(size=(100, 32)).astype(np.float32)
    assert np.array_equal(pair_scores(a, b, "cosine"), 1 - paired_cosine_distances(a, b))
    assert np.array_equal(pair_scores(a, b, "manhattan"), paired_manhattan_distances(a, b))
    assert np.array_equal(pair_scores(a, b, "euclidean"), paired_euclidean_distances(a, b))
    bmm = torch.bmm(torch.from_numpy(a).unsqueeze(1), torch.from_numpy(b).unsqueeze(2)).reshape(-1).numpy()
    assert np.array_equal(pair_scores(a, b, "dot"), bmm)


def test_unknown_names_list_valid_ones():
    with pytest.raises(HarnessError, match="euclidean_jmteb"):
        sts_similarity(A, B, "cos")
    with pytest.raises(HarnessError, match="manhattan"):
        pair_scores(A, B, "euclidean_jmteb")
