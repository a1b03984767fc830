"""`harness check`: a regression gate comparing a run's main metrics with a baseline run.

Exit 0 when no main metric fell by more than its tolerance, 1 otherwise (a task missing from the results
counts as a fall). Improvements never fail. The table of differences is always printed.

Tolerances: `--tolerance 1e-4` (global) and `--tolerance jsts=2e-4` (one task), repeatable. A baseline file
may carry per-task tolerances in `_tolerance` ({task: value}); precedence: a task given on the command line,
then the baseline's `_tolerance`, then the global value (default 1e-4).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.errors import HarnessError

DEFAULT_TOLERANCE = 1e-4


def load_json_object(path: Path) -> tuple[Path, dict]:
    """(file, data) of a result directory's summary.json or a JSON file; bad JSON is one HarnessError line."""
    file = path / "summary.json" if path.is_dir() else path
    if not file.is_file():
        raise HarnessError(f"{file}: no summary.json")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{file}: expected a JSON object {{Category: {{task: {{metric: value}}}}}}")
    return file, data


def read_summary(path: Path) -> dict[str, tuple[str, float]]:
    """task -> (main metric, value) from a result directory or a summary.json file."""
    file, summary = load_json_object(path)
    flat = {}
    for category, tasks in summary.items():
        if category.startswith("_"):  # "_source": where published figures come from; "_tolerance"
            continue
        if not isinstance(tasks, dict):
            raise HarnessError(f"{file}: field '{category}' must map tasks to metrics")
        for task, metrics in tasks.items():
            if not isinstance(metrics, dict) or len(metrics) != 1:
                raise HarnessError(f"{file}: field '{category}.{task}' must hold exactly one main metric")
            (metric, value), = metrics.items()
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise HarnessError(f"{file}: field '{category}.{task}.{metric}' must be a number")
            flat[task] = (metric, float(value))
    return flat


def file_tolerances(path: Path) -> dict[str, float]:
    """Per-task tolerances a baseline or published file declares in `_tolerance`."""
    file, data = load_json_object(path)
    raw = data.get("_tolerance", {})
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                                            for v in raw.values()):
        raise HarnessError(f"{file}: field '_tolerance' must map task names to non-negative numbers")
    return {task: float(v) for task, v in raw.items()}


def parse_tolerances(values: float | list[str] | None) -> tuple[float, dict[str, float]]:
    """`1e-4` and `task=2e-4` options -> (global tolerance, per-task tolerances)."""
    if values is None:
        return DEFAULT_TOLERANCE, {}
    if isinstance(values, (int, float)):
        return float(values), {}
    default, per_task = DEFAULT_TOLERANCE, {}
    for value in values:
        task, _, number = value.rpartition("=")
        try:
            tolerance = float(number)
        except ValueError:
            raise HarnessError(f"--tolerance {value!r}: expected a number or task=number") from None
        if tolerance < 0:
            raise HarnessError(f"--tolerance {value!r}: a tolerance cannot be negative")
        if task:
            per_task[task] = tolerance
        else:
            default = tolerance
    return default, per_task


def tolerance_for(task: str, default: float, from_file: dict[str, float], from_cli: dict[str, float]) -> float:
    return from_cli.get(task, from_file.get(task, default))


def compare(baseline: dict, results: dict, tolerance: float | dict[str, float]) -> tuple[list[tuple], bool]:
    """Rows (task, metric, baseline, result, diff, tolerance, verdict) and whether every task passed."""
    rows, ok = [], True
    for task, (metric, base) in baseline.items():
        tol = tolerance[task] if isinstance(tolerance, dict) else tolerance
        if task not in results:
            rows.append((task, metric, base, None, None, tol, "MISSING"))
            ok = False
            continue
        new_metric, new = results[task]
        if new_metric != metric:
            rows.append((task, f"{metric}->{new_metric}", base, new, None, tol, "METRIC CHANGED"))
            ok = False
            continue
        diff = new - base
        verdict = "ok" if diff >= -tol else "FAIL"
        ok &= verdict == "ok"
        rows.append((task, metric, base, new, diff, tol, verdict))
    return rows, ok


def main(args: argparse.Namespace) -> int:
    baseline = read_summary(args.baseline)
    default, cli = parse_tolerances(args.tolerance)
    unknown = sorted(set(cli) - set(baseline))
    if unknown:
        raise HarnessError(f"--tolerance {unknown[0]}=...: task '{unknown[0]}' is not in {args.baseline}")
    from_file = file_tolerances(args.baseline)
    tolerances = {task: tolerance_for(task, default, from_file, cli) for task in baseline}
    rows, ok = compare(baseline, read_summary(args.results), tolerances)
    print("| task | metric | baseline | result | diff | tolerance | verdict |")
    print("|---|---|---:|---:|---:|---:|---|")
    fmt = lambda v: "-" if v is None else f"{v:.6f}"  # noqa: E731
    for task, metric, base, new, diff, tol, verdict in rows:
        shown = "-" if diff is None else f"{diff:+.6f}"
        print(f"| {task} | {metric} | {fmt(base)} | {fmt(new)} | {shown} | {tol:g} | {verdict} |")
    print("check passed" if ok else "check FAILED: a main metric fell beyond tolerance")
    return 0 if ok else 1
