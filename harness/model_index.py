"""`harness export model-index RUN_DIR`: the model card's `model-index` YAML block (the Hugging Face model-card
metadata that sentence-transformers and mteb write), from a run's score files.

One result entry per task, as sentence-transformers writes its evaluators' entries: `task` {type, name} from
the task's category (semantic-similarity for STS, information-retrieval for retrieval, ...), `dataset` {name:
the task, type: its hub dataset (or the task name for local-only data), split, revision when known}, `metrics`:
the main metric first, then every other number of the reported split (`details.test_scores`: the variant's
metrics, `<variant>_<metric>` when several variants are scored), each with a readable name. A suite with a NanoBEIR aggregate (nanobeir.json) adds sentence-transformers' "nano-beir" entry
(dataset "NanoBEIR mean", metrics `NanoBEIR_mean_*`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.results import TaskResult, read_results
from harness.runinfo import read_run_info

TASK_TYPES = {"STS": ("semantic-similarity", "Semantic Similarity"),
              "Retrieval": ("information-retrieval", "Information Retrieval"),
              "Reranking": ("reranking", "Reranking"),
              "PairClassification": ("binary-classification", "Binary Classification"),
              "Classification": ("text-classification", "Classification"),
              "Clustering": ("clustering", "Clustering")}
NANOBEIR_FILE = "nanobeir.json"


def readable(metric: str) -> str:
    """`cosine_ndcg@10` -> "Cosine Ndcg@10", `ndcg_at_10` -> "Ndcg At 10" (sentence-transformers' style)."""
    return " ".join(part[:1].upper() + part[1:] for part in metric.split("_"))


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def variant_metrics(test_scores: dict[str, Any], prefixed: bool | None = None) -> dict[str, float]:
    """A score file's `details.test_scores` ({variant: {metric: value}}) as flat metrics: `<variant>_<metric>`,
    or the bare metric names when there is one variant and `prefixed` is not asked for (None: prefix only
    when there are several variants)."""
    variants = {k: v for k, v in (test_scores or {}).items() if isinstance(v, dict)}
    if prefixed is None:
        prefixed = len(variants) > 1
    out = _numbers(test_scores or {})  # a flat test_scores (older score files)
    for variant, metrics in variants.items():
        out.update({f"{variant}_{k}" if prefixed else k: v for k, v in _numbers(metrics).items()})
    return out


def task_entry(result: TaskResult) -> dict[str, Any]:
    kind, label = TASK_TYPES.get(result.category, (result.category.lower(), result.category))
    data = result.provenance.get("dataset", {})
    hub = data.get("hub") or {}
    dataset: dict[str, Any] = {"name": result.task, "type": hub.get("path") or result.task}
    split = result.details.get("split") or (result.provenance.get("protocol", {}).get("params") or {}).get("split")
    if split:
        dataset["split"] = split
    if hub.get("revision"):
        dataset["revision"] = hub["revision"]
    others = {k: v for k, v in variant_metrics(result.details.get("test_scores")).items() if k != result.metric_name}
    metrics = [{"type": result.metric_name, "value": result.metric_value, "name": readable(result.metric_name)}]
    metrics += [{"type": k, "value": v, "name": readable(k)} for k, v in others.items()]
    return {"task": {"type": kind, "name": label}, "dataset": dataset, "metrics": metrics}


def nanobeir_entry(aggregate: dict[str, Any]) -> dict[str, Any] | None:
    means = {k[len("NanoBEIR_mean_"):]: v for k, v in _numbers(aggregate).items() if k.startswith("NanoBEIR_mean_")}
    if not means:
        return None
    return {"task": {"type": "nano-beir", "name": "Nano BEIR"},
            "dataset": {"name": "NanoBEIR mean", "type": "NanoBEIR_mean"},
            "metrics": [{"type": k, "value": v, "name": readable(k)} for k, v in means.items()]}


def model_index(run_dir: Path, name: str | None = None) -> dict[str, Any]:
    from harness.summary import load_json

    run_dir = Path(run_dir)
    results = read_results(run_dir)
    if not results:
        raise HarnessError(f"{run_dir}: no score files (<Category>/scores_<task>.json)")
    info = read_run_info(run_dir)
    entries = [task_entry(r) for r in results]
    if (run_dir / NANOBEIR_FILE).is_file():
        entry = nanobeir_entry(load_json(run_dir / NANOBEIR_FILE)[1])
        if entry:
            entries.append(entry)
    model = name or (info.model_name if info else None) or results[0].provenance.get("model", {}).get("name")
    return {"model-index": [{"name": model, "results": entries}]}


def render(index: dict[str, Any]) -> str:
    """The YAML block as it stands between the card's `---` lines."""
    return yaml.safe_dump(index, sort_keys=False, allow_unicode=True, width=120)
