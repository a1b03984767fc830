"""Classification: fit a classifier on embedded training texts, score its predictions.

Protocol `jmteb` (JMTEB 1.4 `evaluators/classification`): train, validation and test texts are embedded
once; `knn_cosine_k_2` = KNeighborsClassifier(n_neighbors=2, metric="cosine") and `logreg` =
LogisticRegression() with every default are fitted on the *full* train split on raw (not normalised)
embeddings; the classifier with the best validation macro F1 (first wins ties) is scored on test.
Deviation, on purpose: labels are mapped to ids once over all three splits (sorted), where JMTEB maps per
split - identical whenever every split holds every class, and correct where JMTEB silently misaligns.

Protocol `mteb` (MTEB's AbsTaskClassification with method "logReg"): `n_experiments` times, undersample
the train split to `samples_per_label` rows per class - one index permutation, re-shuffled in place per
experiment by a RandomState seeded with the run seed, first rows of each class kept - fit
LogisticRegression(max_iter=100, random_state=seed) and score test; report the mean over experiments.
Approximate to MTEB's published numbers: MTEB seeds numpy's global generator with 42 and its rows may be
ordered differently, so the sampled training sets differ (expect a few points of difference on small
train sets); run with seed=42 for MTEB's seed. MTEB's `ap` (binary tasks) is, as MTEB computes it,
average precision of the hard predictions.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score
from sklearn.neighbors import KNeighborsClassifier

from harness.errors import HarnessError
from harness.families.base import (Context, Outcome, Protocol, family, main_value, pick_best, variant_details,
                                   with_label_items, with_per_item)
from harness.families.checks import labels_of, texts_of, warn_unseen_classes
from harness.params import Params
from harness.scoring.classification import classification_scores, label_ids
from harness.spec import TaskSpec
from harness.vocab import Vocab

COLUMNS = ("text", "label")

# JMTEB's default classifier dict, in its order (the order decides ties).
CLASSIFIERS = {
    "knn_cosine_k_2": lambda: KNeighborsClassifier(n_neighbors=2, metric="cosine", n_jobs=-1),
    "logreg": lambda: LogisticRegression(),
}
CLASSIFIER = Vocab.of("classifier", CLASSIFIERS)
SELECTION = "optimal_classifier_name"


@dataclass(frozen=True)
class SelectedParams(Params):
    """JMTEB: every classifier fitted on train, the best on validation scored on test."""

    protocol: ClassVar[str] = "jmteb"
    main_metric: str = "macro_f1"
    select_on: str = "validation"
    split: str = "test"
    train: str = "train"
    classifiers: tuple[str, ...] = tuple(CLASSIFIERS)

    def metric_names(self) -> tuple[str, ...]:
        return ("accuracy", "macro_f1")

    def validate(self, where: str) -> None:
        CLASSIFIER.check_all(self.classifiers, f"{where}: field 'classifiers'")
        super().validate(where)


@dataclass(frozen=True)
class UndersampledParams(Params):
    """MTEB's logReg: `n_experiments` fits on `samples_per_label` rows per class, scores averaged."""

    protocol: ClassVar[str] = "mteb"
    main_metric: str = "accuracy"
    select_on: None = None
    split: str = "test"
    train: str = "train"
    n_experiments: int = 10
    samples_per_label: int = 8
    max_iter: int = 100

    def metric_names(self) -> tuple[str, ...]:
        return ("accuracy", "f1", "f1_weighted", "ap")  # ap: binary tasks only (known once labels are read)

    def validate(self, where: str) -> None:
        for name in ("n_experiments", "samples_per_label", "max_iter"):
            if self[name] < 1:
                raise HarnessError(f"{where}: field '{name}' must be a positive integer, got {self[name]}")
        super().validate(where)


def load_split(task: TaskSpec, role: str, ctx: Context) -> tuple[list[str], list, str]:
    rows = ctx.data.rows(task, role, COLUMNS)
    where = ctx.data.where(task, role)
    if not rows:
        raise HarnessError(f"{where}: the {role} split of task {task.name} is empty")
    return texts_of(rows, task.column("text"), where), labels_of(rows, task.column("label"), where), where


def global_label_ids(task: TaskSpec, splits: list[list], wheres: list[str]) -> tuple[dict, list[np.ndarray]]:
    """One sorted label -> id mapping over every split; mixed int/str labels are bad input."""
    try:
        return label_ids(*splits)
    except ValueError as exc:
        raise HarnessError(f"{', '.join(dict.fromkeys(wheres))}: column '{task.column('label')}' of task "
                           f"{task.name}: {exc}") from None


def _check_train(y_train: np.ndarray, where: str, minimum_rows: int = 2) -> None:
    if y_train.size < minimum_rows:
        raise HarnessError(f"{where}: the train split needs at least {minimum_rows} rows, got {y_train.size}")
    if np.unique(y_train).size < 2:
        raise HarnessError(f"{where}: the train split holds a single class; a classifier needs two or more")


def _fit(name: str, x: np.ndarray, y: np.ndarray, warned: list[str]):
    clf = CLASSIFIERS[name]()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        warned.append(name)  # JMTEB's lbfgs often stops at max_iter=100 as well; recorded, not hidden
    return clf


def evaluate_selected(task: TaskSpec, params: SelectedParams, ctx: Context) -> Outcome:
    roles = (params.train, params.select_on, params.split)
    loaded = [load_split(task, role, ctx) for role in roles]
    _, (y_train, y_val, y_test) = global_label_ids(task, [s[1] for s in loaded], [s[2] for s in loaded])
    _check_train(y_train, loaded[0][2])
    warn_unseen_classes(loaded[0][1], [(s[1], s[2]) for s in loaded[1:]], task.name)
    x_train, x_val, x_test = (ctx.encode(s[0], "query") for s in loaded)

    main = params.main_metric
    fitted, val_scores, warned = {}, {}, []
    for name in params.classifiers:
        fitted[name] = _fit(name, x_train, y_train, warned)
        val_scores[name] = classification_scores(y_val, fitted[name].predict(x_val))
    chosen = pick_best(val_scores, main)
    predicted = fitted[chosen].predict(x_test)
    test = classification_scores(y_test, predicted)
    details = variant_details(SELECTION, chosen, val_scores, {chosen: test},
                              n_labels=int(np.unique(np.concatenate([y_train, y_val, y_test])).size),
                              convergence_warnings=warned)
    return Outcome(main, main_value(task, test, main),
                   with_label_items(details, main, y_test, predicted, {"macro_f1": "macro_f1"}))


def undersample(y: np.ndarray, samples_per_label: int, idxs: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """MTEB's `_undersample_data`: shuffle `idxs` in place, keep the first `samples_per_label` of each class."""
    rng.shuffle(idxs)
    counts: dict[int, int] = defaultdict(int)
    keep = []
    for i in idxs:
        if counts[y[i]] < samples_per_label:
            keep.append(i)
            counts[y[i]] += 1
    return np.asarray(keep, dtype=np.int64)


def evaluate_undersampled(task: TaskSpec, params: UndersampledParams, ctx: Context) -> Outcome:
    train, test = (load_split(task, role, ctx) for role in (params.train, params.split))
    _, (y_train, y_test) = global_label_ids(task, [train[1], test[1]], [train[2], test[2]])
    _check_train(y_train, train[2])
    warn_unseen_classes(train[1], [(test[1], test[2])], task.name)
    x_train = ctx.encode(train[0], "query")
    x_test = ctx.encode(test[0], "query")
    binary = np.unique(y_train).size == 2
    rng = np.random.RandomState(ctx.seed)
    idxs = np.arange(y_train.size)
    per_experiment, warned = [], 0
    correct = np.zeros(y_test.size)  # per test text: how many experiments classified it right
    for _ in range(params.n_experiments):
        keep = undersample(y_train, params.samples_per_label, idxs, rng)
        clf = LogisticRegression(random_state=ctx.seed, max_iter=params.max_iter)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(x_train[keep], y_train[keep])
        warned += any(issubclass(w.category, ConvergenceWarning) for w in caught)
        pred = clf.predict(x_test)
        correct += pred == y_test
        scores = classification_scores(y_test, pred)
        scores = {"accuracy": scores["accuracy"], "f1": scores["macro_f1"],
                  "f1_weighted": float(f1_score(y_test, pred, average="weighted"))}
        if binary:
            scores["ap"] = float(average_precision_score(y_test, pred))
        per_experiment.append(scores)
    mean = {k: float(np.mean([s[k] for s in per_experiment])) for k in per_experiment[0]}
    details = variant_details(SELECTION, "logreg", {}, {"logreg": mean},
                              split=task.splits.get(params.split, params.split), seed=ctx.seed,
                              n_experiments=params.n_experiments, samples_per_label=params.samples_per_label,
                              scores_per_experiment=per_experiment, convergence_warnings=warned,
                              note="MTEB logReg protocol re-implemented; sampled train sets differ from MTEB's, "
                                   "so numbers are approximate to MTEB's")
    if params.main_metric == "accuracy":  # the mean over experiments of a mean over the same test texts
        details = with_per_item(details, "mean", values=correct / params.n_experiments)
    return Outcome(params.main_metric, main_value(task, mean, params.main_metric), details)


CLASSIFICATION = family("classification",
                        Protocol("jmteb", SelectedParams, evaluate_selected),
                        Protocol("mteb", UndersampledParams, evaluate_undersampled))
