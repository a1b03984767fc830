"""`harness check`: a regression gate comparing a run's main metrics with a baseline run.

Exit 0 when no main metric fell by more than its tolerance, 1 otherwise (a task missing from the results
counts as a fall). Improvements never fail. The table of differences is always printed.

Tolerances: `--tolerance 1e-4` (global) and `--tolerance jsts=2e-4` (one task), repeatable. A baseline file
may carry per-task tolerances in `_tolerance` ({task: value}); precedence: a task given on the command line,
then the baseline's `_tolerance`, then the global value (default 1e-4).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError
from harness.published import read_tolerances
from harness.summary import load_json, main_metrics, parse_summary
from harness.tolerance import parse_tolerances, tolerance_for

__all__ = ["compare", "main", "parse_tolerances", "read_main_metrics"]


def read_main_metrics(path: Path) -> dict[str, tuple[str, float]]:
    """task -> (main metric, value) from a result directory, a summary.json or a published file."""
    file, data = load_json(path)
    return main_metrics(parse_summary(data, str(file)))


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
    baseline = read_main_metrics(args.baseline)
    default, cli = parse_tolerances(args.tolerance)
    unknown = sorted(set(cli) - set(baseline))
    if unknown:
        raise HarnessError(f"--tolerance {unknown[0]}=...: task '{unknown[0]}' is not in {args.baseline}")
    from_file = read_tolerances(args.baseline)
    tolerances = {task: tolerance_for(task, default, from_file, cli) for task in baseline}
    rows, ok = compare(baseline, read_main_metrics(args.results), tolerances)
    print("| task | metric | baseline | result | diff | tolerance | verdict |")
    print("|---|---|---:|---:|---:|---:|---|")
    fmt = lambda v: "-" if v is None else f"{v:.6f}"  # noqa: E731
    for task, metric, base, new, diff, tol, verdict in rows:
        shown = "-" if diff is None else f"{diff:+.6f}"
        print(f"| {task} | {metric} | {fmt(base)} | {fmt(new)} | {shown} | {tol:g} | {verdict} |")
    print("check passed" if ok else "check FAILED: a main metric fell beyond tolerance")
    return 0 if ok else 1
