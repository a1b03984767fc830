"""`harness plot`: figures from result directories and published references (never re-evaluates).

One series per run identity (two runs of one model, or Matryoshka sets, are two series: harness.published names
them) and per published model. Figures (harness.figures: dot plots, PNG + SVG + PDF):

* `<Category>`: one panel per dataset, each series' main metric with its bootstrap 95 % interval (runs);
* `summary`: one panel per category, each series' mean over the category's datasets (each dataset once); where
  series cover different datasets of a category, their labels say how many and a note under the figure says so;
* `reproduction` (runs and published figures together): per run and dataset, reproduced minus published, with
  the run's interval and the published file's tolerance as a band around 0.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.figures import Dot, Panel, dot_figure, save
from harness.published import is_published, load_scores, read_tolerances
from harness.report import intervals
from harness.results import read_results
from harness.spec import CATEGORIES
from harness.summary import Summary, datasets_once, main_value
from harness.tolerance import DEFAULT_TOLERANCE, tolerance_for

RESAMPLES = 1000


@dataclass
class Series:
    label: str
    kind: str                                   # reproduced | published
    model: str                                  # the model's name (pairs a run with its published figures)
    scores: Summary                             # category -> task -> {metric: value}, main metric first
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # task -> 95 % interval (runs)
    tolerances: dict[str, float] = field(default_factory=dict)              # task -> tolerance (published)


def series(sources: list[Path], published: list[Path], models: list[str] | None) -> dict[str, Series]:
    """Label -> series: runs ("reproduced") first, then published models.

    A file with a `_source` is a published reference; `models` picks which of its models to draw.
    """
    out: dict[str, Series] = {}
    runs = [Path(p) for p in sources if not is_published(p)]
    if runs:  # loaded together: two runs of one model get distinct names (harness.published.load_scores)
        scores, _ = load_scores(runs)
        if len(scores) != len(runs):  # each run source is one entry, in order: the pairing below rests on it
            raise HarnessError(f"harness plot: {len(runs)} result sources gave {len(scores)} series; give each "
                               f"run's directory (with its run.json)")
        for (name, summary), path in zip(scores.items(), runs):
            directory = path if path.is_dir() else path.parent
            found = {r.task: r for r in read_results(directory)}
            model = next(iter(found.values())).provenance.get("model", {}).get("name", name) if found else name
            cis = {t: (i.low, i.high) for t, i in intervals(found, RESAMPLES, 0).items()}
            out[f"{name} (reproduced)"] = Series(f"{name} (reproduced)", "reproduced", model, summary, cis)
    for path in [p for p in sources if Path(p) not in runs] + list(published):
        scores, _ = load_scores([path])
        if models and not any(m in scores for m in models):
            raise HarnessError(f"{path}: none of the models {', '.join(models)}; it holds {', '.join(sorted(scores))}")
        for name in models or list(scores):
            if name in scores:
                # one model in two published files (JMTEB v1 and v2) is two series, named by their files
                label = f"{name} (published)" if f"{name} (published)" not in out else f"{name} ({Path(path).stem})"
                out[label] = Series(label, "published", name, scores[name], tolerances=read_tolerances(path))
    if not out:
        raise HarnessError("harness plot: nothing to draw")
    return out


def categories_of(data: dict[str, Series]) -> list[str]:
    present = {c for s in data.values() for c in s.scores}
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))


def panel_metric(having: list[Series], category: str, task: str) -> str:
    """The metric a dataset is drawn in: the first published series' main metric (as the leaderboard and the
    report name the card's), else the first series'; a series without it is left out of that dataset."""
    first = next((s for s in having if s.kind == "published"), having[0])
    return main_value(first.scores[category][task])[0]


def category_figure(data: dict[str, Series], category: str):
    tasks = list(dict.fromkeys(t for s in data.values() for t in s.scores.get(category, {})))
    panels = []
    for task in tasks:
        having = [s for s in data.values() if task in s.scores.get(category, {})]
        metric = panel_metric(having, category, task)
        other = [s.label for s in having if metric not in s.scores[category][task]]
        if other:  # never another metric's value under this panel's name
            print(f"warning: {category} figure: {', '.join(other)} have no {metric} for {task}; not drawn there",
                  file=sys.stderr)
        panels.append(Panel(f"{task} ({metric})", [
            Dot(s.label, s.kind, s.scores[category][task][metric],
                s.intervals.get(task) if main_value(s.scores[category][task])[0] == metric else None)
            for s in having if s.label not in other]))
    return dot_figure(f"{category}: main metric per dataset (x100; error bars: bootstrap 95 % interval)", panels,
                      "score x100")


def summary_figure(data: dict[str, Series]):
    panels, uneven = [], []
    for category in categories_of(data):
        with_category = [s for s in data.values() if category in s.scores]
        metric = {t: panel_metric([s for s in with_category if t in s.scores[category]], category, t)
                  for s in with_category for t in s.scores[category]}
        # a series whose main metric differs on any dataset (a mteb run's cosine_spearman beside JMTEB's
        # spearman) has no comparable mean: left out, with a warning
        having = [s for s in with_category if all(metric[t] in s.scores[category][t] for t in s.scores[category])]
        if len(having) < len(with_category):
            print(f"warning: summary figure: {', '.join(s.label for s in with_category if s not in having)} have "
                  f"not every {category} dataset in the metric drawn; not drawn there", file=sys.stderr)
        if not having:
            continue
        covered = {s.label: datasets_once(s.scores[category]) for s in having}
        differ = len({tuple(sorted(c)) for c in covered.values()}) > 1
        if differ:
            uneven.append(category)
        dots = [Dot(s.label, s.kind, sum(s.scores[category][t][metric[t]] for t in covered[s.label])
                    / len(covered[s.label]),
                    note=_datasets(len(covered[s.label])) if differ else "") for s in having]
        panels.append(Panel(category, dots))
    note = (f"Category means over different datasets (not comparable as they stand): {', '.join(uneven)}; the "
            f"number beside each dot is how many datasets its mean covers." if uneven else "")
    return dot_figure("Category means (mean of each category's datasets, each dataset once; x100)", panels,
                      "score x100", note)


def _datasets(n: int) -> str:
    return f"{n} dataset" + ("" if n == 1 else "s")


def reproduction_figure(data: dict[str, Series]):
    """Per run: reproduced minus published per dataset, the tolerance band around 0; None without both kinds."""
    published = [s for s in data.values() if s.kind == "published"]
    panels = []
    for run in (s for s in data.values() if s.kind == "reproduced"):
        reference = next((p for p in published if p.model == run.model), None)
        if reference is None and len(published) == 1:  # published names often differ (hub id vs config name)
            reference = published[0]
            print(f"warning: reproduction figure: run '{run.label}' (model {run.model}) is compared with the only "
                  f"published model, {reference.model}", file=sys.stderr)
        if reference is None:
            continue
        dots, band = [], []
        for category, tasks in reference.scores.items():
            for task, metrics in tasks.items():
                metric, value = main_value(metrics)
                mine = run.scores.get(category, {}).get(task, {})
                if metric not in mine:
                    continue
                ci = run.intervals.get(task) if main_value(mine)[0] == metric else None
                shifted = (ci[0] - value, ci[1] - value) if ci else None
                dots.append(Dot(f"{task} ({metric})", "reproduced", mine[metric] - value, shifted))
                band.append(tolerance_for(task, DEFAULT_TOLERANCE, reference.tolerances, {}) * 100)
        if dots:
            panels.append(Panel(f"{run.label} vs {reference.label}", dots, band))
    if not panels:
        return None
    return dot_figure("Reproduction: reproduced minus published (x100); green band: tolerance", panels,
                      "difference x100", shared=False)


def draw(data: dict[str, Series], output: Path) -> list[Path]:
    figures = [(category, category_figure(data, category)) for category in categories_of(data)]
    figures.append(("summary", summary_figure(data)))
    reproduction = reproduction_figure(data)
    if reproduction is not None:
        figures.append(("reproduction", reproduction))
    return [path for name, fig in figures for path in save(fig, Path(output) / name)]


def main(args: argparse.Namespace) -> int:
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    for path in draw(series(args.sources, args.published, models), args.output):
        print(f"wrote {path}")
    return 0
