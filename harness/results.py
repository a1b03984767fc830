"""Score files, in JMTEB's layout, and the set of files a run writes. This module is the only reader and writer
of score files.

    <output_dir>/<Category>/scores_<task>.json   {metric_name, metric_value, details, provenance, ...}
    <output_dir>/summary.json                     harness.summary
    <output_dir>/run.json                         harness.runinfo
Leaderboards and checks read these files; they never re-evaluate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.errors import HarnessError
from harness.runinfo import RunInfo, write_run_info
from harness.summary import summary_of, write_summary


@dataclass(frozen=True)
class TaskResult:
    task: str  # the result key: the task's name, or <task>_<protocol> for a suite's task@protocol entry
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
        if not isinstance(data, dict):
            raise HarnessError(f"{where}: not a score file (expected a JSON object)")
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except KeyError as exc:
            raise HarnessError(f"{where}: missing field {exc} in a score file") from None


def score_path(output_dir: Path, result: TaskResult) -> Path:
    return Path(output_dir) / result.category / f"scores_{result.task}.json"


def write_results(output_dir: Path, results: list[TaskResult], run_info: RunInfo) -> None:
    """Score files, then summary.json (merged with tasks of earlier runs in the same directory), then run.json."""
    output_dir = Path(output_dir)
    for result in results:
        write_json(score_path(output_dir, result), result.to_json())
    merged = {r.task: r for r in read_results(output_dir)} if output_dir.exists() else {}
    merged.update({r.task: r for r in results})
    write_summary(output_dir, summary_of(merged.values()))
    write_run_info(output_dir, run_info)


def read_results(output_dir: Path) -> list[TaskResult]:
    results = []
    for path in sorted(Path(output_dir).glob("*/scores_*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HarnessError(f"{path}: not a valid score file ({exc})") from None
        results.append(TaskResult.from_json(data, str(path)))
    return results
