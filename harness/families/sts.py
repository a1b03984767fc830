"""Semantic textual similarity: correlation between gold scores and embedding similarities.

Protocol `jmteb` (JMTEB 1.4): four similarity functions — cosine, negative Manhattan, JMTEB's "euclidean"
(which is negative Manhattan again, a bug its numbers contain) and dot — chosen on the validation split
by Spearman, then only the chosen one is scored on test. Protocol `mteb`: cosine Spearman on test.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.families.base import Context, Family, Outcome, pick_best, texts_of, with_per_item
from harness.pairwise import sts_similarity
from harness.scoring.sts import correlations
from harness.taskspec import TaskSpec

COLUMNS = ("sentence1", "sentence2", "label")


def _load_split(task: TaskSpec, role: str, ctx: Context) -> tuple[list[str], list[str], list[float]]:
    rows = ctx.data.rows(task, role, COLUMNS)
    where = ctx.data.where(task, role)
    first = texts_of(rows, task.column("sentence1"), where)
    second = texts_of(rows, task.column("sentence2"), where)
    gold = [_score(row[task.column("label")], where, n) for n, row in enumerate(rows, 1)]
    return first, second, gold


def _encode_split(task: TaskSpec, loaded: tuple, ctx: Context) -> tuple[np.ndarray, np.ndarray, list[float]]:
    first, second, gold = loaded
    # role "query" for both sides: STS is symmetric, and prompt profiles use the query prefix for it.
    return (ctx.encoder.encode(first, role="query", task=task),
            ctx.encoder.encode(second, role="query", task=task), gold)


def _score(value: Any, where: str, number: int) -> float:
    from harness.errors import HarnessError

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HarnessError(f"{where}:{number}: column 'label' must be a number, got {type(value).__name__}")
    return float(value)


def evaluate(task: TaskSpec, params: dict[str, Any], ctx: Context) -> Outcome:
    main = params["main_metric"]
    if params["select_on"] is None:  # single-split protocols (mteb, card tables)
        e1, e2, gold = _encode_split(task, _load_split(task, params["split"], ctx), ctx)
        scores, similarities = {}, {}
        for name in params["similarities"]:
            similarities[name] = sts_similarity(e1, e2, name)
            for metric, value in correlations(gold, similarities[name]).items():
                scores[f"{name}_{metric}"] = value
        details = {"split": task.splits.get(params["split"], params["split"]), "test_scores": scores}
        similarity, _, statistic = main.rpartition("_")
        return Outcome(main, scores[main], with_per_item(details, statistic, gold=gold,
                                                         predicted=similarities[similarity]))
    # Both splits are read and checked before anything is encoded: bad test data caches nothing.
    val, test_rows = _load_split(task, params["select_on"], ctx), _load_split(task, params["split"], ctx)
    v1, v2, v_gold = _encode_split(task, val, ctx)
    val_scores = {name: correlations(v_gold, sts_similarity(v1, v2, name)) for name in params["similarities"]}
    chosen = pick_best(val_scores, main)
    t1, t2, t_gold = _encode_split(task, test_rows, ctx)
    predicted = sts_similarity(t1, t2, chosen)
    test = correlations(t_gold, predicted)
    details = {"optimal_similarity": chosen, "val_scores": val_scores, "test_scores": {chosen: test}}
    return Outcome(main, test[main], with_per_item(details, main, gold=t_gold, predicted=predicted))


STS = Family(
    name="sts",
    protocols={
        "jmteb": {"main_metric": "spearman", "select_on": "validation", "split": "test",
                  "similarities": ["cosine", "manhattan", "euclidean_jmteb", "dot"]},
        "mteb": {"main_metric": "cosine_spearman", "select_on": None, "split": "test",
                 "similarities": ["cosine", "manhattan", "euclidean"]},
        # model cards (GLuCoSE: JSTS valid, Spearman and Pearson of cosine): one split, cosine only
        "card": {"main_metric": "cosine_spearman", "select_on": None, "split": "test", "similarities": ["cosine"]},
    },
    evaluate=evaluate,
)
