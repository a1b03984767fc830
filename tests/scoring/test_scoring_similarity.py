from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.metrics.pairwise import (
    cosine_similarity,
    paired_cosine_distances,
    paired_euclidean_distances,
    paired_manhattan_distances,
)

from harness.scoring import similarity

A = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
B = np.array([[4.0, 3.0], [0.0, 1.0], [1.0, 1.0]])


def test_paired_hand_values():
    # row 0: cos = (3*4 + 4*3) / (5*5) = 24/25 = 0.96; L1 = |3-4|+|4-3| = 2; L2 = sqrt(1+1); dot = 24
    # row 1: orthogonal -> cos 0; L1 = 2; L2 = sqrt 2; dot 0
    # row 2: zero vector -> cos defined as 0; L1 = 2; L2 = sqrt 2; dot 0
    np.testing.assert_allclose(similarity.paired(A, B, "cosine"), [0.96, 0.0, 0.0])
    np.testing.assert_allclose(similarity.paired(A, B, "manhattan"), [-2.0, -2.0, -2.0])
    np.testing.assert_allclose(similarity.paired(A, B, "euclidean"), [-np.sqrt(2)] * 3)
    np.testing.assert_allclose(similarity.paired(A, B, "dot"), [24.0, 0.0, 0.0])
    # JMTEB's "euclidean" is -sum(sqrt((a-b)^2)) = -sum|a-b| = -2, i.e. Manhattan, not -sqrt(2)
    np.testing.assert_allclose(similarity.paired(A, B, "euclidean_jmteb"), [-2.0, -2.0, -2.0])


def test_paired_against_sklearn_and_torch():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 16)).astype(np.float32)
    b = rng.normal(size=(50, 16)).astype(np.float32)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_allclose(similarity.paired(a, b, "cosine"), 1 - paired_cosine_distances(a64, b64), atol=1e-12)
    np.testing.assert_allclose(similarity.paired(a, b, "manhattan"), -paired_manhattan_distances(a64, b64), rtol=1e-12)
    np.testing.assert_allclose(similarity.paired(a, b, "euclidean"), -paired_euclidean_distances(a64, b64), rtol=1e-12)
    np.testing.assert_allclose(similarity.paired(a, b, "dot"), (a64 * b64).sum(1), rtol=1e-12)
    # JMTEB's bug expressed with the torch ops it uses: -sqrt(square(e2 - e1)).sum(dim=1)
    ta, tb = torch.from_numpy(a64), torch.from_numpy(b64)
    jmteb = (-torch.sqrt(torch.square(tb - ta)).sum(dim=1)).numpy()
    np.testing.assert_allclose(similarity.paired(a, b, "euclidean_jmteb"), jmteb, rtol=1e-12)
    # JMTEB's cosine: F.normalize then row dot; its eps keeps zero vectors at 0
    za = np.vstack([a64, np.zeros((1, 16))])
    zb = np.vstack([b64, b64[:1]])
    ref = (torch.nn.functional.normalize(torch.from_numpy(za)) * torch.nn.functional.normalize(torch.from_numpy(zb))).sum(1)
    np.testing.assert_allclose(similarity.paired(za, zb, "cosine"), ref.numpy(), atol=1e-12)
    assert similarity.paired(a, b, "cosine").dtype == np.float64


def test_matrix_hand_values():
    q = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    d = np.array([[1.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    # cos(q0,d0)=1, cos(q0,d1)=3/5, cos(q1,d0)=0, cos(q1,d1)=8/(2*5)=0.8
    np.testing.assert_allclose(similarity.matrix(q, d, "cosine"), [[1.0, 0.6], [0.0, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(similarity.matrix(q, d, "dot"), [[1.0, 3.0], [0.0, 8.0]])
    # L2: |q0-d0|=0, |q0-d1|=sqrt(4+16)=sqrt20, |q1-d0|=sqrt(1+4)=sqrt5, |q1-d1|=sqrt(9+4)=sqrt13
    dist = np.array([[0.0, np.sqrt(20)], [np.sqrt(5), np.sqrt(13)]])
    np.testing.assert_allclose(similarity.matrix(q, d, "euclidean"), -dist, rtol=1e-6)
    # JMTEB retrieval: 100 / (dist + 1e-4) -> identical vectors score 100/1e-4 = 1e6
    np.testing.assert_allclose(similarity.matrix(q, d, "euclidean_jmteb_retrieval"), 100 / (dist + 1e-4), rtol=1e-6)
    assert similarity.matrix(q, d, "cosine").dtype == np.float32


def test_matrix_against_references():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(7, 12)).astype(np.float32)
    d = rng.normal(size=(40, 12)).astype(np.float32)
    d[3] = 0.0  # zero doc: sklearn cosine_similarity defines it as 0 as well
    q64, d64 = q.astype(np.float64), d.astype(np.float64)
    np.testing.assert_allclose(similarity.matrix(q, d, "cosine"), cosine_similarity(q64, d64), atol=1e-6)
    np.testing.assert_allclose(similarity.matrix(q, d, "dot"), q64 @ d64.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(similarity.matrix(q, d, "euclidean"), -cdist(q64, d64), rtol=1e-6)
    jmteb = (100 / (torch.cdist(torch.from_numpy(q64), torch.from_numpy(d64)) + 1e-4)).numpy()
    np.testing.assert_allclose(similarity.matrix(q, d, "euclidean_jmteb_retrieval"), jmteb, rtol=1e-6)
    # float64 in -> float64 out, matching scipy to round-off
    np.testing.assert_allclose(similarity.matrix(q64, d64, "euclidean"), -cdist(q64, d64), rtol=1e-12)


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="euclidean_jmteb_retrieval"):
        similarity.matrix(A, B, "manhattan")
    with pytest.raises(ValueError, match="euclidean_jmteb"):
        similarity.paired(A, B, "cos")
    assert set(similarity.PAIRED_NAMES) == {"cosine", "manhattan", "euclidean_jmteb", "euclidean", "dot"}
    assert set(similarity.MATRIX_NAMES) == {"cosine", "dot", "euclidean_jmteb_retrieval", "euclidean"}
