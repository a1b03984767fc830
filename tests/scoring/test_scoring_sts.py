from __future__ import annotations

import math

import numpy as np
from scipy import stats

from harness.scoring.sts import correlations


def test_hand_values():
    # gold 1,2,3,4 (mean 2.5, deviations -1.5,-.5,.5,1.5); pred 1,3,2,4 (deviations -1.5,.5,-.5,1.5)
    # cov sum = 2.25 - .25 - .25 + 2.25 = 4; each sum of squares = 5 -> pearson = 4/5 = 0.8
    # values are already ranks, so spearman = 0.8 too
    out = correlations([1, 2, 3, 4], np.array([1.0, 3.0, 2.0, 4.0]))
    assert math.isclose(out["pearson"], 0.8, rel_tol=1e-12)
    assert math.isclose(out["spearman"], 0.8, rel_tol=1e-12)


def test_hand_values_with_tied_predictions():
    # pred 1,1,2 -> average ranks 1.5,1.5,3; gold ranks 1,2,3 (deviations -1,0,1)
    # rank deviations -.5,-.5,1: cov = .5+0+1 = 1.5; ss 2 and 1.5 -> 1.5/sqrt(3) = 0.866025
    out = correlations([1.0, 2.0, 3.0], np.array([1.0, 1.0, 2.0]))
    assert math.isclose(out["spearman"], 1.5 / math.sqrt(3), rel_tol=1e-12)


def test_constant_prediction_gives_zero_not_nan():
    out = correlations([1.0, 2.0, 3.0], np.zeros(3))
    assert out == {"pearson": 0.0, "spearman": 0.0}


def test_against_scipy_random_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        gold = rng.integers(0, 6, size=200).astype(float)  # JSTS-like 0..5 with many ties
        pred = np.round(gold + rng.normal(size=200), 1).astype(np.float32)
        out = correlations(gold.tolist(), pred)
        assert out["pearson"] == float(stats.pearsonr(gold, pred.astype(np.float64))[0])
        assert out["spearman"] == float(stats.spearmanr(gold, pred.astype(np.float64))[0])
        assert isinstance(out["pearson"], float) and isinstance(out["spearman"], float)
