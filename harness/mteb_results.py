"""MTEB's result files: `harness export mteb RUN_DIR OUT` writes them, `harness import mteb FILES` reads them.
This module is the only reader and writer of that format.

    OUT/<model name, "/" -> "__">/<model revision>/<MTEB task>.json   one per mapped task (harness.mteb_tasks)
    OUT/<model name>/<model revision>/model_meta.json

the layout of mteb's results repository and of `<mteb cache>/results`, so `mteb.ResultCache(cache).load_results()`
reads OUT = `<cache>/results`. A task file is MTEB's TaskResult JSON: `dataset_revision`, `task_name`,
`mteb_version` (the mteb whose task definitions the mapping was checked against), `scores` {split: [{main_score,
hf_subset, languages, ...the metrics our mteb protocol computed}]}, `evaluation_time`, `kg_co2_emissions`,
`date`; plus a `harness` object (ignored by mteb's loader) saying what computed the numbers and from which data.
`dataset_revision` is the revision our task read when it reads MTEB's own dataset repository, else the revision
of MTEB's dataset whose content ours equals (harness.mteb_tasks says why for each).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.errors import HarnessError
from harness.model_index import variant_metrics
from harness.mteb_tasks import MAPPED, MTEB_VERSION, by_mteb_name, unmapped_reason
from harness.results import TaskResult, read_results
from harness.runinfo import read_run_info
from harness.st_config import HUB_ID
from harness.summary import Summary

NO_REVISION = "no_revision_available"  # mteb's own placeholder for a model without a revision
_SHA = re.compile(r"^[0-9a-f]{40}$")
_FRAMEWORKS = {"sentence_transformers": ["Sentence Transformers", "PyTorch"],
               "transformers": ["Transformers", "PyTorch"], "static": ["NumPy"], "openai": ["API"], "callable": []}


def model_identity(results: list[TaskResult], run_name: str | None) -> tuple[str, str]:
    """(name, revision) as MTEB names a model: the hub id and the commit it was read at, when the run knows
    them; else the run's model name and mteb's "no revision" placeholder."""
    model = results[0].provenance.get("model", {}) if results else {}
    path = str(model.get("path") or "")
    name = path if HUB_ID.match(path) and not Path(path).exists() else (run_name or model.get("name") or "unknown")
    revision = model.get("resolved") or (model.get("revision") if _SHA.match(str(model.get("revision"))) else None)
    return name, revision or NO_REVISION


def task_file(result: TaskResult, seconds: float | None, finished: str | None) -> dict[str, Any]:
    mapped = MAPPED[result.task]
    ours = result.provenance.get("dataset", {})
    hub = ours.get("hub") or {}
    revision = hub.get("revision") if hub.get("path") == mapped.dataset else mapped.revision
    metrics = {mapped.main_score: result.metric_value,
               **variant_metrics(result.details.get("test_scores"), prefixed=mapped.prefixed)}
    scores = {"main_score": result.metric_value, "hf_subset": mapped.subset, "languages": list(mapped.languages),
              **{k: v for k, v in metrics.items() if k not in ("main_score", "hf_subset", "languages")}}
    return {
        "dataset_revision": revision,
        "task_name": mapped.name,
        "mteb_version": MTEB_VERSION,
        "scores": {mapped.split: [scores]},
        "evaluation_time": seconds,
        "kg_co2_emissions": None,
        "date": datetime.fromisoformat(finished).timestamp() if finished else None,
        "harness": {"computed_by": f"harness {result.provenance.get('versions', {}).get('harness', '?')}, protocol "
                                   f"{result.protocol} (MTEB's scoring re-implemented); task definitions as mteb "
                                   f"{MTEB_VERSION}",
                    "task": result.task, "why_this_mteb_task": mapped.why, "data": ours.get("parts"),
                    "model": result.provenance.get("model")},
    }


def model_meta(name: str, revision: str, results: list[TaskResult]) -> dict[str, Any]:
    """mteb's ModelMeta as a dict (what mteb writes beside its results): what the run knows, null elsewhere."""
    model = results[0].provenance.get("model", {}) if results else {}
    fields = ("release_date", "languages", "n_parameters", "n_active_parameters_override",
              "n_embedding_parameters", "memory_usage_mb", "embed_dim", "license", "open_weights",
              "public_training_code", "public_training_data", "reference", "use_instructions", "training_datasets",
              "adapted_from", "superseded_by", "citation", "contacts", "experiment_kwargs", "output_dtypes",
              "extra_requirements_groups")
    return {"name": name, "revision": revision, **{f: None for f in fields},
            "max_tokens": model.get("max_length"), "framework": _FRAMEWORKS.get(model.get("backend"), []),
            "similarity_fn_name": model.get("similarity"), "modalities": ["text"], "model_type": ["dense"],
            "loader": None, "loader_kwargs": {}, "is_cross_encoder": False}


def export(run_dir: Path, out: Path, name: str | None = None, revision: str | None = None) -> list[str]:
    """Write the run's mapped results in MTEB's layout under `out`; the lines to print (written, skipped)."""
    run_dir = Path(run_dir)
    results = read_results(run_dir)
    if not results:
        raise HarnessError(f"{run_dir}: no score files (<Category>/scores_<task>.json) to export")
    info = read_run_info(run_dir)
    auto_name, auto_revision = model_identity(results, info.model_name if info else None)
    name, revision = name or auto_name, revision or auto_revision
    folder = Path(out) / name.replace("/", "__").replace(" ", "_") / revision
    lines, written = [], 0
    for result in results:
        if result.task not in MAPPED:
            lines.append(f"skipped {result.task}: {unmapped_reason(result.task, result.family)}")
        elif result.protocol != "mteb":
            lines.append(f"skipped {result.task}: computed under protocol {result.protocol}, not mteb "
                         f"(rerun with protocol=mteb)")
        else:
            seconds = (info.seconds_per_task.get(result.task) if info else None)
            data = task_file(result, seconds, info.finished if info else None)
            write_json(folder / f"{data['task_name']}.json", data)
            written += 1
            lines.append(f"{result.task} -> {folder / (data['task_name'] + '.json')}")
    if not written:
        raise HarnessError(f"{run_dir}: no result maps to an MTEB task ({'; '.join(lines)})")
    write_json(folder / "model_meta.json", model_meta(name, revision, results))
    return lines


def read_task_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: not an MTEB result file ({exc})") from None
    for key in ("task_name", "scores"):
        if not isinstance(data, dict) or key not in data:
            raise HarnessError(f"{path}: missing field '{key}' (not an MTEB result file)")
    return data


def import_files(paths: list[Path]) -> tuple[Summary, tuple[str, str] | None, list[str], list[str]]:
    """(summary of the mapped tasks' main scores, (name, revision) of a model_meta.json beside the files,
    where each figure comes from, lines about files not imported)."""
    from harness.spec import CATEGORIES
    from harness.taskspec import load_task

    known = by_mteb_name()
    summary: Summary = {}
    model, origins, notes = None, [], []
    for path in paths:
        path = Path(path)
        if path.name == "model_meta.json":
            continue
        data = read_task_file(path)
        if data["task_name"] not in known:
            notes.append(f"skipped {path}: MTEB task {data['task_name']} maps to no harness task")
            continue
        task, mapped = known[data["task_name"]]
        entry = next((s for s in data["scores"].get(mapped.split) or [] if s.get("hf_subset") == mapped.subset),
                     None)
        if entry is None or not isinstance(entry.get("main_score"), (int, float)):
            notes.append(f"skipped {path}: no main_score for split {mapped.split}, subset {mapped.subset}")
            continue
        spec = load_task(task)
        summary.setdefault(spec.category, {})[task] = {mapped.main_score: float(entry["main_score"])}
        meta = path.parent / "model_meta.json"
        if meta.is_file() and model is None:
            model = read_model_meta(meta)
        origins.append(f"{path.name} ({data['task_name']} {mapped.split}/{mapped.subset}, dataset revision "
                       f"{data.get('dataset_revision')}, mteb {data.get('mteb_version')})")
    ordered = {c: summary[c] for c in CATEGORIES if c in summary}  # JMTEB's category order, as summary.json
    return ordered, model, origins, notes


def read_model_meta(path: Path) -> tuple[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc})") from None
    return (str(data["name"]), str(data.get("revision"))) if isinstance(data, dict) and data.get("name") else None
