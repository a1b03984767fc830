from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, f1_score

from harness.scoring.pair_classification import apply_thresholds, average_precision, threshold_search

SIMS = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
LABELS = np.array([1, 1, 0, 1, 0, 0])


def test_threshold_search_hand_example():
    # 3 positives, 3 negatives; cut i predicts the first i+1 rows positive:
    # i=0: acc (1 pos + 3 neg left)/6 = .6667 ; P=1,   R=1/3 -> F1 = 2/(1+3)     = .5
    # i=1: acc (2+3)/6 = .8333              ; P=1,   R=2/3 -> F1 = 2/(1+1.5)   = .8
    # i=2: acc (2+2)/6 = .6667              ; P=2/3, R=2/3 -> F1 = .6667
    # i=3: acc (3+2)/6 = .8333 (tie, i=1 kept); P=3/4, R=1 -> F1 = 2/(4/3+1) = .857143
    # i=4: acc (3+1)/6 = .6667              ; P=3/5, R=1   -> F1 = 2/(5/3+1) = .75
    # best acc at i=1 -> thr (0.8+0.7)/2 = 0.75 ; best F1 at i=3 -> thr (0.6+0.5)/2 = 0.55
    out = threshold_search(SIMS, LABELS, higher_is_similar=True)
    assert math.isclose(out["accuracy"], 5 / 6)
    assert math.isclose(out["accuracy_threshold"], 0.75)
    assert math.isclose(out["binary_f1"], 6 / 7)
    assert math.isclose(out["binary_f1_threshold"], 0.55)
    # same rows as distances (1 - sim, ascending order): thresholds 0.25 and 0.45
    dist = threshold_search(1 - SIMS, LABELS, higher_is_similar=False)
    assert math.isclose(dist["accuracy"], 5 / 6) and math.isclose(dist["accuracy_threshold"], 0.25)
    assert math.isclose(dist["binary_f1"], 6 / 7) and math.isclose(dist["binary_f1_threshold"], 0.45)


def test_nothing_beats_zero_keeps_minus_one():
    # sorted: negative first -> cut 0 predicts one negative: acc (0 + 0)/2 = 0, F1 0 -> thresholds stay -1
    out = threshold_search(np.array([0.9, 0.1]), np.array([0, 1]), higher_is_similar=True)
    assert out == {"accuracy": 0.0, "accuracy_threshold": -1.0, "binary_f1": 0.0, "binary_f1_threshold": -1.0}


def test_non_binary_labels_raise():
    with pytest.raises(ValueError):
        threshold_search(np.array([0.1, 0.2]), np.array([1, 1]), True)


def test_apply_thresholds_hand_and_boundary_operators():
    labels = np.array([1, 0, 1, 1, 0])
    # similarities, positive iff score >= thr (0.75 and 0.55 sit exactly on a score)
    sims = np.array([0.95, 0.75, 0.74, 0.55, 0.2])
    # acc preds [1,1,0,0,0] -> correct rows 0 and 4 -> 2/5 ; F1 preds [1,1,1,1,0] -> TP3 FP1 FN0 -> 6/7
    out = apply_thresholds(sims, labels, 0.75, 0.55, higher_is_similar=True)
    assert math.isclose(out["accuracy"], 0.4) and math.isclose(out["binary_f1"], 6 / 7)
    # distances, positive iff score < thr (strict): acc preds [1,0,0,0,0] -> 3/5 ; F1 preds [1,1,1,0,0] -> TP2 FP1 FN1 -> 4/6
    dists = np.array([0.05, 0.25, 0.26, 0.45, 0.8])
    out = apply_thresholds(dists, labels, 0.25, 0.45, higher_is_similar=False)
    assert math.isclose(out["accuracy"], 0.6) and math.isclose(out["binary_f1"], 2 / 3)
    # no predicted positives -> F1 0 (sklearn's zero_division behaviour)
    assert apply_thresholds(sims, labels, 2.0, 2.0, True)["binary_f1"] == 0.0


def test_apply_thresholds_vs_sklearn_random():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = np.round(rng.normal(size=80), 1).astype(np.float32)
        y = rng.integers(0, 2, size=80)
        t1, t2 = (float(v) for v in rng.choice(s, 2))
        for hi in (True, False):
            pred1 = (s >= t1) if hi else (s < t1)
            pred2 = (s >= t2) if hi else (s < t2)
            out = apply_thresholds(s, y, t1, t2, hi)
            assert math.isclose(out["accuracy"], accuracy_score(y, pred1.astype(int)), rel_tol=1e-12)
            assert math.isclose(out["binary_f1"], f1_score(y, pred2.astype(int), zero_division=0.0), rel_tol=1e-12)


def _brute_force(scores, labels, hi):
    """Every JMTEB cut scored with sklearn; returns per-cut accuracies, F1s and midpoints."""
    rows = sorted(zip(scores.tolist(), labels.tolist()), key=lambda r: r[0], reverse=hi)
    accs, f1s, mids = [], [], []
    for i in range(len(rows) - 1):
        pred = [1] * (i + 1) + [0] * (len(rows) - i - 1)
        true = [r[1] for r in rows]
        accs.append(accuracy_score(true, pred))
        f1s.append(f1_score(true, pred, zero_division=0.0))
        mids.append((rows[i][0] + rows[i + 1][0]) / 2)
    return np.array(accs), np.array(f1s), np.array(mids)


@pytest.mark.parametrize("ties", [False, True])
def test_threshold_search_vs_brute_force(ties):
    rng = np.random.default_rng(1 if ties else 2)
    for _ in range(25):
        n = int(rng.integers(3, 60))
        y = rng.integers(0, 2, size=n)
        y[:2] = [0, 1]
        s = rng.normal(size=n) + y
        s = np.round(s, 1) if ties else s
        for hi in (True, False):
            out = threshold_search(s, y, hi)
            accs, f1s, mids = _brute_force(s, y, hi)
            assert math.isclose(out["accuracy"], accs.max(), rel_tol=1e-12)
            assert math.isclose(out["binary_f1"], f1s.max(), rel_tol=1e-12)
            # earliest cut reaching the maximum wins
            assert out["accuracy_threshold"] == mids[np.flatnonzero(np.isclose(accs, accs.max(), rtol=1e-12))[0]]
            if f1s.max() > 0:
                assert out["binary_f1_threshold"] == mids[np.flatnonzero(np.isclose(f1s, f1s.max(), rtol=1e-12))[0]]
            if not ties:  # a realizable threshold: applying it reproduces the searched scores
                again = apply_thresholds(s, y, out["accuracy_threshold"], out["binary_f1_threshold"], hi)
                assert math.isclose(again["accuracy"], out["accuracy"], rel_tol=1e-12)
                assert math.isclose(again["binary_f1"], out["binary_f1"], rel_tol=1e-12)


def test_float32_midpoint_stays_in_float32():
    # JMTEB averages float32 scores in float32. Sorted desc: 0.3 (neg), 0.2 (pos), 0.1 (pos);
    # cut 0 -> acc 0/3, cut 1 -> acc 1/3 (best) -> thr = (0.2f + 0.1f) / 2 evaluated in float32
    # = 0.15000000596..., whereas the float64 mean of the same two values is 0.15000000223...
    s = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    out = threshold_search(s, np.array([1, 1, 0]), True)
    assert math.isclose(out["accuracy"], 1 / 3)
    assert out["accuracy_threshold"] == float((np.float32(0.2) + np.float32(0.1)) / np.float32(2))
    assert out["accuracy_threshold"] != (float(np.float32(0.2)) + float(np.float32(0.1))) / 2


def test_cosine_as_distance_bug_prefers_near_all_positive_cut():
    # similarities where high = similar; labels mostly positive. Treated as a distance (JMTEB's
    # cosine bug) the F1 search walks from the *least* similar row, and only the near
    # all-positive cut (first n-1 rows) is good: the best F1 there is 2/(1/P+1/R) with
    # P = 7/9, R = 7/8 -> 0.823529 at threshold (0.95+0.9)/2 = 0.925
    sims = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.3, 0.2, 0.1, 0.05])
    labels = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    correct = threshold_search(sims, labels, higher_is_similar=True)
    buggy = threshold_search(sims, labels, higher_is_similar=False)
    assert math.isclose(correct["binary_f1"], 1.0)  # cut after the 8 positives: P = R = 1
    assert math.isclose(buggy["binary_f1"], 2 / (9 / 7 + 8 / 7))
    assert math.isclose(buggy["binary_f1_threshold"], 0.925)


def test_average_precision_hand_and_sklearn():
    # ranking by similarity: 1,0,1,0 -> precisions at hits 1/1 and 2/3 -> AP = (1 + 2/3)/2 = 0.833333
    s = np.array([0.9, 0.8, 0.7, 0.6])
    y = np.array([1, 0, 1, 0])
    assert math.isclose(average_precision(s, y, True), 5 / 6)
    # as distances the order reverses: 0,1,0,1 -> (1/2 + 2/4)/2 = 0.5
    assert math.isclose(average_precision(s, y, False), 0.5)
    rng = np.random.default_rng(3)
    for _ in range(10):
        s = np.round(rng.normal(size=100), 1)
        y = rng.integers(0, 2, size=100)
        assert average_precision(s, y, True) == float(average_precision_score(y, s))
        assert average_precision(s, y, False) == float(average_precision_score(y, -s))
