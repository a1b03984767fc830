"""Score files, in JMTEB's layout, and the set of files a run writes. This module is the only reader and writer
of score files.

    <output_dir>/<Category>/scores_<task>.json   {metric_name, metric_value, details, provenance, ...}
    <output_dir>/summary.json                     harness.summary
    <output_dir>/run.json                         harness.runinfo
    <output_dir>/dim<d>/...                       the same, for a Matryoshka truncation
A run builds the set in a staging directory and swaps it in whole (harness.resultset).
Leaderboards and checks read these files; they never re-evaluate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
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


def score_rel(category: str, key: str) -> PurePosixPath:
    """Where a task's score file lives inside a result directory."""
    return PurePosixPath(category) / f"scores_{key}.json"


def score_path(output_dir: Path, result: TaskResult) -> Path:
    return Path(output_dir) / score_rel(result.category, result.task)


def write_score(output_dir: Path, result: TaskResult) -> Path:
    path = score_path(output_dir, result)
    write_json(path, result.to_json())
    return path


def write_results(output_dir: Path, results: list[TaskResult], run_info: RunInfo | dict[str, Any],
                  missing: dict[str, str] | None = None) -> None:
    """A complete set in `output_dir`: score files, summary.json of exactly `results` (in their order, with the
    tasks that failed under `_missing`), then run.json. The runner builds sets in a staging directory
    (harness.resultset); this writes into the directory given."""
    output_dir = Path(output_dir)
    for result in results:
        write_score(output_dir, result)
    write_summary(output_dir, summary_of(results), missing)
    write_run_info(output_dir, run_info)


def read_score(path: Path) -> TaskResult:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: not a valid score file ({exc})") from None
    return TaskResult.from_json(data, str(path))


def read_results(output_dir: Path) -> list[TaskResult]:
    return [read_score(path) for path in sorted(Path(output_dir).glob("*/scores_*.json"))]
