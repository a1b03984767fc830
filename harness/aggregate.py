"""Suite-level aggregates computed from task results (never by re-evaluating)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.results import TaskResult
from harness.vocab import Vocab


def nanobeir_keys(results: Sequence[tuple[str, TaskResult]]) -> dict[str, float]:
    """sentence-transformers' NanoBEIREvaluator output from (dataset name, result) pairs:
    `<name>_<fn>_<metric>@k` for every dataset and `NanoBEIR_mean_<fn>_<metric>@k`, the unweighted mean over
    datasets of each metric."""
    per_dataset = [(name, _st_keys(r)) for name, r in results if r.protocol == "nanobeir"]
    out: dict[str, float] = {}
    for name, scores in per_dataset:
        for key, value in scores.items():
            out[f"{name}_{key}"] = value
    if per_dataset:
        for key in per_dataset[0][1]:
            values = [scores[key] for _, scores in per_dataset if key in scores]
            if len(values) == len(per_dataset):
                out[f"NanoBEIR_mean_{key}"] = float(np.mean(values))
    return out


def _st_keys(result: TaskResult) -> dict[str, float]:
    """A result's test scores under sentence-transformers' keys: <score function>_<metric>@k."""
    return {f"{fn}_{metric}": value for fn, scores in result.details["test_scores"].items()
            for metric, value in scores.items()}


AGGREGATORS = {"nanobeir": ("nanobeir.json", nanobeir_keys)}
AGGREGATES = Vocab.of("aggregate", AGGREGATORS)
