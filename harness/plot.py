"""`harness plot`: PNG charts from result directories and published references (never re-evaluates).

One chart per category: a group of bars per dataset, one bar per model (runs marked "reproduced", published
references marked "published"), values x100 written on the bars; plus summary.png with the category means.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from harness.atomic import write_with
from harness.errors import HarnessError
from harness.published import Scores, is_published, load_scores
from harness.summary import datasets_once, main_value

CATEGORY_ORDER = ("Retrieval", "STS", "Classification", "Reranking", "Clustering", "PairClassification")


def series(sources: list[Path], published: list[Path], models: list[str] | None) -> dict[str, dict]:
    """Label -> {category: {task: (metric, value)}}: runs ("reproduced") first, then published models.

    A file with a `_source` is a published reference; `models` picks which of its models to draw.
    """
    out: dict[str, dict] = {}
    runs = [p for p in sources if not is_published(p)]
    if runs:  # loaded together: two runs of one model get distinct names (harness.published.load_scores)
        scores, _ = load_scores(runs)
        for name, cats in scores.items():
            out[f"{name} (reproduced)"] = _flatten(cats)
    for path in [p for p in sources if p not in runs] + list(published):
        scores, _ = load_scores([path])
        if models and not any(m in scores for m in models):
            raise HarnessError(f"{path}: none of the models {', '.join(models)}; it holds {', '.join(sorted(scores))}")
        for name in models or list(scores):
            if name in scores:
                out[f"{name} (published)"] = _flatten(scores[name])
    if not out:
        raise HarnessError("harness plot: nothing to draw")
    return out


def _flatten(cats: Scores) -> dict[str, dict[str, tuple[str, float]]]:
    return {c: {t: main_value(m) for t, m in tasks.items()} for c, tasks in cats.items()}


def bar_chart(path: Path, title: str, groups: list[str], bars: dict[str, list[float | None]], ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / max(len(bars), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + len(groups) * (0.5 + 0.45 * len(bars))), 4.8))
    for i, (label, values) in enumerate(bars.items()):
        xs = [g + (i - (len(bars) - 1) / 2) * width for g in range(len(groups))]
        shown = [(x, v * 100) for x, v in zip(xs, values) if v is not None]
        if not shown:
            continue
        rects = ax.bar([x for x, _ in shown], [v for _, v in shown], width, label=label,
                       hatch="//" if label.endswith("(published)") else None, edgecolor="white")
        ax.bar_label(rects, fmt="%.2f", fontsize=7, padding=2, rotation=90 if len(bars) > 3 else 0)
    ax.set_xticks(range(len(groups)), groups, rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3
                  else "center", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    top = max((v for values in bars.values() for v in values if v is not None), default=1.0) * 100
    ax.set_ylim(0, min(110.0, top * 1.18 + 2))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(groups) > 3 else -0.1),
              ncol=min(len(bars), 3), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_with(path, lambda handle: handle.write(buffer.getvalue()))  # atomic, like every file the harness writes


def draw(data: dict[str, dict], output: Path) -> list[Path]:
    categories = [c for c in CATEGORY_ORDER if any(c in s for s in data.values())]
    categories += sorted({c for s in data.values() for c in s} - set(categories))
    written = []
    for category in categories:
        tasks: dict[str, str] = {}
        for s in data.values():
            for task, (metric, _) in s.get(category, {}).items():
                tasks.setdefault(task, metric)
        groups = [f"{t}\n({m})" for t, m in tasks.items()]
        bars = {label: [s.get(category, {}).get(t, (None, None))[1] for t in tasks] for label, s in data.items()}
        path = output / f"{category}.png"
        bar_chart(path, f"{category}: {_kinds(data)} (x100)", groups, bars, "score x100")
        written.append(path)
    means = {label: [_category_mean(s[c]) if c in s else None for c in categories] for label, s in data.items()}
    path = output / "summary.png"
    bar_chart(path, "Category means (mean of each category's datasets, x100)", categories, means, "score x100")
    return written + [path]


def _category_mean(tasks: dict[str, tuple[str, float]]) -> float:
    """Mean over the category's datasets, each once (harness.summary.datasets_once)."""
    once = datasets_once(tasks)
    return sum(tasks[t][1] for t in once) / len(once)


def _kinds(data: dict[str, dict]) -> str:
    kinds = [k for k in ("reproduced", "published") if any(label.endswith(f"({k})") for label in data)]
    return " vs ".join(kinds)


def main(args: argparse.Namespace) -> int:
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    for path in draw(series(args.sources, args.published, models), args.output):
        print(f"wrote {path}")
    return 0
