"""The model cards' table layouts (conf/tables/*.yaml): `categories`, `columns` and `datasets`.

Published rows are the card's figures; a run's row (`runs`) gets every cell the card has where the run scored
that task and metric, and "—" with a warning naming the cell where it did not: a partial run is a row with gaps,
never a dropped row or an error. A run's category mean covers exactly the card's datasets of that category (the
first published row's), so it is comparable with the card's; with one missing it is "—" too.
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.published import Scores
from harness.summary import datasets_once, main_value
from harness.tables import AVERAGING, Spec, Table


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def average(per_category: dict[str, list[float]], rule: str) -> float:
    """micro: mean over all datasets; macro: mean of the category means."""
    if rule == "micro":
        return mean([v for values in per_category.values() for v in values])
    if rule == "macro":
        return mean([mean(values) for values in per_category.values()])
    raise HarnessError(f"unknown averaging rule '{rule}'; valid: micro, macro")


def complete_mean(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else mean(values)


class Gaps:
    """The warnings of one table build: per row, each missing cell once, in the order met."""

    def __init__(self, title: str):
        self.title = title
        self.by_row: dict[str, list[str]] = {}

    @property
    def lines(self) -> list[str]:
        return [f"{self.title}: row '{row}' has no result for {', '.join(cells)}; shown as —"
                for row, cells in self.by_row.items()]

    def value(self, scores: Scores, row: str, task: str, metric: str | None = None,
              refuse: str | None = None) -> float | None:
        """The row's value of `task` (its `metric`, or its main metric); None and a warning when absent, or
        with `refuse` (the spec file, for a published row: a card's own figure cannot be missing) an error."""
        for tasks in scores[row].values():
            if task in tasks:
                if metric is None:
                    return main_value(tasks[task])[1]
                if metric in tasks[task]:
                    return tasks[task][metric]
                break
        what = task + (f" ({metric})" if metric else "")
        if refuse is not None:
            raise HarnessError(f"{refuse}: model {row} has no result for {what}")
        return self.missing(row, what)

    def missing(self, row: str, what: str) -> None:
        cells = self.by_row.setdefault(row, [])
        if what not in cells:
            cells.append(what)
        return None


def reference_tasks(scores: Scores, names: list[str], runs: list[str],
                    categories) -> dict[str, dict[str, str]]:
    """category -> {the card's dataset: the card's metric}: the datasets of the first published row having the
    category, each with that row's main metric, which a run's cell must show too (a run whose main metric is
    another, e.g. under another protocol, gets "—" and a warning, never its own metric under the card's name).
    When every row is a run: the first row's datasets, each once however many protocols scored it, in that
    run's main metrics, which the other runs' cells show too (or "—": a mteb run's cosine_spearman is not a
    jmteb run's spearman, and the column is named after one metric)."""
    published = [n for n in names if n not in runs]
    out: dict[str, dict[str, str | None]] = {}
    for category in categories:
        having = [n for n in published or names if category in scores[n]]
        if having:
            tasks = scores[having[0]][category]
            keys = list(tasks) if published else datasets_once(list(tasks))
            out[category] = {task: main_value(tasks[task])[0] for task in keys}
    return out


def category_values(scores: Scores, name: str, reference: dict[str, dict[str, str | None]], gaps: Gaps,
                   is_run: bool) -> dict[str, list[float | None]]:
    """category -> the row's dataset values: a published row's own datasets, a run's the card's datasets in the
    card's metrics."""
    if not is_run:
        return {c: [main_value(m)[1] for m in scores[name][c].values()] for c in reference if c in scores[name]}
    return {c: [gaps.value(scores, name, task, metric) for task, metric in tasks.items()]
            for c, tasks in reference.items()}


def averaging_note(spec: Spec) -> str:
    note = f"Avg.: {AVERAGING[spec.averaging]}; category columns: mean of the category's datasets"
    for rule in ("micro", "macro"):
        rows = [spec.labels.get(m, m) for m, r in spec.row_averaging.items() if r == rule]
        if rows:
            note += f"; Avg. of {', '.join(rows)}: {rule} average, as the card prints it"
    return note


def row_names(scores: Scores, spec: Spec, runs: list[str]) -> list[str]:
    names = list(spec.rows) + [m for m in runs if m not in spec.rows] if spec.rows else list(scores)
    missing = [m for m in names if m not in scores]
    if missing:
        raise HarnessError(f"{spec.source_file}: field 'rows' names {missing[0]}, which no source holds")
    return names


def categories_table(scores: Scores, spec: Spec, runs: list[str]) -> Table:
    gaps = Gaps(spec.title or spec.name)
    names = row_names(scores, spec, runs)
    reference = reference_tasks(scores, names, runs, spec.categories)
    rows = []
    for name in names:
        values = category_values(scores, name, reference, gaps, name in runs)
        absent = [c for c in spec.categories if c not in values]
        if absent and name not in runs:
            raise HarnessError(f"{spec.source_file}: model {name} has no {absent[0]} results")
        means = [complete_mean(values.get(c, [])) for c in spec.categories]
        rule = spec.row_averaging.get(name, spec.averaging)
        avg = None if None in means else average({c: values[c] for c in spec.categories}, rule)
        rows.append([spec.labels.get(name, name), avg] + means)
    return Table(spec.title, ["Model", "Avg."] + list(spec.categories), rows, averaging_note(spec), spec,
                 gaps.lines)


def columns_table(scores: Scores, spec: Spec, runs: list[str]) -> Table:
    gaps = Gaps(spec.title or spec.name)
    rows = [[spec.labels.get(name, name)] + [gaps.value(scores, name, c["task"], c["metric"],
                                                        None if name in runs else str(spec.source_file))
                                             for c in spec.columns]
            for name in row_names(scores, spec, runs)]
    return Table(spec.title, ["Model"] + [c["label"] for c in spec.columns], rows, AVERAGING[spec.averaging], spec,
                 gaps.lines)


def datasets_tables(scores: Scores, spec: Spec, runs: list[str]) -> list[Table]:
    """The card's table of its one model, then the same table for each run."""
    if spec.model not in scores:
        raise HarnessError(f"{spec.source_file}: field 'model' names {spec.model}, which no source holds")
    names = list(spec.rows) or [t for cats in scores[spec.model].values() for t in cats]
    tables = []
    for model in [spec.model] + list(runs):
        gaps = Gaps(f"{spec.title or spec.name} ({model})")
        rows = [[spec.labels.get(t, spec.card_names.get(t, t))]
                + [gaps.value(scores, model, t, c["metric"], str(spec.source_file) if model == spec.model else None)
                   for c in spec.columns] for t in names]
        if spec.mean_row:
            rows.insert(0, [spec.mean_row] + [complete_mean([r[i] for r in rows])
                                              for i in range(1, len(spec.columns) + 1)])
        note = (f"{spec.mean_row}: mean over the {len(names)} datasets (micro average)" if spec.mean_row
                else AVERAGING["none"])
        title = spec.title if model == spec.model else f"{spec.title}: {model}"
        tables.append(Table(title, ["Dataset"] + [c["label"] for c in spec.columns], rows, note, spec, gaps.lines))
    return tables
