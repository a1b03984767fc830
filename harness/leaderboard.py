"""`harness leaderboard`: tables from result directories and published references (never re-evaluates).

Two layouts, chosen by a table spec (conf/tables/<name>.yaml; see conf/tables/README.md):

* `jmteb`: JMTEB's leaderboard.md — a Summary table (one column per category = mean of its datasets, `Avg.`
  micro = mean over all datasets, or macro = mean of the category means) and one table per category; rows
  sorted by the unrounded average (stable), the maximum of each column in bold, cells f"{x*100:.2f}".
* card layouts: `categories` (a card's JMTEB table), `columns` (one column per dataset/metric, e.g. RoSEtta's
  retrieval table) and `datasets` (one model, one row per dataset plus a mean row, e.g. SSE's NanoBEIR-ja).

Every table says under it which averaging rule produced its averages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.atomic import write_text
from harness.errors import HarnessError
from harness.leaderboard_render import render
from harness.paths import ROOT
from harness.published import Scores, load_scores
from harness.summary import main_value
from harness.tables import AVERAGING, DEFAULT_SPEC, Spec, Table, load_spec

__all__ = ["average", "build", "load_scores", "load_spec", "main"]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def average(per_category: dict[str, list[float]], rule: str) -> float:
    """micro: mean over all datasets; macro: mean of the category means."""
    if rule == "micro":
        return _mean([v for values in per_category.values() for v in values])
    if rule == "macro":
        return _mean([_mean(values) for values in per_category.values()])
    raise HarnessError(f"unknown averaging rule '{rule}'; valid: micro, macro")


def jmteb_tables(scores: Scores, spec: Spec) -> list[Table]:
    """JMTEB's Summary table and one table per category, as its make_leaderboard renders them."""
    first = [m for m in spec.read_order if m in scores]
    models = {m: scores[m] for m in first + [m for m in scores if m not in first]}
    if spec.same_structure_as:
        if spec.same_structure_as not in models:
            raise HarnessError(f"{spec.source_file}: field 'same_structure_as' names {spec.same_structure_as}, "
                               "which no source holds")
        shape = _shape(models[spec.same_structure_as])
        models = {m: s for m, s in models.items() if _shape(s) == shape}
    present = [c for c in spec.categories if any(c in s for s in models.values())]
    note = f"Avg.: {AVERAGING[spec.averaging]}; category columns: mean of the category's datasets"
    tables = []
    summary_rows = []
    for name, cats in models.items():
        if not all(c in cats for c in present):
            continue
        per_category = {c: [main_value(m)[1] for m in cats[c].values()] for c in present}
        # the average runs over every category the model has, as JMTEB's Summary does
        all_cats = {c: [main_value(m)[1] for m in t.values()] for c, t in cats.items()}
        summary_rows.append([name, average(all_cats, spec.averaging)] + [_mean(per_category[c]) for c in present])
    tables.append(Table("Summary", ["Model", "Avg."] + present, _sorted(summary_rows), note, spec))
    for category in present:
        having = [(n, c[category]) for n, c in models.items() if category in c]
        columns = [_jmteb_column(spec, task, metrics) for task, metrics in having[0][1].items()]
        rows = []
        for name, tasks in having:
            cells = {_jmteb_column(spec, t, m): main_value(m)[1] for t, m in tasks.items()}
            if all(col in cells for col in columns):
                values = [cells[col] for col in columns]
                rows.append([name, _mean(values)] + values)
        tables.append(Table(category, ["Model", "Avg."] + columns, _sorted(rows),
                            "Avg.: mean of the category's datasets", spec))
    return tables


def _shape(summary: dict) -> dict[str, set]:
    return {c: set(t) for c, t in summary.items()}


def _jmteb_column(spec: Spec, task: str, metrics: dict[str, float]) -> str:
    return f"{spec.aliases.get(task, task)}<br>({main_value(metrics)[0]})"


def _sorted(rows: list[list]) -> list[list]:
    return sorted(rows, key=lambda r: r[1], reverse=True)  # stable: equal averages keep source order


def card_table(scores: Scores, spec: Spec) -> Table:
    if spec.layout == "categories":
        return _categories_table(scores, spec)
    if spec.layout == "columns":
        return _columns_table(scores, spec)
    if spec.layout == "datasets":
        return _datasets_table(scores, spec)
    raise HarnessError(f"{spec.source_file}: layout '{spec.layout}' is not a card layout")


def _row_models(scores: Scores, spec: Spec, extra: list[str]) -> list[str]:
    names = list(spec.rows) + [m for m in extra if m not in spec.rows]
    missing = [m for m in names if m not in scores]
    if missing:
        raise HarnessError(f"{spec.source_file}: field 'rows' names {missing[0]}, which no source holds")
    return names


def _categories_table(scores: Scores, spec: Spec, extra: list[str] = ()) -> Table:
    rows = []
    for name in _row_models(scores, spec, list(extra)):
        cats = scores[name]
        absent = [c for c in spec.categories if c not in cats]
        if absent:
            raise HarnessError(f"{spec.source_file}: model {name} has no {absent[0]} results")
        per_category = {c: [main_value(m)[1] for m in cats[c].values()] for c in spec.categories}
        rows.append([spec.labels.get(name, name), average(per_category, spec.averaging)]
                    + [_mean(per_category[c]) for c in spec.categories])
    note = f"Avg.: {AVERAGING[spec.averaging]}; category columns: mean of the category's datasets"
    return Table(spec.title, ["Model", "Avg."] + list(spec.categories), rows, note, spec)


def _cell(scores: Scores, name: str, task: str, metric: str, spec: Spec) -> float | None:
    for tasks in scores[name].values():
        if task in tasks:
            if metric not in tasks[task]:
                raise HarnessError(f"{spec.source_file}: model {name} has no metric '{metric}' for task {task}")
            return tasks[task][metric]
    return None


def _columns_table(scores: Scores, spec: Spec, extra: list[str] = ()) -> Table:
    rows = []
    for name in _row_models(scores, spec, list(extra)):
        rows.append([spec.labels.get(name, name)]
                    + [_cell(scores, name, c["task"], c["metric"], spec) for c in spec.columns])
    return Table(spec.title, ["Model"] + [c["label"] for c in spec.columns], rows,
                 AVERAGING["none"] if spec.averaging == "none" else AVERAGING[spec.averaging], spec)


def _datasets_table(scores: Scores, spec: Spec) -> Table:
    if spec.model not in scores:
        raise HarnessError(f"{spec.source_file}: field 'model' names {spec.model}, which no source holds")
    tasks = {t: m for cats in scores[spec.model].values() for t, m in cats.items()}
    names = list(spec.rows) or list(tasks)
    rows = [[spec.labels.get(t, t)] + [tasks[t].get(c["metric"]) for c in spec.columns] for t in names]
    if spec.mean_row:
        means = [_mean([tasks[t][c["metric"]] for t in names]) for c in spec.columns]
        rows.insert(0, [spec.mean_row] + means)
    note = (f"{spec.mean_row}: mean over the {len(names)} datasets (micro average)" if spec.mean_row
            else AVERAGING["none"])
    return Table(spec.title, ["Dataset"] + [c["label"] for c in spec.columns], rows, note, spec)


def build(spec: Spec, paths: list[Path]) -> tuple[list[Table], list[str]]:
    """The tables of a spec from its own published sources plus the given result directories / files.

    A run named like a published model is shown as "<name> (reproduced)", never in the published row's place.
    """
    scores, sources = load_scores([ROOT / s for s in spec.sources])
    extra, extra_sources = load_scores(list(paths)) if paths else ({}, [])
    extra_names = []
    for name, summary in extra.items():
        shown = f"{name} (reproduced)" if name in scores else name
        scores[shown] = summary
        extra_names.append(shown)
    sources += extra_sources
    if spec.layout == "jmteb":
        return jmteb_tables(scores, spec), sources
    if spec.layout == "columns":
        return [_columns_table(scores, spec, extra_names if spec.rows else list(scores))], sources
    if spec.layout == "datasets":
        return [_datasets_table(scores, spec)], sources
    table = _categories_table(scores, spec, extra_names if spec.rows else list(scores))
    if not spec.rows:  # every model: best average first
        table.rows = _sorted(table.rows)
    return [table], sources


def main(args: argparse.Namespace) -> int:
    spec = load_spec(args.table) if args.table else DEFAULT_SPEC
    if not args.dirs and not spec.sources:
        raise HarnessError("harness leaderboard: give result directories or published files, or --table NAME")
    tables, sources = build(spec, args.dirs)
    text = render(tables, args.format, sources)
    if args.output:
        write_text(args.output, text)
    else:
        print(text, end="")
    return 0
