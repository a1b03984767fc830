"""Tolerances for comparing a run with a baseline or published figures (`harness check`, `harness report`):
`--tolerance 1e-4` (global) and `--tolerance task=2e-4` (one task); a file's `_tolerance` (harness.published)
sits between the two."""

from __future__ import annotations

from harness.errors import HarnessError

DEFAULT_TOLERANCE = 1e-4


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
