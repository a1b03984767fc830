"""`harness leaderboard`: JMTEB-style tables read from result directories (never re-evaluates).

Summary table: one row per model, `Avg.` = mean over all datasets (JMTEB's micro average since 2024-09),
one column per category = mean of its datasets; rows sorted by the unrounded average, the best value of
each column in bold, values shown as f"{x*100:.2f}" like JMTEB's make_leaderboard.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from harness.atomic import write_text
from harness.check import read_summary  # noqa: F401  (same file format)
from harness.errors import HarnessError
from harness.taskspec import CATEGORIES

# JMTEB's leaderboard column order (v1); categories absent from every model are dropped.
ORDER = ("Retrieval", "STS", "Classification", "Reranking", "Clustering", "PairClassification")


def load(dirs: list[Path]) -> dict[str, dict[str, dict[str, float]]]:
    """model name -> {category: {task: value}} from each directory's summary.json (and run.json for the name)."""
    models = {}
    for d in dirs:
        summary_file = d / "summary.json" if d.is_dir() else d
        if not summary_file.is_file():
            raise HarnessError(f"{summary_file}: no summary.json")
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        run = summary_file.parent / "run.json"
        name = json.loads(run.read_text(encoding="utf-8"))["model"]["name"] if run.is_file() else summary_file.parent.name
        models[name] = {c: {t: next(iter(m.values())) for t, m in tasks.items()} for c, tasks in summary.items()}
    return models


def table(models: dict[str, dict[str, dict[str, float]]]) -> tuple[list[str], list[list]]:
    categories = [c for c in ORDER if any(c in m for m in models.values())]
    rows = []
    for name, cats in models.items():
        values = [v for c in categories for v in cats.get(c, {}).values()]
        avg = sum(values) / len(values) if values else float("nan")
        rows.append([name, avg] + [_mean(cats.get(c, {}).values()) for c in categories])
    rows.sort(key=lambda r: r[1], reverse=True)
    return ["Model", "Avg."] + categories, rows


def _mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def markdown(header: list[str], rows: list[list]) -> str:
    best = [max((r[i] for r in rows if r[i] is not None), default=None) for i in range(len(header))]
    cells = [[r[0]] + [("" if v is None else (f"**{v * 100:.2f}**" if v == best[i] else f"{v * 100:.2f}"))
                       for i, v in enumerate(r) if i > 0] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *cells)]
    line = lambda xs: "| " + " | ".join(str(x).ljust(w) for x, w in zip(xs, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join(":" + "-" * (w + 1) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(c) for c in cells]) + "\n"


def main(args: argparse.Namespace) -> int:
    header, rows = table(load(args.dirs))
    if args.format == "md":
        text = "## Summary\n\n" + markdown(header, rows)
    elif args.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        text = json.dumps([dict(zip(header, r)) for r in rows], indent=2) + "\n"
    if args.output:
        write_text(args.output, text)
    else:
        print(text, end="")
    return 0


assert set(ORDER) == set(CATEGORIES)
