"""Pair-classification metrics: JMTEB's threshold search and MTEB's AP.

JMTEB bug (v1.3.3 and v1.4.0), reproduced by the *caller*: JMTEB's cosine
score is 1 - paired_cosine_distance, i.e. a cosine *similarity*, but its
direction test looks for the key "cosine_distance" while the dict key is
"cosine_distances". Cosine is therefore treated as a distance (lower = more
similar), which puts the best thresholds near "predict almost everything
positive". To reproduce JMTEB pass ``higher_is_similar=False`` for cosine;
only dot similarity is handled as higher-is-similar there. Manhattan and
Euclidean are genuine distances (higher_is_similar=False).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def _binary_labels(labels: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(labels).ravel()
    if y.size != n:
        raise ValueError(f"{n} scores but {y.size} labels")
    if set(np.unique(y).tolist()) != {0, 1}:
        # JMTEB raises on anything but two classes as well.
        raise ValueError("labels must be binary 0/1 and contain both classes")
    return y.astype(np.int64)


def threshold_search(scores: np.ndarray, labels: np.ndarray, higher_is_similar: bool) -> dict[str, float]:
    """JMTEB's best-accuracy and best-binary-F1 thresholds (independent searches).

    Rows are sorted by score (descending if ``higher_is_similar`` else
    ascending; stable, like Python's ``sorted``). For each cut i in 0..n-2 the
    first i+1 rows are predicted positive and the candidate threshold is the
    midpoint of scores i and i+1 (the all-positive cut is never tried). The
    first strictly better value wins. F1 is 2/(1/P + 1/R), written exactly like
    JMTEB so equal-in-theory values compare the same way, and 0 while no
    positive has been seen. If nothing beats 0 the threshold stays -1.
    """
    s = np.asarray(scores).ravel()
    y = _binary_labels(labels, s.size)
    order = np.argsort(-s if higher_is_similar else s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]

    cut = np.arange(1, s.size, dtype=np.float64)  # rows predicted positive
    pos_so_far = np.cumsum(y_sorted)[:-1].astype(np.float64)
    neg_left = float((y == 0).sum()) - (cut - pos_so_far)
    accuracy = (pos_so_far + neg_left) / s.size

    with np.errstate(divide="ignore"):
        precision = pos_so_far / cut
        recall = pos_so_far / float(y.sum())
        f1 = np.where(pos_so_far > 0, 2.0 / (1.0 / precision + 1.0 / recall), 0.0)

    # Midpoints in the scores' own dtype: JMTEB averages the raw (float32) values.
    midpoints = (s_sorted[:-1] + s_sorted[1:]) / 2

    def best(values: np.ndarray) -> tuple[float, float]:
        if values.size == 0 or values.max() <= 0:
            return 0.0, -1.0
        i = int(np.argmax(values))  # first maximum == earliest strict improvement
        return float(values[i]), float(midpoints[i])

    acc, acc_thr = best(accuracy)
    f1_best, f1_thr = best(f1)
    return {"accuracy": acc, "accuracy_threshold": acc_thr, "binary_f1": f1_best, "binary_f1_threshold": f1_thr}


def predict(scores: np.ndarray, threshold: float, higher_is_similar: bool) -> np.ndarray:
    # JMTEB: similarities -> positive unless score < thr (i.e. >= thr);
    # distances -> positive iff score < thr.
    if higher_is_similar:
        return (scores >= threshold).astype(np.int64)
    return (scores < threshold).astype(np.int64)


def apply_thresholds(
    scores: np.ndarray,
    labels: np.ndarray,
    accuracy_threshold: float,
    f1_threshold: float,
    higher_is_similar: bool,
) -> dict[str, float]:
    """Test-split scoring with validation thresholds: {"accuracy", "binary_f1"}.

    F1 = 2TP / (2TP + FP + FN), 0 when undefined (sklearn's zero_division
    default that JMTEB relied on).
    """
    s = np.asarray(scores).ravel()
    y = np.asarray(labels).ravel().astype(np.int64)
    if y.size != s.size:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    acc_pred = predict(s, accuracy_threshold, higher_is_similar)
    f1_pred = predict(s, f1_threshold, higher_is_similar)
    tp = int(((f1_pred == 1) & (y == 1)).sum())
    fp = int(((f1_pred == 1) & (y == 0)).sum())
    fn = int(((f1_pred == 0) & (y == 1)).sum())
    denom = 2 * tp + fp + fn
    return {
        "accuracy": float((acc_pred == y).mean()),
        "binary_f1": 2 * tp / denom if denom else 0.0,
    }


def average_precision(scores: np.ndarray, labels: np.ndarray, higher_is_similar: bool) -> float:
    """MTEB's "ap": sklearn average_precision_score, distances negated first."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    return float(average_precision_score(y, s if higher_is_similar else -s))
