"""Bootstrap uncertainty of main metrics: 95 % intervals and a paired test between two runs (pure numpy).

A main metric decomposes into items: retrieval / reranking metrics are means over queries, STS metrics are
correlations over sentence pairs. Resampling those items with replacement (seeded, so two reports of the
same run agree digit for digit) gives the percentile interval. The paired test resamples the *same* items
for both runs, so it measures the difference between two models on one test set, not two test sets.

Per-item values travel inside a score file's details as `per_item` = {"statistic": "mean" | "spearman" |
"pearson", "n": N, <name>: base64 of little-endian float64}; `pack` / `unpack` convert them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

STATISTICS = ("mean", "spearman", "pearson")
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


def statistic_rows(statistic: str, arrays: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The statistic on each row of resampled indices idx (shape resamples x n)."""
    if statistic == "mean":
        return arrays["values"][idx].mean(axis=1)
    gold, predicted = arrays["gold"][idx], arrays["predicted"][idx]
    if statistic == "spearman":  # Pearson of average ranks = scipy's spearmanr
        gold, predicted = stats.rankdata(gold, axis=1), stats.rankdata(predicted, axis=1)
    elif statistic != "pearson":
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    return _pearson_rows(gold, predicted)


def point(statistic: str, arrays: dict[str, np.ndarray]) -> float:
    n = _size(statistic, arrays)
    return float(statistic_rows(statistic, arrays, np.arange(n)[None, :])[0])


def _size(statistic: str, arrays: dict[str, np.ndarray]) -> int:
    names = ("values",) if statistic == "mean" else ("gold", "predicted")
    sizes = {np.asarray(arrays[k]).shape[0] for k in names}
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
    names = ("values",) if statistic == "mean" else ("gold", "predicted")
    arrays = {}
    for name in names:
        try:
            arrays[name] = np.frombuffer(base64.b64decode(data[name], validate=True), dtype="<f8").copy()
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"field 'per_item.{name}' missing or not base64 float64") from None
        if arrays[name].shape[0] != data.get("n"):
            raise ValueError(f"field 'per_item.{name}' holds {arrays[name].shape[0]} values, 'n' says {data.get('n')}")
    return statistic, arrays

