"""Semantic textual similarity: correlation between gold scores and embedding similarities.

Protocol `jmteb` (JMTEB 1.4): four similarity functions — cosine, negative Manhattan, JMTEB's "euclidean"
(which is negative Manhattan again, a bug its numbers contain) and dot — chosen on the validation split
by Spearman, then only the chosen one is scored on test. Protocols `mteb` and `card` (GLuCoSE's JSTS valid):
one split, every listed similarity scored; the main metric names one (`cosine_spearman`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from harness.families.base import Context, Outcome, Protocol, family, pick_best, variant_details, with_per_item
from harness.families.checks import at_least_two, gold_scores, texts_of
from harness.pairwise import STS_SIMILARITIES, sts_similarity
from harness.params import Params
from harness.scoring.sts import correlations
from harness.spec import TaskSpec

STATISTICS = ("pearson", "spearman")
SELECTION = "optimal_similarity_metric"
# JMTEB 1.4's names in score files (sic: "manhatten"; its "euclidean" is negative Manhattan, our euclidean_jmteb)
JMTEB_NAMES = {"cosine": "cosine_similarity", "manhattan": "manhatten_distance", "euclidean_jmteb": "euclidean_distance",
               "dot": "dot_score"}


@dataclass(frozen=True)
class SelectedParams(Params):
    """JMTEB: the similarity with the best validation `main_metric` is reported on test."""

    protocol: ClassVar[str] = "jmteb"
    main_metric: str = "spearman"
    select_on: str = "validation"
    split: str = "test"
    similarities: tuple[str, ...] = ("cosine", "manhattan", "euclidean_jmteb", "dot")

    def metric_names(self) -> tuple[str, ...]:
        return STATISTICS

    def validate(self, where: str) -> None:
        STS_SIMILARITIES.check_all(self.similarities, f"{where}: field 'similarities'")
        super().validate(where)


@dataclass(frozen=True)
class SingleSplitParams(Params):
    """MTEB: every similarity scored on one split; the main metric is `<similarity>_<statistic>`."""

    protocol: ClassVar[str] = "mteb"
    main_metric: str = "cosine_spearman"
    select_on: None = None  # one split: kept so the recorded parameters say so
    split: str = "test"
    similarities: tuple[str, ...] = ("cosine", "manhattan", "euclidean")

    def metric_names(self) -> tuple[str, ...]:
        return tuple(f"{sim}_{stat}" for sim in self.similarities for stat in STATISTICS)

    def validate(self, where: str) -> None:
        STS_SIMILARITIES.check_all(self.similarities, f"{where}: field 'similarities'")
        super().validate(where)


@dataclass(frozen=True)
class CardParams(SingleSplitParams):
    """Model cards (GLuCoSE: JSTS valid, Spearman and Pearson of cosine): one split, cosine only."""

    protocol: ClassVar[str] = "card"
    similarities: tuple[str, ...] = ("cosine",)


COLUMNS = ("sentence1", "sentence2", "label")


def _load_split(task: TaskSpec, role: str, ctx: Context) -> tuple[list[str], list[str], list[float]]:
    rows = ctx.data.rows(task, role, COLUMNS)
    where = ctx.data.where(task, role)
    first = texts_of(rows, task.column("sentence1"), where)
    second = texts_of(rows, task.column("sentence2"), where)
    gold = gold_scores(rows, task.column("label"), where)
    at_least_two(gold, where, f"gold score (column '{task.column('label')}')", task.name)
    return first, second, gold


def _encode_split(loaded: tuple, ctx: Context) -> tuple[np.ndarray, np.ndarray, list[float]]:
    first, second, gold = loaded
    # role "query" for both sides: STS is symmetric, and prompt profiles use the query prefix for it.
    return ctx.encode(first, "query", "sentence1"), ctx.encode(second, "query", "sentence2"), gold


def evaluate_selected(task: TaskSpec, params: SelectedParams, ctx: Context) -> Outcome:
    main = params.main_metric
    # Both splits are read and checked before anything is encoded: bad test data caches nothing.
    val, test_rows = _load_split(task, params.select_on, ctx), _load_split(task, params.split, ctx)
    v1, v2, v_gold = _encode_split(val, ctx)
    val_scores = {name: correlations(v_gold, sts_similarity(v1, v2, name)) for name in params.similarities}
    chosen = pick_best(val_scores, main)
    t1, t2, t_gold = _encode_split(test_rows, ctx)
    predicted = sts_similarity(t1, t2, chosen)
    test = correlations(t_gold, predicted)
    details = variant_details(SELECTION, chosen, val_scores, {chosen: test}, JMTEB_NAMES)
    return Outcome(main, test[main], with_per_item(details, main, gold=t_gold, predicted=predicted))


def evaluate_single(task: TaskSpec, params: SingleSplitParams, ctx: Context) -> Outcome:
    main = params.main_metric
    e1, e2, gold = _encode_split(_load_split(task, params.split, ctx), ctx)
    similarities = {name: sts_similarity(e1, e2, name) for name in params.similarities}
    scores = {name: correlations(gold, values) for name, values in similarities.items()}
    similarity, _, statistic = main.rpartition("_")  # MTEB's key: <similarity>_<statistic>
    details = variant_details(SELECTION, similarity, {}, scores, split=task.splits.get(params.split, params.split))
    return Outcome(main, scores[similarity][statistic],
                   with_per_item(details, statistic, gold=gold, predicted=similarities[similarity]))


STS = family("sts",
             Protocol("jmteb", SelectedParams, evaluate_selected),
             Protocol("mteb", SingleSplitParams, evaluate_single),
             Protocol("card", CardParams, evaluate_single))
