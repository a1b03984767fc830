"""summary.json: {Category: {task: {metric: value}}}, JMTEB's shape. This module is its only reader and writer.

The first metric of a task is its main metric; the metrics after it are every other figure the task's chosen
variant scored on its test split (a score file's `test_scores` and `extra_scores` of the `optimal_*` choice), so
card tables and reports that ask for another metric (Pearson beside Spearman, accuracy@k beside nDCG@10) read it
here. Keys starting with "_" are metadata (a published reference's
`_source`, `_model`, `_tolerance`: harness.published; a run's `_missing`: {task: error line} for the tasks it
planned but could not score) and are not tasks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.atomic import write_json
from harness.errors import HarnessError
from harness.spec import CATEGORIES

Summary = dict[str, dict[str, dict[str, float]]]  # category -> task -> metric -> value (first = main)
FILE = "summary.json"
MISSING = "_missing"  # {task: error line}: planned tasks of the run that failed (harness.runner)


class Scored(Protocol):
    task: str
    category: str
    metric_name: str
    metric_value: float
    details: dict[str, Any]


def metrics_of(result: Scored) -> dict[str, float]:
    """The main metric first, then the chosen variant's other test figures (thresholds are not metrics)."""
    details = result.details if isinstance(result.details, dict) else {}
    chosen = next((value for key, value in details.items() if key.startswith("optimal_")), None)
    out = {result.metric_name: result.metric_value}
    for block in ("test_scores", "extra_scores"):
        scores = details.get(block)
        scores = scores.get(chosen) if isinstance(scores, dict) else None
        for metric, value in (scores or {}).items():
            if _is_number(value) and math.isfinite(value) and not metric.endswith("_threshold"):
                out.setdefault(metric, float(value))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summary_of(results: Iterable[Scored]) -> Summary:
    """JMTEB's summary.json shape; categories in JMTEB's run order, tasks in run order."""
    results = list(results)
    summary: Summary = {}
    for category in CATEGORIES:
        for r in results:
            if r.category == category:
                summary.setdefault(category, {})[r.task] = metrics_of(r)
    return summary


def write_summary(directory: Path, summary: Summary, missing: Mapping[str, str] | None = None) -> None:
    """`missing`: tasks of the run that failed, each with its error line, under `_missing` (after the tasks)."""
    write_json(Path(directory) / FILE, {**summary, MISSING: dict(missing)} if missing else summary)


def missing_tasks(data: Any) -> dict[str, str]:
    """The `_missing` entry of a summary: tasks a run planned but could not score, with the reason."""
    missing = data.get(MISSING) if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in missing.items()} if isinstance(missing, dict) else {}


def load_json(path: Path) -> tuple[Path, dict[str, Any]]:
    """(file, object) of a result directory's summary.json or of a JSON file; bad JSON is one line."""
    path = Path(path)
    file = path / FILE if path.is_dir() else path
    if not file.is_file():
        raise HarnessError(f"{file}: no such file" if file.name != FILE else f"{file}: no summary.json")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{file}: expected a JSON object {{Category: {{task: {{metric: value}}}}}}")
    return file, data


def parse_summary(data: Any, where: str) -> Summary:
    """A summary's task entries, checked: every metric a finite number (a NaN would be printed as a score);
    "_" keys skipped."""
    if not isinstance(data, dict):
        raise HarnessError(f"{where}: expected {{Category: {{task: {{metric: value}}}}}}")
    out: Summary = {}
    for category, tasks in data.items():
        if category.startswith("_"):
            continue
        if not isinstance(tasks, dict):
            raise HarnessError(f"{where}: field '{category}' must map tasks to metrics")
        for task, metrics in tasks.items():
            if not isinstance(metrics, dict) or not metrics:
                raise HarnessError(f"{where}: field '{category}.{task}' must map metric names to values")
            for metric, value in metrics.items():
                if not _is_number(value) or not math.isfinite(value):
                    raise HarnessError(f"{where}: field '{category}.{task}.{metric}' must be a finite number, "
                                       f"got {value!r}")
            out.setdefault(category, {})[task] = {m: float(v) for m, v in metrics.items()}
    return out


def read_summary(path: Path) -> Summary:
    """The summary of a result directory, or of a summary.json file."""
    file, data = load_json(path)
    return parse_summary(data, str(file))


def main_value(metrics: Mapping[str, float]) -> tuple[str, float]:
    return next(iter(metrics.items()))


def datasets_once(tasks: Iterable[str]) -> list[str]:
    """Task keys with each dataset once: a suite's `task@protocol` entry (result key `<task>_<protocol>`, e.g.
    offline_real's scifact_nanobeir beside scifact) is the same dataset scored another way, so a mean over the
    category's datasets must not count it again."""
    from harness.families import PROTOCOLS

    tasks = list(tasks)
    present = set(tasks)
    return [t for t in tasks if not any(t == f"{base}_{p}" and base in present
                                        for p in PROTOCOLS for base in [t[: -len(p) - 1]])]


def main_metrics(summary: Summary) -> dict[str, tuple[str, float]]:
    """task -> (main metric, value)."""
    return {task: main_value(metrics) for tasks in summary.values() for task, metrics in tasks.items()}
