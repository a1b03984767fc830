"""Pair classification family: JMTEB's threshold protocol (with its cosine bug) and MTEB's max AP."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, f1_score
from sklearn.metrics.pairwise import paired_cosine_distances, paired_euclidean_distances, paired_manhattan_distances

from harness.errors import HarnessError
from harness.families.pair_classification import JMTEB_NAMES as N  # JMTEB's names in score files

SPLITS = {"validation": "validation", "test": "test"}


def _unit_pairs(prefix: str, cosines: list[float]) -> tuple[list[dict], dict]:
    """sentence1 is always (1, 0); sentence2 is the unit vector at cosine c -> cosine = dot = c."""
    rows, vectors = [], {"anchor": [1.0, 0.0]}
    for i, c in enumerate(cosines):
        vectors[f"{prefix}{i}"] = [c, math.sqrt(1 - c * c)]
        rows.append({"sentence1": "anchor", "sentence2": f"{prefix}{i}"})
    return rows, vectors


def _golden_task(tiny, name, protocols):
    val_rows, v1 = _unit_pairs("v", [0.9, 0.8, 0.3, 0.1])
    for row, y in zip(val_rows, [1, 0, 1, 0]):
        row["label"] = y
    test_rows, v2 = _unit_pairs("t", [0.95, 0.5, 0.15, 0.25])
    for row, y in zip(test_rows, [1, 1, 0, 0]):
        row["label"] = y
    task = tiny.make(name, "pair_classification", "PairClassification",
                     {"validation": val_rows, "test": test_rows}, splits=SPLITS, protocols=protocols)
    return task, {**v1, **v2}


def test_golden_cosine_correct_direction(tiny):
    task, vectors = _golden_task(tiny, "pc_fixed", {"jmteb": {"distances": ["cosine"], "cosine_as_distance": False}})
    out = tiny.run(task, vectors)
    # Validation, cosine descending: 0.9(1) 0.8(0) 0.3(1) 0.1(0); cut after i+1 rows:
    #   i=0: TP1 FP0 FN1 TN2 -> acc 3/4, F1 2/(1/1 + 1/0.5) = 2/3
    #   i=1: TP1 FP1 FN1 TN1 -> acc 1/2, F1 1/2
    #   i=2: TP2 FP1 FN0 TN1 -> acc 3/4 (not strictly better), F1 2/(3/2 + 1) = 0.8
    # best accuracy 0.75 at (0.9+0.8)/2 = 0.85; best F1 0.8 at (0.3+0.1)/2 = 0.2.
    val = out.details["val_scores"][N["cosine"]]
    assert val["accuracy"] == 0.75 and val["binary_f1"] == pytest.approx(0.8)
    assert val["accuracy_threshold"] == pytest.approx(0.85, abs=1e-6)
    assert val["binary_f1_threshold"] == pytest.approx(0.2, abs=1e-6)
    # Test scores 0.95 0.5 0.15 0.25, labels 1 1 0 0. score >= 0.85 -> 1 0 0 0: acc 3/4.
    # score >= 0.2 -> 1 1 0 1: TP2 FP1 FN0 -> F1 = 4/5.
    test = out.details["test_scores"][N["cosine"]]
    assert out.metric_name == "binary_f1" and out.metric_value == pytest.approx(0.8)
    assert test["accuracy"] == 0.75
    # AP (correct direction): ranking 0.95(1) 0.5(1) 0.25(0) 0.15(0) -> both positives first -> 1.0
    assert out.details["extra_scores"][N["cosine"]]["ap"] == pytest.approx(1.0)


def test_golden_cosine_as_distance_bug(tiny):
    task, vectors = _golden_task(tiny, "pc_bug", {"jmteb": {"distances": ["cosine"]}})
    out = tiny.run(task, vectors)
    assert out.details["cosine_as_distance"] is True
    assert out.details["higher_is_similar"] == {N["cosine"]: False}
    # JMTEB's bug: cosine sorted ascending as if it were a distance: 0.1(0) 0.3(1) 0.8(0) 0.9(1)
    #   i=0: TP0 FP1 FN2 TN1 -> acc 1/4, F1 0
    #   i=1: TP1 FP1 FN1 TN1 -> acc 1/2, F1 1/2
    #   i=2: TP1 FP2 FN1 TN0 -> acc 1/4, F1 2/(3 + 2) = 0.4
    # both thresholds at (0.3+0.8)/2 = 0.55.
    val = out.details["val_scores"][N["cosine"]]
    assert val["accuracy"] == 0.5 and val["binary_f1"] == 0.5
    assert val["accuracy_threshold"] == pytest.approx(0.55, abs=1e-6)
    # Test: positive iff score < 0.55 -> 0 1 1 1 vs labels 1 1 0 0: acc 1/4; TP1 FP2 FN1 -> F1 2/5.
    assert out.metric_value == pytest.approx(0.4)
    assert out.details["test_scores"][N["cosine"]]["accuracy"] == 0.25
    # the AP extra ignores the bug: it always uses the correct direction
    assert out.details["extra_scores"][N["cosine"]]["ap"] == pytest.approx(1.0)


def test_bug_changes_the_selected_distance(tiny):
    # Unit vectors: dot = cosine, and L1 / L2 fall as cosine rises, so the three correctly-directed
    # scores all reach val F1 0.8 while the bugged cosine reaches 0.5.
    task, vectors = _golden_task(tiny, "pc_all", {"jmteb": {}})
    bugged = tiny.run(task, vectors)
    assert bugged.details["optimal_distance_metric"] == N["manhattan"]  # first of the 0.8s; cosine lost to the bug
    assert bugged.details["val_scores"][N["cosine"]]["binary_f1"] == 0.5
    assert bugged.metric_value == pytest.approx(0.8)
    task, vectors = _golden_task(tiny, "pc_all_fixed", {"jmteb": {"cosine_as_distance": False}})
    fixed = tiny.run(task, vectors)
    assert fixed.details["optimal_distance_metric"] == N["cosine"]
    assert fixed.details["higher_is_similar"] == {N["cosine"]: True, N["manhattan"]: False, N["euclidean"]: False,
                                                  N["dot"]: True}


def _random_split(rng, n, prefix, dim=8):
    rows, vectors = [], {}
    labels = rng.integers(0, 2, n)
    for i in range(n):
        a = rng.normal(0, 1, dim)
        b = a + rng.normal(0, 1.3 if labels[i] == 0 else 0.8, dim)  # positives a little closer
        vectors[f"{prefix}a{i}"], vectors[f"{prefix}b{i}"] = a.tolist(), b.tolist()
        rows.append({"sentence1": f"{prefix}a{i}", "sentence2": f"{prefix}b{i}", "label": int(labels[i])})
    return rows, vectors


def _independent_scores(rows, vectors):
    e1 = np.asarray([vectors[r["sentence1"]] for r in rows], dtype=np.float32)
    e2 = np.asarray([vectors[r["sentence2"]] for r in rows], dtype=np.float32)
    return {"cosine": 1 - paired_cosine_distances(e1, e2), "manhattan": paired_manhattan_distances(e1, e2),
            "euclidean": paired_euclidean_distances(e1, e2), "dot": (e1.astype(np.float64) * e2).sum(1)}


def _predict(scores, thr, similar):
    return (scores >= thr).astype(int) if similar else (scores < thr).astype(int)


def _brute_force(scores, labels, similar):
    """Every midpoint cut except all-positive; sklearn metrics; the first best wins."""
    order = np.argsort(-scores if similar else scores, kind="stable")
    s = scores[order]
    best = {"accuracy": (-1.0, None), "binary_f1": (-1.0, None)}
    for i in range(len(s) - 1):
        thr = (s[i] + s[i + 1]) / 2
        pred = _predict(scores, thr, similar)
        for metric, value in (("accuracy", accuracy_score(labels, pred)), ("binary_f1", f1_score(labels, pred))):
            if value > best[metric][0]:
                best[metric] = (value, thr)
    return best


@pytest.mark.parametrize("cosine_as_distance", [True, False])
def test_matches_brute_force_threshold_search(tiny, cosine_as_distance):
    rng = np.random.default_rng(5)
    val_rows, v1 = _random_split(rng, 70, "v")
    test_rows, v2 = _random_split(rng, 50, "t")
    vectors = {**v1, **v2}
    task = tiny.make(f"pc_brute_{cosine_as_distance}", "pair_classification", "PairClassification",
                     {"validation": val_rows, "test": test_rows}, splits=SPLITS,
                     protocols={"jmteb": {"cosine_as_distance": cosine_as_distance}})
    out = tiny.run(task, vectors)
    similar = {"cosine": not cosine_as_distance, "manhattan": False, "euclidean": False, "dot": True}
    y_val = np.asarray([r["label"] for r in val_rows])
    y_test = np.asarray([r["label"] for r in test_rows])
    val_scores, test_scores = _independent_scores(val_rows, vectors), _independent_scores(test_rows, vectors)
    brute = {d: _brute_force(val_scores[d], y_val, similar[d]) for d in similar}
    for d in similar:
        got = out.details["val_scores"][N[d]]
        assert got["accuracy"] == pytest.approx(brute[d]["accuracy"][0], abs=1e-12)
        assert got["binary_f1"] == pytest.approx(brute[d]["binary_f1"][0], abs=1e-12)
        assert got["binary_f1_threshold"] == pytest.approx(brute[d]["binary_f1"][1], abs=1e-4)
    chosen = next(d for d in similar if brute[d]["binary_f1"][0] == max(b["binary_f1"][0] for b in brute.values()))
    assert out.details["optimal_distance_metric"] == N[chosen]
    pred_f1 = _predict(test_scores[chosen], brute[chosen]["binary_f1"][1], similar[chosen])
    pred_acc = _predict(test_scores[chosen], brute[chosen]["accuracy"][1], similar[chosen])
    assert out.metric_value == pytest.approx(f1_score(y_test, pred_f1), abs=1e-12)
    assert out.details["test_scores"][N[chosen]]["accuracy"] == pytest.approx(accuracy_score(y_test, pred_acc))
    sign = 1 if chosen in ("cosine", "dot") else -1
    assert out.details["extra_scores"][N[chosen]]["ap"] == pytest.approx(
        average_precision_score(y_test, sign * test_scores[chosen]), abs=1e-9)


def test_mteb_max_ap_matches_sklearn(tiny):
    rng = np.random.default_rng(6)
    rows, vectors = _random_split(rng, 80, "x")
    task = tiny.make("pc_mteb", "pair_classification", "PairClassification",
                     {"validation": rows}, splits={"validation": "validation", "test": "validation"},
                     protocols={"jmteb": {}, "mteb": {}})
    out = tiny.run(task, vectors, protocol="mteb")
    scores = _independent_scores(rows, vectors)
    y = [r["label"] for r in rows]
    expected = {d: average_precision_score(y, s if d in ("cosine", "dot") else -s) for d, s in scores.items()}
    for key, value in expected.items():
        assert out.details["test_scores"][key]["ap"] == pytest.approx(value, abs=1e-9)
    assert out.metric_name == "max_ap"
    assert out.metric_value == pytest.approx(max(expected.values()), abs=1e-9)


@pytest.mark.parametrize("label, shown", [(True, "bool True"), (2, "int 2"), ("1", "str '1'"), (1.0, "float 1.0")])
def test_non_binary_int_labels_fail_with_file_line_and_column(tiny, label, shown):
    rows = [{"sentence1": "a", "sentence2": "b", "label": 0}, {"sentence1": "a", "sentence2": "b", "label": label}]
    task = tiny.make("pc_bad", "pair_classification", "PairClassification",
                     {"validation": rows, "test": rows}, splits=SPLITS)
    with pytest.raises(HarnessError, match=f"pc_bad/validation.jsonl:2: column 'label' must be 0 or 1 .*{shown}"):
        tiny.run(task, {"a": [1, 0], "b": [0, 1]})


def test_missing_column_and_single_class_fail(tiny):
    rows = [{"sentence1": "a", "label": 0}]
    task = tiny.make("pc_missing", "pair_classification", "PairClassification",
                     {"validation": rows, "test": rows}, splits=SPLITS)
    with pytest.raises(HarnessError, match="pc_missing/validation.jsonl: missing column 'sentence2'"):
        tiny.run(task, {"a": [1, 0]})
    rows = [{"sentence1": "a", "sentence2": "b", "label": 1}] * 3
    task = tiny.make("pc_one", "pair_classification", "PairClassification",
                     {"validation": rows, "test": rows}, splits=SPLITS)
    with pytest.raises(HarnessError, match="needs both 0 and 1"):
        tiny.run(task, {"a": [1, 0], "b": [0, 1]})
