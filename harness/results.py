"""Typed result records and their files, in JMTEB's layout.

    <output_dir>/<Category>/scores_<task>.json   {metric_name, metric_value, details, provenance, ...}
    <output_dir>/summary.json                     {Category: {task: {main_metric: value}}}
    <output_dir>/run.json                         when, how long, cache hits: kept apart so score files
                                                  of two identical runs are byte-identical
Leaderboards and checks read these files; they never re-evaluate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.errors import HarnessError
from harness.taskspec import CATEGORIES


@dataclass(frozen=True)
class TaskResult:
    task: str
    category: str
    family: str
    protocol: str
    metric_name: str
    metric_value: float
    details: dict[str, Any]
    provenance: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        # JMTEB's three keys first, so JMTEB tooling reads our files unchanged.
        data = asdict(self)
        head = {k: data.pop(k) for k in ("metric_name", "metric_value", "details")}
        return {**head, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> TaskResult:
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except KeyError as exc:
            raise HarnessError(f"{where}: missing field {exc} in a score file") from None


def summary_of(results: list[TaskResult]) -> dict[str, dict[str, dict[str, float]]]:
    """JMTEB's summary.json shape; categories in JMTEB's run order, tasks in run order."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for category in CATEGORIES:
        for r in results:
            if r.category == category:
                summary.setdefault(category, {})[r.task] = {r.metric_name: r.metric_value}
    return summary


def score_path(output_dir: Path, result: TaskResult) -> Path:
    return Path(output_dir) / result.category / f"scores_{result.task}.json"


def write_results(output_dir: Path, results: list[TaskResult], run_info: dict[str, Any]) -> None:
    """Score files, then summary.json (merged with tasks of earlier runs in the same directory), then run.json."""
    output_dir = Path(output_dir)
    for result in results:
        write_json(score_path(output_dir, result), result.to_json())
    merged = {r.task: r for r in read_results(output_dir)} if output_dir.exists() else {}
    merged.update({r.task: r for r in results})
    write_json(output_dir / "summary.json", summary_of(list(merged.values())))
    write_json(output_dir / "run.json", run_info)


def read_results(output_dir: Path) -> list[TaskResult]:
    results = []
    for path in sorted(Path(output_dir).glob("*/scores_*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HarnessError(f"{path}: not a valid score file ({exc})") from None
        results.append(TaskResult.from_json(data, str(path)))
    return results
