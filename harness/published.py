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
from harness.identity import distinct_labels
from harness.runinfo import RunInfo, read_run_info
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

    A result directory's model name comes from its run.json; a published one-model file's from `_model`. When
    two result directories name the same model, each is named by its run identity's label instead (harness.
    identity: "<model> [<protocols>]", followed by what tells the runs apart), so two runs of one model are
    two rows, never one.
    """
    scores: Scores = {}
    sources = []
    runs: list[tuple[str, Summary, RunInfo | None, Path]] = []
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
            run = read_run_info(file.parent) if file.name == FILE and "_model" not in data else None
            runs.append((_model_name(file, data, run), parse_summary(data, str(file)), run, file.parent))
    for name, (_, summary, _, path) in zip(_run_names(runs), runs):
        if name in scores:  # two sources, one name: one would silently replace the other's row
            raise HarnessError(f"{path}: its model name '{name}' is already given by another source; give result "
                               f"directories with their run.json, or set a distinct '_model'")
        scores[name] = summary
    return scores, sources


def _run_names(runs: list[tuple[str, Summary, RunInfo | None, Path]]) -> list[str]:
    """Each source's name: its model's, or where result directories share one, their distinct labels."""
    names = [name for name, _, _, _ in runs]
    shared = {n for n in names if sum(1 for m, _, run, _ in runs if m == n and run is not None) > 1}
    group = [i for i, (name, _, run, _) in enumerate(runs) if name in shared and run is not None]
    labels = distinct_labels([(runs[i][2].label or runs[i][0], runs[i][2].identity, runs[i][2].identity_key)
                              for i in group])
    for i, label in zip(group, labels):
        names[i] = label
    repeated = {i for i in group if names.count(names[i]) > 1}
    for i in repeated:  # the same identity twice (a copy of a directory), or runs written before identities
        names[i] = f"{names[i]} ({runs[i][3]})"
    return names


def _model_name(file: Path, data: dict, run: RunInfo | None) -> str:
    if "_model" in data:
        return data["_model"]
    if run is not None:
        if not run.model_name:
            raise HarnessError(f"{file.parent / 'run.json'}: field 'model.name' missing or unreadable")
        return run.model_name
    return file.parent.name if file.name == FILE else file.stem
