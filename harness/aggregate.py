"""Suite-level aggregates computed from task results (never by re-evaluating)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.results import TaskResult
from harness.vocab import Vocab


# sentence-transformers' own dataset order (NanoBEIREvaluator's default dataset_names: the dict order of
# DATASET_NAME_TO_HUMAN_READABLE in sentence_transformer/evaluation/nano_beir.py, 6.2.0; dataset_name_to_id in
# evaluation/NanoBEIREvaluator.py, v5.1.1): ArguAna is 11th. The mean is np.mean over the datasets in this order,
# and np.mean's pairwise sum makes the last bit order-dependent (the SSE card's mrr@10 mean 0.5088495552066982
# comes out in this order only).
ST_DATASET_ORDER = ("NanoClimateFEVER", "NanoDBPedia", "NanoFEVER", "NanoFiQA2018", "NanoHotpotQA", "NanoMSMARCO",
                    "NanoNFCorpus", "NanoNQ", "NanoQuoraRetrieval", "NanoSCIDOCS", "NanoArguAna", "NanoSciFact",
                    "NanoTouche2020")


def st_order(names: Sequence[str]) -> list[int]:
    """Positions of `names` in sentence-transformers' dataset order; names it does not know keep their order,
    after its own."""
    rank = {name: i for i, name in enumerate(ST_DATASET_ORDER)}
    return sorted(range(len(names)), key=lambda i: (rank.get(names[i], len(rank)), i))


def nanobeir_keys(results: Sequence[tuple[str, TaskResult]]) -> dict[str, float]:
    """sentence-transformers' NanoBEIREvaluator output from (dataset name, result) pairs, in its dataset order:
    `<name>_<fn>_<metric>@k` for every dataset and `NanoBEIR_mean_<fn>_<metric>@k`, the unweighted mean over
    datasets of each metric."""
    chosen = [(name, r) for name, r in results if r.protocol == "nanobeir"]
    ordered = [chosen[i] for i in st_order([name for name, _ in chosen])]
    per_dataset = [(name, _st_keys(r)) for name, r in ordered]
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
