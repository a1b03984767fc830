"""Pair classification: is a sentence pair a paraphrase? Threshold a pairwise score.

Protocol `jmteb` (JMTEB 1.4 `evaluators/pair_classification`): four scores per pair - cosine similarity,
Manhattan and Euclidean *distances* (lower = more similar) and dot similarity. On validation each score
gets JMTEB's midpoint threshold search (best-accuracy and best-F1 thresholds, independently); the score
with the best validation binary F1 (first wins ties) is chosen and its two validation thresholds are
applied on test. Main metric: test binary F1; extras: accuracy, and average precision `ap` (with the
correct direction, threshold-free).

JMTEB's bug, reproduced by default (`cosine_as_distance: true`): its cosine score is a similarity, but
its direction test misses the key, so cosine is thresholded as if it were a distance (lower = more
similar); the published PAWS-X-ja numbers contain this. `cosine_as_distance: false` is the corrected
variant (cosine higher-is-similar). Scores are float32, like JMTEB's, so the midpoint thresholds are
computed from the same kind of values.

Protocol `mteb`: average precision of each score on the test split with the correct direction; the main
metric is the maximum over scores (`max_ap`), as MTEB's PairClassification reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.data import numbered
from harness.errors import HarnessError
from harness.families.base import (Context, Outcome, Protocol, family, pick_best, variant_details, with_label_items,
                                   with_per_item)
from harness.families.checks import texts_of
from harness.pairwise import PAIR_SCORES, pair_scores
from harness.params import Params
from harness.scoring.pair_classification import apply_thresholds, average_precision, predict, threshold_search
from harness.spec import TaskSpec

COLUMNS = ("sentence1", "sentence2", "label")
SELECTION = "optimal_distance_metric"
# JMTEB 1.4's names in score files (sic: "manhatten"; "cosine_distances" holds a similarity)
JMTEB_NAMES = {"cosine": "cosine_distances", "manhattan": "manhatten_distances", "euclidean": "euclidean_distances",
               "dot": "dot_similarities"}


@dataclass(frozen=True)
class ThresholdParams(Params):
    """JMTEB: thresholds of each score searched on validation, the best score's applied on test."""

    protocol: ClassVar[str] = "jmteb"
    main_metric: str = "binary_f1"
    select_on: str = "validation"
    split: str = "test"
    distances: tuple[str, ...] = ("cosine", "manhattan", "euclidean", "dot")
    cosine_as_distance: bool = True

    def metric_names(self) -> tuple[str, ...]:
        return ("accuracy", "binary_f1")

    def validate(self, where: str) -> None:
        PAIR_SCORES.check_all(self.distances, f"{where}: field 'distances'")
        super().validate(where)


@dataclass(frozen=True)
class AveragePrecisionParams(Params):
    """MTEB: average precision of each score on test; the main metric is the best of them (`max_ap`)."""

    protocol: ClassVar[str] = "mteb"
    main_metric: str = "max_ap"
    select_on: None = None
    split: str = "test"
    distances: tuple[str, ...] = ("cosine", "manhattan", "euclidean", "dot")

    def metric_names(self) -> tuple[str, ...]:
        return (*(f"{name}_ap" for name in self.distances), "max_ap")

    def validate(self, where: str) -> None:
        PAIR_SCORES.check_all(self.distances, f"{where}: field 'distances'")
        super().validate(where)


def correct_direction(name: str) -> bool:
    """True when a higher score means "more similar" (the mathematically right direction)."""
    return name in ("cosine", "dot")


def jmteb_direction(name: str, cosine_as_distance: bool) -> bool:
    """The direction JMTEB thresholds with: cosine flipped when `cosine_as_distance` (its bug)."""
    if name == "cosine":
        return not cosine_as_distance
    return correct_direction(name)


def _label(value: Any, where: str, number: int, column: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
        raise HarnessError(f"{where}:{number}: column '{column}' must be 0 or 1 (an int), "
                           f"got {type(value).__name__} {value!r}")
    return int(value)


def _load_split(task: TaskSpec, role: str, ctx: Context) -> tuple[list[str], list[str], np.ndarray, str]:
    rows = ctx.data.rows(task, role, COLUMNS)
    where = ctx.data.where(task, role)
    if not rows:
        raise HarnessError(f"{where}: the {role} split of task {task.name} is empty")
    first = texts_of(rows, task.column("sentence1"), where)
    second = texts_of(rows, task.column("sentence2"), where)
    column = task.column("label")
    labels = np.asarray([_label(row[column], where, n, column) for n, row in numbered(rows)], dtype=np.int64)
    if np.unique(labels).size != 2:
        raise HarnessError(f"{where}: column '{column}' holds only the label {int(labels[0])}; "
                           f"pair classification needs both 0 and 1")
    return first, second, labels, where


def _encode_split(loaded: tuple, ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    first, second, labels, where = loaded
    # role "query" for both sides: the pair is symmetric (as STS).
    return ctx.encode(first, "query", "sentence1"), ctx.encode(second, "query", "sentence2"), labels, where


def evaluate_thresholds(task: TaskSpec, params: ThresholdParams, ctx: Context) -> Outcome:
    main = params.main_metric
    flip = params.cosine_as_distance
    # Both splits are read and checked before anything is encoded: bad test data caches nothing.
    val, test_rows = _load_split(task, params.select_on, ctx), _load_split(task, params.split, ctx)
    v1, v2, v_labels, _ = _encode_split(val, ctx)
    val_scores = {}
    for name in params.distances:
        val_scores[name] = threshold_search(pair_scores(v1, v2, name), v_labels, jmteb_direction(name, flip))
    chosen = pick_best(val_scores, main)
    t1, t2, t_labels, _ = _encode_split(test_rows, ctx)
    scores = pair_scores(t1, t2, chosen)
    thresholds = {k: val_scores[chosen][k] for k in ("accuracy_threshold", "binary_f1_threshold")}
    test = apply_thresholds(scores, t_labels, thresholds["accuracy_threshold"],
                            thresholds["binary_f1_threshold"], jmteb_direction(chosen, flip))
    test = {"accuracy": test["accuracy"], "accuracy_threshold": thresholds["accuracy_threshold"],
            "binary_f1": test["binary_f1"], "binary_f1_threshold": thresholds["binary_f1_threshold"]}
    extras = {"ap": average_precision(scores, t_labels, correct_direction(chosen))}
    details = variant_details(SELECTION, chosen, val_scores, {chosen: test}, JMTEB_NAMES,
                              extra_scores={chosen: extras}, cosine_as_distance=flip,
                              higher_is_similar={name: jmteb_direction(name, flip) for name in params.distances})
    # each test pair's decision at the validation threshold of the main metric
    threshold = thresholds["accuracy_threshold" if main == "accuracy" else "binary_f1_threshold"]
    decided = predict(scores, threshold, jmteb_direction(chosen, flip))
    return Outcome(main, test[main], with_label_items(details, main, t_labels, decided, {"binary_f1": "binary_f1"}))


def evaluate_average_precision(task: TaskSpec, params: AveragePrecisionParams, ctx: Context) -> Outcome:
    e1, e2, labels, _ = _encode_split(_load_split(task, params.split, ctx), ctx)
    scores = {name: {"ap": average_precision(pair_scores(e1, e2, name), labels, correct_direction(name))}
              for name in params.distances}
    best = pick_best(scores, "ap")  # MTEB's max_ap: the best score's AP
    reported = best if params.main_metric == "max_ap" else params.main_metric.removesuffix("_ap")
    value = scores[reported]["ap"]
    details = variant_details(SELECTION, reported, {}, scores, split=task.splits.get(params.split, params.split))
    similarity = pair_scores(e1, e2, reported)  # AP over the pairs, of the reported score, higher = similar
    details = with_per_item(details, "ap", gold=labels,
                            predicted=similarity if correct_direction(reported) else -similarity)
    return Outcome(params.main_metric, value, details)


PAIR_CLASSIFICATION = family("pair_classification",
                             Protocol("jmteb", ThresholdParams, evaluate_thresholds),
                             Protocol("mteb", AveragePrecisionParams, evaluate_average_precision))
