"""`harness check`: a regression gate comparing a run's main metrics with a baseline run.

Exit 0 when no main metric fell by more than the tolerance, 1 otherwise (a task missing from the results
counts as a fall). Improvements never fail. The table of differences is always printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.errors import HarnessError


def read_summary(path: Path) -> dict[str, tuple[str, float]]:
    """task -> (main metric, value) from a result directory or a summary.json file."""
    file = path / "summary.json" if path.is_dir() else path
    if not file.is_file():
        raise HarnessError(f"{file}: no summary.json")
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{file}: not valid JSON ({exc})") from None
    flat = {}
    for category, tasks in summary.items():
        if category.startswith("_"):  # "_source": where published figures come from
            continue
        for task, metrics in tasks.items():
            if not isinstance(metrics, dict) or len(metrics) != 1:
                raise HarnessError(f"{file}: field '{category}.{task}' must hold exactly one main metric")
            (metric, value), = metrics.items()
            flat[task] = (metric, float(value))
    return flat


def compare(baseline: dict, results: dict, tolerance: float) -> tuple[list[tuple], bool]:
    rows, ok = [], True
    for task, (metric, base) in baseline.items():
        if task not in results:
            rows.append((task, metric, base, None, None, "MISSING"))
            ok = False
            continue
        new_metric, new = results[task]
        if new_metric != metric:
            rows.append((task, f"{metric}->{new_metric}", base, new, None, "METRIC CHANGED"))
            ok = False
            continue
        diff = new - base
        verdict = "ok" if diff >= -tolerance else "FAIL"
        ok &= verdict == "ok"
        rows.append((task, metric, base, new, diff, verdict))
    return rows, ok


def main(args: argparse.Namespace) -> int:
    rows, ok = compare(read_summary(args.baseline), read_summary(args.results), args.tolerance)
    print(f"| task | metric | baseline | result | diff | verdict (tolerance {args.tolerance:g}) |")
    print("|---|---|---:|---:|---:|---|")
    fmt = lambda v: "-" if v is None else f"{v:.6f}"  # noqa: E731
    for task, metric, base, new, diff, verdict in rows:
        print(f"| {task} | {metric} | {fmt(base)} | {fmt(new)} | {'-' if diff is None else f'{diff:+.6f}'} | {verdict} |")
    print("check passed" if ok else "check FAILED: a main metric fell beyond tolerance")
    return 0 if ok else 1
