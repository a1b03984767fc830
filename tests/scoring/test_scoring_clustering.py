from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import completeness_score, homogeneity_score, v_measure_score

from harness.scoring.clustering import cluster_scores


def test_perfect_clustering_with_renamed_clusters():
    out = cluster_scores([0, 0, 1, 1, 2], [5, 5, 3, 3, 9])
    assert out == {"v_measure_score": 1.0, "homogeneity_score": 1.0, "completeness_score": 1.0}


def test_hand_entropies():
    # true C = 0,0,1,1 ; pred K = 0,0,0,1   (natural logs; base cancels in the ratios)
    # H(C) = ln2 = .693147 ; H(K) = -(.75 ln .75 + .25 ln .25) = .562335
    # H(C|K): cluster 0 holds (0,0,1) -> H(2/3,1/3) = .636514, weight 3/4 -> .477386 ; cluster 1 pure
    # H(K|C): class 0 -> both in cluster 0 -> 0 ; class 1 -> split 1/1 -> ln2, weight 1/2 -> .346574
    # h = 1 - .477386/.693147 = .311278 ; c = 1 - .346574/.562335 = .383690 ; v = 2hc/(h+c) = .343711
    h_c = math.log(2)
    h_k = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    h_c_given_k = 0.75 * -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    h_k_given_c = 0.5 * math.log(2)
    h = 1 - h_c_given_k / h_c
    c = 1 - h_k_given_c / h_k
    v = 2 * h * c / (h + c)
    out = cluster_scores([0, 0, 1, 1], [0, 0, 0, 1])
    assert math.isclose(out["homogeneity_score"], h, rel_tol=1e-12)
    assert math.isclose(out["completeness_score"], c, rel_tol=1e-12)
    assert math.isclose(out["v_measure_score"], v, rel_tol=1e-12)
    assert math.isclose(v, 0.343711, abs_tol=1e-6)


def test_vs_sklearn_random():
    rng = np.random.default_rng(0)
    for _ in range(5):
        t = rng.integers(0, 9, size=500)
        p = np.where(rng.random(500) < 0.5, t, rng.integers(0, 9, size=500))
        out = cluster_scores(t, p)
        assert math.isclose(out["homogeneity_score"], homogeneity_score(t, p), rel_tol=1e-12)
        assert math.isclose(out["completeness_score"], completeness_score(t, p), rel_tol=1e-12)
        assert math.isclose(out["v_measure_score"], v_measure_score(t, p), rel_tol=1e-12)
