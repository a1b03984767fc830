"""Clustering: cluster embedded texts, compare the clusters with the gold labels by V-measure.

Protocol `jmteb` (JMTEB 1.4 `evaluators/clustering`): validation and test texts are embedded; k = number
of distinct *test* labels (used for validation too); MiniBatchKMeans(k, n_init="auto"),
AgglomerativeClustering(k) (ward), BisectingKMeans(k) and Birch(k) run on raw embeddings; the algorithm
with the best validation V-measure (first wins ties) is refitted from scratch on test. JMTEB 1.4's
fallback is kept: a ValueError mentioning "infinity" or "too large" retries on L2-normalised embeddings.
Deviation, on purpose: JMTEB leaves `random_state` unset (None), so its MiniBatchKMeans/BisectingKMeans
scores vary run to run (±1-2 points); ours pass the run seed (recorded in details), so a run repeats.

Protocol `mteb`: MiniBatchKMeans(k = number of test labels, batch_size=500, n_init="auto") fitted
`n_runs` times on the test split with seeds seed, seed+1, ...; the mean V-measure is reported.
Approximate to MTEB: MTEB's SIB200ClusteringS2S pools train+validation+test (1,004 texts) and
bootstraps samples, with its own unseeded or differently seeded runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.cluster import AgglomerativeClustering, Birch, BisectingKMeans, MiniBatchKMeans
from sklearn.metrics import v_measure_score
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from harness.errors import HarnessError
from harness.families.base import (Context, Outcome, Protocol, family, main_value, pick_best, variant_details,
                                   with_per_item)
from harness.families.classification import global_label_ids, load_split
from harness.params import Params
from harness.scoring.clustering import cluster_scores
from harness.spec import TaskSpec
from harness.vocab import Vocab

# JMTEB's constructor dict, in its order (the order decides ties).
ALGORITHMS: dict[str, Callable[[int, int | None], Any]] = {
    "MiniBatchKMeans": lambda k, seed: MiniBatchKMeans(n_clusters=k, n_init="auto", random_state=seed),
    "AgglomerativeClustering": lambda k, seed: AgglomerativeClustering(n_clusters=k),
    "BisectingKMeans": lambda k, seed: BisectingKMeans(n_clusters=k, random_state=seed),
    "Birch": lambda k, seed: Birch(n_clusters=k),
}
ALGORITHM = Vocab.of("clustering algorithm", ALGORITHMS)
SELECTION = "optimal_clustering_model_name"


@dataclass(frozen=True)
class SelectedParams(Params):
    """JMTEB: every algorithm run on validation, the best refitted on test."""

    protocol: ClassVar[str] = "jmteb"
    main_metric: str = "v_measure_score"
    select_on: str = "validation"
    split: str = "test"
    algorithms: tuple[str, ...] = tuple(ALGORITHMS)

    def metric_names(self) -> tuple[str, ...]:
        return ("v_measure_score", "homogeneity_score", "completeness_score")

    def validate(self, where: str) -> None:
        ALGORITHM.check_all(self.algorithms, f"{where}: field 'algorithms'")
        super().validate(where)


@dataclass(frozen=True)
class RepeatedParams(Params):
    """MTEB-style: MiniBatchKMeans fitted `n_runs` times on test with consecutive seeds, V-measure averaged."""

    protocol: ClassVar[str] = "mteb"
    main_metric: str = "v_measure"
    select_on: None = None
    split: str = "test"
    n_runs: int = 10
    batch_size: int = 500

    def metric_names(self) -> tuple[str, ...]:
        return ("v_measure", "v_measure_std")

    def validate(self, where: str) -> None:
        for name in ("n_runs", "batch_size"):
            if self[name] < 1:
                raise HarnessError(f"{where}: field '{name}' must be a positive integer, got {self[name]}")
        super().validate(where)


def single_openmp_thread():
    """One OpenMP thread while clustering.

    torch and scikit-learn each bring their own libgomp; with both loaded, sklearn's many short OpenMP
    regions (MiniBatchKMeans) spin against torch's idle threads and run ~100x slower on a small machine.
    The assignments are the same (checked for all four algorithms on the SIB-200 embeddings, seeds 0-2);
    the clustering sets here are small (JMTEB: <= ~1.1k texts), so one thread costs nothing.
    """
    return threadpool_limits(limits=1, user_api="openmp")


def fit_predict(make: Callable[[], Any], embeddings: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cluster assignments, and whether JMTEB 1.4's L2-normalisation fallback was needed."""
    with single_openmp_thread():
        try:
            return np.asarray(make().fit_predict(embeddings)), False
        except ValueError as exc:
            text = str(exc).lower()
            if "infinity" not in text and "too large" not in text:
                raise
        return np.asarray(make().fit_predict(normalize(embeddings, norm="l2"))), True


def _embed(loaded: tuple, ctx: Context) -> np.ndarray:
    """The texts of a split loaded (and checked) by load_split."""
    return ctx.encode(loaded[0], "query")


def _n_clusters(labels: np.ndarray, where: str) -> int:
    k = int(np.unique(labels).size)
    if k < 2:
        raise HarnessError(f"{where}: clustering needs at least two distinct labels, got {k}")
    return k


def _enough_rows(labels: np.ndarray, k: int, where: str, why: str = "") -> None:
    if labels.size < k:
        raise HarnessError(f"{where}: {labels.size} rows cannot form {k} clusters{why}")


def evaluate_selected(task: TaskSpec, params: SelectedParams, ctx: Context) -> Outcome:
    main = params.main_metric
    # Both splits are read and checked (labels and cluster count too) before anything is encoded.
    val, test_rows = load_split(task, params.select_on, ctx), load_split(task, params.split, ctx)
    _, (y_val, y_test) = global_label_ids(task, [val[1], test_rows[1]], [val[2], test_rows[2]])
    k = _n_clusters(y_test, test_rows[2])
    for y, where in ((y_val, val[2]), (y_test, test_rows[2])):
        _enough_rows(y, k, where, " (the test label count)")
    x_val = _embed(val, ctx)
    x_test = _embed(test_rows, ctx)
    seed = ctx.seed

    val_scores, normalised = {}, []
    for name in params.algorithms:
        pred, fallback = fit_predict(lambda: ALGORITHMS[name](k, seed), x_val)
        val_scores[name] = cluster_scores(y_val, pred)
        if fallback:
            normalised.append(f"validation/{name}")
    chosen = pick_best(val_scores, main)
    pred, fallback = fit_predict(lambda: ALGORITHMS[chosen](k, seed), x_test)  # a new estimator
    if fallback:
        normalised.append(f"test/{chosen}")
    test = cluster_scores(y_test, pred)
    details = variant_details(SELECTION, chosen, val_scores, {chosen: test}, n_clusters=k, seed=seed,
                              l2_normalised_fallback=normalised)
    if main == "v_measure_score":  # over the test texts, the clustering held fixed
        details = with_per_item(details, "v_measure", gold=y_test, predicted=pred)
    return Outcome(main, test[main], details)


def evaluate_repeated(task: TaskSpec, params: RepeatedParams, ctx: Context) -> Outcome:
    loaded = load_split(task, params.split, ctx)
    _, (y,) = global_label_ids(task, [loaded[1]], [loaded[2]])
    k = _n_clusters(y, loaded[2])
    _enough_rows(y, k, loaded[2])
    x = _embed(loaded, ctx)
    v_measures = []
    for run in range(params.n_runs):
        model = MiniBatchKMeans(n_clusters=k, batch_size=params.batch_size, n_init="auto",
                                random_state=ctx.seed + run)
        with single_openmp_thread():
            v_measures.append(float(v_measure_score(y, model.fit_predict(x))))
    scores = {"v_measure": float(np.mean(v_measures)), "v_measure_std": float(np.std(v_measures))}
    details = variant_details(SELECTION, "MiniBatchKMeans", {}, {"MiniBatchKMeans": scores},
                              split=task.splits.get(params.split, params.split), n_clusters=k, seed=ctx.seed,
                              v_measures=v_measures,
                              note="test split only, seeded MiniBatchKMeans runs; approximate to MTEB's numbers")
    if params.main_metric == "v_measure":  # the mean over the seeded runs
        details = with_per_item(details, "mean", values=v_measures)
    return Outcome(params.main_metric, main_value(task, scores, params.main_metric), details)


CLUSTERING = family("clustering",
                    Protocol("jmteb", SelectedParams, evaluate_selected),
                    Protocol("mteb", RepeatedParams, evaluate_repeated))
