"""Row checks shared by every family: one check per class of defect, each naming the file, line and column.

A family reads its rows with `DataSource.rows` (harness.data.Rows: every row with its physical line) and passes
each column through the check for its kind: texts, class labels, gold scores, relevance grades, ids. So a NaN
gold score, a 0.5 grade or a repeated id is refused the same way whichever family reads it, and always before
anything is encoded (harness.preflight runs every protocol up to its first encode).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

from harness.data import numbered
from harness.errors import HarnessError

log = logging.getLogger(__name__)


def texts_of(rows: list[dict], column: str, where: str) -> list[str]:
    """A text column as strings; an empty or non-string text is bad input (it would embed as noise)."""
    texts = []
    for line, row in numbered(rows):
        value = row[column]
        if not isinstance(value, str):
            raise HarnessError(f"{where}:{line}: column '{column}' must be text, got {type(value).__name__}")
        if not value.strip():
            raise HarnessError(f"{where}:{line}: column '{column}' is empty")
        texts.append(value)
    return texts


def labels_of(rows: list[dict], column: str, where: str) -> list:
    """Class labels as ints or strings (one type per task is checked later, by label_ids).

    A bool, float, list or empty string is bad input: JSON `true` or `1.0` usually means a broken export,
    and silently casting it would merge or split classes.
    """
    labels = []
    for line, row in numbered(rows):
        value = row[column]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise HarnessError(f"{where}:{line}: column '{column}' must be an int or a class name (string), "
                               f"got {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip():
            raise HarnessError(f"{where}:{line}: column '{column}' is empty")
        labels.append(value)
    return labels


def gold_scores(rows: list[dict], column: str, where: str) -> list[float]:
    """Gold similarity scores: finite numbers. JSON's NaN and 1e999 (infinity) parse as floats, and a
    correlation over them is NaN, which scoring would report as some number: refused here."""
    scores = []
    for line, row in numbered(rows):
        value = row[column]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HarnessError(f"{where}:{line}: column '{column}' must be a number, got {type(value).__name__}")
        try:
            score = float(value)  # an integer too large for a float (10**400) overflows: refused below too
        except OverflowError:
            score = math.inf
        if not math.isfinite(score):
            raise HarnessError(f"{where}:{line}: column '{column}' must be a finite number, got "
                               f"{value if isinstance(value, float) else f'an integer of {len(str(value))} digits'}")
        scores.append(score)
    return scores


def grade(value: Any, where: str, line: int, column: str) -> int:
    """A relevance grade (qrels score, candidate grade): an integer >= 0, where 0 means not relevant. A float
    (0.5), a string or null is refused rather than rounded: truncating 0.5 to 0 would drop a judgement."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GRADE:
        shown = (f"an integer of {len(str(value))} digits" if isinstance(value, int) and abs(value) >= 10**12
                 else value)
        raise HarnessError(f"{where}:{line}: column '{column}' must be an integer from 0 to {MAX_GRADE} "
                           f"(0 = not relevant), got {type(value).__name__} {shown!r}")
    return value


# Graded gains are 2**grade - 1 (pytrec_eval, JMTEB): this is far beyond any published grading (0-3), and the
# gain stays a finite float64 below it (a 401-digit grade overflowed in the nDCG instead of being refused).
MAX_GRADE = 1000


def unique_ids(ids: Iterable[tuple[int, str]], where: str, column: str, what: str) -> None:
    """(line, id) pairs: the first id seen twice is refused at its second line. The references key by these ids
    (a dict of queries, of documents), so a repeated one would silently replace or merge an item."""
    seen: set[str] = set()
    for line, ident in ids:
        if ident in seen:
            raise HarnessError(f"{where}:{line}: duplicate {what} id '{ident}' in column '{column}'")
        seen.add(ident)


def at_least_two(values: list, where: str, what: str, task: str) -> None:
    """A statistic over `values` (a correlation, a clustering) needs two rows and two distinct values: with one
    it is undefined (NaN), which scoring would otherwise report as 0."""
    if len(values) < 2:
        raise HarnessError(f"{where}: task {task} needs at least 2 rows to score, got {len(values)}")
    if len(set(values)) < 2:
        raise HarnessError(f"{where}: every {what} is {values[0]!r}; task {task} needs at least two distinct "
                           f"values to score")


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """A warning, once per process: the preflight pass and the run read the same rows."""
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def warn_unseen_classes(train: list, others: list[tuple[list, str]], task: str) -> None:
    """Valid but suspicious: a class of a scored split that train never shows can never be predicted."""
    known = set(train)
    for labels, where in others:
        unseen = sorted({str(label) for label in labels if label not in known})
        if unseen:
            shown = ", ".join(unseen[:5]) + (", ..." if len(unseen) > 5 else "")
            warn_once(f"{where}: task {task}: class(es) {shown} never occur in the train split, so they cannot "
                      f"be predicted")
