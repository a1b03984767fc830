"""`harness leaderboard`: tables from result directories and published references (never re-evaluates).

Two layouts, chosen by a table spec (conf/tables/<name>.yaml; see conf/tables/README.md):

* `jmteb`: JMTEB's leaderboard.md — a Summary table (one column per category = mean of its datasets, `Avg.`
  micro = mean over all datasets, or macro = mean of the category means) and one table per category; rows
  sorted by the unrounded average (stable), the maximum of each column in bold, cells f"{x*100:.2f}".
* card layouts: `categories` (a card's JMTEB table), `columns` (one column per dataset/metric, e.g. RoSEtta's
  retrieval table) and `datasets` (one model, one row per dataset plus a mean row, e.g. SSE's NanoBEIR-ja).

Every table says under it which averaging rule produced its averages. Result directories given on the command
line are rows of their own (named by run identity: harness.published), kept with "—" where they lack a cell the
table has, each such row named in a warning on stderr; they never replace or drop a published row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.atomic import write_text
from harness.card_tables import (Gaps, average, averaging_note, categories_table, category_values, columns_table,
                                 complete_mean, datasets_tables, mean, reference_tasks)
from harness.errors import HarnessError
from harness.leaderboard_render import render
from harness.paths import ROOT
from harness.published import Scores, load_scores
from harness.summary import Summary, main_value
from harness.tables import DEFAULT_SPEC, Spec, Table, load_spec

__all__ = ["average", "build", "load_scores", "load_spec", "main"]


def jmteb_tables(scores: Scores, spec: Spec, runs: list[str]) -> list[Table]:
    """JMTEB's Summary table and one table per category, as its make_leaderboard renders them. A run's row is
    kept whatever it lacks (its missing cells "—", named in the Summary's warnings); published rows follow
    JMTEB's rules (`same_structure_as`, complete rows only)."""
    first = [m for m in spec.read_order if m in scores]
    models = {m: scores[m] for m in first + [m for m in scores if m not in first]}
    if spec.same_structure_as:
        if spec.same_structure_as not in models:
            raise HarnessError(f"{spec.source_file}: field 'same_structure_as' names {spec.same_structure_as}, "
                               "which no source holds")
        shape = _shape(models[spec.same_structure_as])
        models = {m: s for m, s in models.items() if m in runs or _shape(s) == shape}
    reference = reference_tasks(scores, list(models), runs, spec.categories)
    present = list(reference)
    gaps = Gaps("Summary")
    note = averaging_note(spec)
    summary_rows = []
    for name, cats in models.items():
        if name in runs:
            per_category = category_values(scores, name, reference, gaps, is_run=True)
            means = [complete_mean(per_category[c]) for c in present]
            avg = None if None in means else average(per_category, spec.averaging)
            summary_rows.append([name, avg] + means)
        elif all(c in cats for c in present):
            per_category = {c: [main_value(m)[1] for m in cats[c].values()] for c in present}
            # the average runs over every category the model has, as JMTEB's Summary does
            all_cats = {c: [main_value(m)[1] for m in t.values()] for c, t in cats.items()}
            summary_rows.append([name, average(all_cats, spec.averaging)] + [mean(per_category[c]) for c in present])
    tables = [Table("Summary", ["Model", "Avg."] + present, _sorted(summary_rows), note, spec, gaps.lines)]
    for category in present:
        columns = _columns(models, runs, spec, category, reference[category])
        rows = []
        for name, tasks in models.items():
            if name in runs:
                values = [gaps.value(scores, name, task, reference[category][task]) for task in columns.values()]
                rows.append([name, complete_mean(values)] + values)
            elif category in tasks:
                cells = {_jmteb_column(spec, t, m): main_value(m)[1] for t, m in tasks[category].items()}
                if all(col in cells for col in columns):
                    values = [cells[col] for col in columns]
                    rows.append([name, mean(values)] + values)
        tables.append(Table(category, ["Model", "Avg."] + list(columns), _sorted(rows),
                            "Avg.: mean of the category's datasets", spec))
    return tables


def _columns(models: Scores, runs: list[str], spec: Spec, category: str, tasks) -> dict[str, str]:
    """header -> task for the category's datasets `tasks`, named with the metric of the first published model
    having the category (of a run's when none is)."""
    having = [n for n, s in models.items() if category in s]
    source = models[next((n for n in having if n not in runs), having[0])][category]
    return {_jmteb_column(spec, task, source[task]): task for task in tasks}


def _shape(summary: dict) -> dict[str, set]:
    return {c: set(t) for c, t in summary.items()}


def _jmteb_column(spec: Spec, task: str, metrics: dict[str, float]) -> str:
    return f"{spec.aliases.get(task, task)}<br>({main_value(metrics)[0]})"


def _sorted(rows: list[list]) -> list[list]:
    # stable: equal averages keep source order; rows without an average (a partial run) last
    return sorted(rows, key=lambda r: (r[1] is not None, r[1] or 0.0), reverse=True)


def suite_names(summary: Summary, spec: Spec) -> Summary:
    """A summary with the card's task names turned into the suite's (`card_names`)."""
    suite = {card: task for task, card in spec.card_names.items()}
    return {c: {suite.get(t, t): m for t, m in tasks.items()} for c, tasks in summary.items()}


def build(spec: Spec, paths: list[Path]) -> tuple[list[Table], list[str]]:
    """The tables of a spec from its own published sources plus the given result directories / files.

    A run named like a published model is shown as "<name> (reproduced)", never in the published row's place.
    """
    scores, sources = load_scores([ROOT / s for s in spec.sources])
    runs: list[str] = []
    if paths:
        extra, extra_sources = load_scores(list(paths))
        for name, summary in extra.items():
            shown = f"{name} (reproduced)" if name in scores else name
            scores[shown] = summary
            runs.append(shown)
        sources += extra_sources
    scores = {name: suite_names(summary, spec) for name, summary in scores.items()}
    if spec.layout == "jmteb":
        return jmteb_tables(scores, spec, runs), sources
    if spec.layout == "columns":
        return [columns_table(scores, spec, runs)], sources
    if spec.layout == "datasets":
        return datasets_tables(scores, spec, runs), sources
    table = categories_table(scores, spec, runs)
    if not spec.rows:  # every model: best average first
        table.rows = _sorted(table.rows)
    return [table], sources


def main(args: argparse.Namespace) -> int:
    spec = load_spec(args.table) if args.table else DEFAULT_SPEC
    if not args.dirs and not spec.sources:
        raise HarnessError("harness leaderboard: give result directories or published files, or --table NAME")
    tables, sources = build(spec, args.dirs)
    for table in tables:
        for line in table.warnings:
            print(f"warning: {line}", file=sys.stderr)
    text = render(tables, args.format, sources)
    if args.output:
        write_text(args.output, text)
    else:
        print(text, end="")
    return 0
