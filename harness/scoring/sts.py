"""STS correlations as JMTEB computes them (scipy pearsonr / spearmanr)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats


def _finite_or_zero(value: float) -> float:
    # JMTEB maps a NaN correlation (constant input) to 0.0 rather than failing
    # the task; we keep that so a degenerate model scores 0, not NaN.
    value = float(value)
    return 0.0 if math.isnan(value) else value


def correlations(gold: Sequence[float], predicted: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation between gold scores and predicted similarities.

    Predictions are cast to float64 first (JMTEB casts bf16 similarities to
    float before calling SciPy). Returns {"pearson", "spearman"}; NaN -> 0.0.
    """
    y = np.asarray(gold, dtype=np.float64).ravel()
    x = np.asarray(predicted, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"gold has {y.size} values but predicted has {x.size}")
    if y.size < 2:
        raise ValueError("need at least two pairs to compute a correlation")
    with warnings.catch_warnings():
        # Constant input yields NaN plus a warning; the NaN is handled below.
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        pearson = stats.pearsonr(y, x)[0]
        spearman = stats.spearmanr(y, x)[0]
    return {"pearson": _finite_or_zero(pearson), "spearman": _finite_or_zero(spearman)}
