"""Bootstrap uncertainty of main metrics: 95 % intervals and a paired test between two runs (pure numpy).

A main metric decomposes into what it averages over, and that is what is resampled, per family:

* retrieval, reranking, NanoBEIR: a mean over queries of the per-query metric (statistic `mean`);
* STS: a correlation over sentence pairs (`spearman` | `pearson` of gold and predicted);
* classification: JMTEB's macro F1 over test texts (`macro_f1` of gold and predicted labels), accuracy as the
  mean of per-text correctness (`mean`); MTEB's accuracy, a mean over experiments of a mean over the same test
  texts, as the mean of each text's correctness over the experiments (`mean`);
* clustering: JMTEB's V-measure of the chosen clustering over test texts (`v_measure` of gold labels and
  assigned clusters; the clustering is not refitted); MTEB's mean V-measure over seeded runs resamples the runs
  (`mean`);
* pair classification: JMTEB's F1 at the validation threshold over test pairs (`binary_f1` of gold and
  predicted 0/1), accuracy as the mean of per-pair correctness; MTEB's AP over pairs (`ap` of gold and the
  similarity, higher = more similar).

Resampling those items with replacement (seeded, so two reports of the same run agree digit for digit) gives
the percentile interval. The paired test resamples the *same* items for both runs, so it measures the
difference between two models on one test set, not two test sets.

Per-item values travel inside a score file's details as `per_item` = {"statistic": one of STATISTICS, "n": N,
<name>: base64 of little-endian float64}; `pack` / `unpack` convert them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

# statistic -> the per-item arrays it is computed from
ARRAYS = {"mean": ("values",), "spearman": ("gold", "predicted"), "pearson": ("gold", "predicted"),
          "macro_f1": ("gold", "predicted"), "binary_f1": ("gold", "predicted"), "ap": ("gold", "predicted"),
          "v_measure": ("gold", "predicted")}
STATISTICS = tuple(ARRAYS)
CHUNK = 200  # resamples per vectorised block: bounds memory at CHUNK x n floats


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float
    level: float
    resamples: int
    seed: int
    n: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    """B minus A: the difference's bootstrap interval (point = observed difference) and a two-sided p-value."""

    difference: Interval
    p_value: float

    diff = property(lambda self: self.difference.point)
    low = property(lambda self: self.difference.low)
    high = property(lambda self: self.difference.high)

    def to_json(self) -> dict:
        return {**self.difference.to_json(), "diff": self.diff, "p_value": self.p_value}


# ----------------------------------------------------------------------------------- statistics ----
def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of x with the same row of y; a constant row gives 0 (as JMTEB's NaN)."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(axis=1) / denominator
    return np.where(denominator > 0, r, 0.0)


def _f1_rows(gold: np.ndarray, predicted: np.ndarray, label: float) -> tuple[np.ndarray, np.ndarray]:
    """(F1 of one class on each row, whether the class occurs in the row at all)."""
    is_gold, is_predicted = gold == label, predicted == label
    tp = (is_gold & is_predicted).sum(axis=1)
    wrong = (is_gold ^ is_predicted).sum(axis=1)  # false positives + false negatives
    denominator = 2 * tp + wrong
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, 0.0), denominator > 0


def _macro_f1_rows(gold: np.ndarray, predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """sklearn's f1_score(average="macro") per row: the mean over the labels present in the row's gold or
    predictions (zero_division 0)."""
    per_label = [_f1_rows(gold, predicted, label) for label in labels]
    f1 = np.stack([f for f, _ in per_label])
    present = np.stack([p for _, p in per_label])
    return (f1 * present).sum(axis=0) / present.sum(axis=0)


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each item is drawn in each resample (rows of idx)."""
    counts = np.zeros((idx.shape[0], n))
    np.add.at(counts, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), 1.0)
    return counts


def _ap_rows(gold: np.ndarray, predicted: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """sklearn's average_precision_score per resample: items weighted by how often they are drawn, tied scores
    one threshold."""
    order = np.argsort(-predicted, kind="stable")
    weights = _counts(idx, gold.size)[:, order]
    y, s = gold[order], predicted[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a threshold after each distinct score
    tp = np.cumsum(weights * y, axis=1)[:, last_of_tie]
    seen = np.cumsum(weights, axis=1)[:, last_of_tie]
    positives = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(seen > 0, tp / seen, 0.0)
        recall = np.where(positives > 0, tp / positives, 0.0)
    steps = np.diff(np.concatenate([np.zeros((recall.shape[0], 1)), recall], axis=1), axis=1)
    return (steps * precision).sum(axis=1)


def _entropy(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(counts > 0, counts / total, 1.0)
    return -(np.where(counts > 0, p * np.log(p), 0.0)).sum(axis=-1)


def _v_measure_rows(gold: np.ndarray, predicted: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """sklearn's v_measure_score per resample, from each resample's contingency table (no refitting)."""
    classes, g = np.unique(gold, return_inverse=True)
    clusters, k = np.unique(predicted, return_inverse=True)
    cell = g * clusters.size + k
    weights = _counts(idx, gold.size)
    table = np.stack([np.bincount(cell, weights=w, minlength=classes.size * clusters.size) for w in weights])
    table = table.reshape(-1, classes.size, clusters.size)
    h_c, h_k = _entropy(table.sum(axis=2)), _entropy(table.sum(axis=1))
    total = table.sum(axis=(1, 2))
    # conditional entropies H(C|K) and H(K|C), weighted by each cluster's / class's share
    h_c_given_k = (table.sum(axis=1) / total[:, None] * _entropy(table.transpose(0, 2, 1))).sum(axis=1)
    h_k_given_c = (table.sum(axis=2) / total[:, None] * _entropy(table)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        homogeneity = np.where(h_c > 0, 1 - h_c_given_k / h_c, 1.0)
        completeness = np.where(h_k > 0, 1 - h_k_given_c / h_k, 1.0)
        both = homogeneity + completeness
        return np.where(both > 0, 2 * homogeneity * completeness / both, 0.0)


def statistic_rows(statistic: str, arrays: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The statistic on each row of resampled indices idx (shape resamples x n)."""
    if statistic == "mean":
        return arrays["values"][idx].mean(axis=1)
    if statistic == "ap":
        return _ap_rows(arrays["gold"], arrays["predicted"], idx)
    if statistic == "v_measure":
        return _v_measure_rows(arrays["gold"], arrays["predicted"], idx)
    gold, predicted = arrays["gold"][idx], arrays["predicted"][idx]
    if statistic == "macro_f1":
        return _macro_f1_rows(gold, predicted, np.unique(np.concatenate([arrays["gold"], arrays["predicted"]])))
    if statistic == "binary_f1":
        return _f1_rows(gold, predicted, 1.0)[0]
    if statistic == "spearman":  # Pearson of average ranks = scipy's spearmanr
        gold, predicted = stats.rankdata(gold, axis=1), stats.rankdata(predicted, axis=1)
    elif statistic != "pearson":
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    return _pearson_rows(gold, predicted)


def point(statistic: str, arrays: dict[str, np.ndarray]) -> float:
    n = _size(statistic, arrays)
    return float(statistic_rows(statistic, arrays, np.arange(n)[None, :])[0])


def _size(statistic: str, arrays: dict[str, np.ndarray]) -> int:
    sizes = {np.asarray(arrays[k]).shape[0] for k in ARRAYS[statistic]}
    if len(sizes) != 1:
        raise ValueError(f"per-item arrays differ in length: {sorted(sizes)}")
    n = sizes.pop()
    if n < 2:
        raise ValueError("a bootstrap needs at least two items")
    return n


def _index_blocks(n: int, resamples: int, seed: int):
    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        size = min(CHUNK, resamples - done)
        yield rng.integers(0, n, size=(size, n))
        done += size


# -------------------------------------------------------------------------------------- intervals ----
def interval(statistic: str, arrays: dict[str, np.ndarray], resamples: int = 1000, seed: int = 0,
             level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of the statistic over items (queries or pairs)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    n = _size(statistic, arrays)
    samples = np.concatenate([statistic_rows(statistic, arrays, idx) for idx in _index_blocks(n, resamples, seed)])
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return Interval(point(statistic, arrays), float(low), float(high), level, resamples, seed, n)


def paired_test(statistic: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], resamples: int = 1000,
                seed: int = 0, level: float = 0.95) -> PairedTest:
    """Paired bootstrap of statistic(b) - statistic(a) over the same resampled items.

    p-value: twice the smaller tail of the bootstrap differences around zero (capped at 1), i.e. how often a
    resample reverses the sign of the difference.
    """
    a = {k: np.asarray(v, dtype=np.float64) for k, v in a.items()}
    b = {k: np.asarray(v, dtype=np.float64) for k, v in b.items()}
    n = _size(statistic, a)
    if _size(statistic, b) != n:
        raise ValueError(f"paired test needs the same items: {n} vs {_size(statistic, b)}")
    diffs = np.concatenate([statistic_rows(statistic, b, idx) - statistic_rows(statistic, a, idx)
                            for idx in _index_blocks(n, resamples, seed)])
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    tail = min(np.mean(diffs <= 0), np.mean(diffs >= 0))
    observed = point(statistic, b) - point(statistic, a)
    return PairedTest(Interval(observed, float(low), float(high), level, resamples, seed, n), float(min(1.0, 2 * tail)))


# ---------------------------------------------------------------------------------- per-item codec ----
def pack(statistic: str, ids: Sequence[str] | None = None, **arrays: Sequence[float]) -> dict:
    """Per-item arrays as a compact, exact JSON object (base64 float64) for a score file's details."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    out: dict = {"statistic": statistic}
    for name, values in arrays.items():
        array = np.ascontiguousarray(values, dtype="<f8")
        out["n"] = int(array.shape[0])
        out[name] = base64.b64encode(array.tobytes()).decode("ascii")
    if ids is not None:  # lets a paired test confirm both runs scored the same items in the same order
        out["ids_sha1"] = hashlib.sha1("\n".join(map(str, ids)).encode("utf-8")).hexdigest()
    return out


def unpack(data: dict) -> tuple[str, dict[str, np.ndarray]]:
    """(statistic, arrays) from a `per_item` object; ValueError names the bad field."""
    statistic = data.get("statistic")
    if statistic not in STATISTICS:
        raise ValueError(f"field 'per_item.statistic' must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    arrays = {}
    for name in ARRAYS[statistic]:
        try:
            arrays[name] = np.frombuffer(base64.b64decode(data[name], validate=True), dtype="<f8").copy()
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"field 'per_item.{name}' missing or not base64 float64") from None
        if arrays[name].shape[0] != data.get("n"):
            raise ValueError(f"field 'per_item.{name}' holds {arrays[name].shape[0]} values, 'n' says {data.get('n')}")
    return statistic, arrays

