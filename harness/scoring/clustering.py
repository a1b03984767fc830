"""Clustering scores (JMTEB main metric: v_measure_score)."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import homogeneity_completeness_v_measure


def cluster_scores(labels_true: Sequence, labels_pred: Sequence) -> dict[str, float]:
    """Homogeneity, completeness and V-measure (beta = 1) via sklearn, as JMTEB."""
    homogeneity, completeness, v_measure = homogeneity_completeness_v_measure(labels_true, labels_pred)
    return {
        "v_measure_score": float(v_measure),
        "homogeneity_score": float(homogeneity),
        "completeness_score": float(completeness),
    }
