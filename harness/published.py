"""Published references (results/published/*.json) and the score sources tables, reports, checks and plots
read: result directories, summary.json files and published files. This module is the only reader of
published files.

A published file is a summary (harness.summary) with metadata: `_source` (where the figures come from, always
present), `_model` (the model's name, for a one-model file), `_tolerance` ({task: allowed difference}); or
{"_source": ..., "models": {model: summary}} for many models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.errors import HarnessError
from harness.runinfo import read_run_info
from harness.summary import FILE, Summary, load_json, parse_summary

Scores = dict[str, Summary]  # model -> its summary


def is_published(path: Path) -> bool:
    """A JSON file with a `_source` (run directories and plain summary.json files have none)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        return "_source" in load_json(path)[1]
    except HarnessError:
        return False


def published(summary: Summary, source: str, model: str | None = None,
              tolerance: dict[str, float] | None = None) -> dict[str, Any]:
    """A one-model published file's content: `_source`, `_model`, `_tolerance`, then the summary."""
    if not source.strip():
        raise HarnessError("a published reference needs a non-empty `_source` (where its figures come from)")
    head: dict[str, Any] = {"_source": source}
    if model:
        head["_model"] = model
    if tolerance:
        head["_tolerance"] = tolerance
    return {**head, **summary}


def write_published(path: Path, data: dict[str, Any]) -> None:
    write_json(Path(path), data)


def tolerances(data: dict[str, Any], file: Path) -> dict[str, float]:
    """Per-task tolerances a baseline or published file declares in `_tolerance`."""
    raw = data.get("_tolerance", {})
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                                            for v in raw.values()):
        raise HarnessError(f"{file}: field '_tolerance' must map task names to non-negative numbers")
    return {task: float(v) for task, v in raw.items()}


def read_tolerances(path: Path) -> dict[str, float]:
    file, data = load_json(path)
    return tolerances(data, file)


def load_scores(paths: list[Path]) -> tuple[Scores, list[str]]:
    """Scores of every model in the given result directories / summary.json / published files, and where each
    source's figures come from (a published file's `_source`, else the file).

    A result directory's model name comes from its run.json; a published one-model file's from `_model`.
    """
    scores: Scores = {}
    sources = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise HarnessError(f"{path}: no such result directory, summary.json or published file")
        file, data = load_json(path)
        sources.append(data.get("_source", str(file)))
        if "models" in data:
            if not isinstance(data["models"], dict):
                raise HarnessError(f"{file}: field 'models' must map model names to summaries")
            for name, summary in data["models"].items():
                scores[name] = parse_summary(summary, f"{file}: field 'models.{name}'")
        else:
            scores[_model_name(file, data)] = parse_summary(data, str(file))
    return scores, sources


def _model_name(file: Path, data: dict) -> str:
    if "_model" in data:
        return data["_model"]
    run = read_run_info(file.parent) if file.name == FILE else None
    if run is not None:
        if not run.model_name:
            raise HarnessError(f"{file.parent / 'run.json'}: field 'model.name' missing or unreadable")
        return run.model_name
    return file.parent.name if file.name == FILE else file.stem
