"""Classification family: JMTEB selection protocol and MTEB's undersampled logistic regression."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neighbors import KNeighborsClassifier

from harness.errors import HarnessError

SPLITS = {"train": "train", "validation": "validation", "test": "test"}


def _rows(texts, labels):
    return [{"text": t, "label": y} for t, y in zip(texts, labels)]


def _blobs(seed: int, n: int, prefix: str, classes=("geo", "sport", "tech"), dim: int = 6, spread: float = 1.6):
    """Overlapping Gaussian classes: both classifiers make some mistakes, so selection matters."""
    rng = np.random.default_rng(seed)
    centres = {c: np.eye(dim)[i] * 2.0 for i, c in enumerate(classes)}
    labels = [classes[i % len(classes)] for i in range(n)]
    texts = [f"{prefix}{i}" for i in range(n)]
    vectors = {t: (centres[y] + rng.normal(0, spread, dim)).tolist() for t, y in zip(texts, labels)}
    return texts, labels, vectors


def test_knn_golden_tiny_case(tiny):
    # 2-D points; classes a (x-axis), b (y-axis), c (negative x-axis); only the k=2 cosine KNN runs.
    vectors = {"a1": [1, 0], "a2": [1, 0.1], "b1": [0, 1], "b2": [0.1, 1], "c1": [-1, 0], "c2": [-1, -0.1],
               "va": [1, 0.05], "vb": [0.05, 1], "vc": [-1, 0.02],
               "ta": [1, 0.05], "tb": [0.05, 1], "tc": [-1, 0.0], "tb_wrong": [0.9, 0.2]}
    task = tiny.make("cls_golden", "classification", "Classification", {
        "train": _rows(["a1", "a2", "b1", "b2", "c1", "c2"], ["a", "a", "b", "b", "c", "c"]),
        "validation": _rows(["va", "vb", "vc"], ["a", "b", "c"]),
        "test": _rows(["ta", "tb", "tc", "tb_wrong"], ["a", "b", "c", "b"]),
    }, splits=SPLITS, protocols={"jmteb": {"classifiers": ["knn_cosine_k_2"]}})
    out = tiny.run(task, vectors)
    # Test predictions: ta->a, tb->b, tc->c, and tb_wrong (0.9, 0.2) has both a's as nearest -> a (wrong).
    # accuracy = 3/4. Per class F1: a: TP1 FP1 FN0 -> P 1/2, R 1 -> 2/3; b: TP1 FP0 FN1 -> 2/3; c: 1.
    # macro F1 = (2/3 + 2/3 + 1) / 3 = 7/9.
    assert out.metric_name == "macro_f1"
    assert math.isclose(out.metric_value, 7 / 9, rel_tol=1e-12)
    assert out.details["optimal_classifier_name"] == "knn_cosine_k_2"
    assert out.details["test_scores"]["knn_cosine_k_2"] == {"accuracy": 0.75, "macro_f1": pytest.approx(7 / 9)}
    assert out.details["val_scores"]["knn_cosine_k_2"] == {"accuracy": 1.0, "macro_f1": 1.0}


def test_knn_tie_goes_to_lower_class_index(tiny):
    # One neighbour of each class at the same cosine distance: a 1-1 vote -> the lower (sorted) label.
    vectors = {"x1": [1, 1], "y1": [1, -1], "q": [1, 0], "q2": [1, 0.01]}
    task = tiny.make("cls_tie", "classification", "Classification", {
        "train": _rows(["x1", "y1"], ["zeta", "alpha"]),
        "validation": _rows(["q"], ["alpha"]),
        "test": _rows(["q", "q2"], ["alpha", "zeta"]),
    }, splits=SPLITS, protocols={"jmteb": {"classifiers": ["knn_cosine_k_2"]}})
    out = tiny.run(task, vectors)
    # q and q2 both get the tied vote -> "alpha" (id 0): test accuracy 1/2.
    assert out.details["test_scores"]["knn_cosine_k_2"]["accuracy"] == 0.5


def test_matches_sklearn_fitted_directly(tiny):
    tr_t, tr_y, vec = _blobs(1, 90, "tr")
    va_t, va_y, v2 = _blobs(2, 45, "va")
    te_t, te_y, v3 = _blobs(3, 60, "te")
    vectors = {**vec, **v2, **v3}
    task = tiny.make("cls_direct", "classification", "Classification", {
        "train": _rows(tr_t, tr_y), "validation": _rows(va_t, va_y), "test": _rows(te_t, te_y),
    }, splits=SPLITS)
    out = tiny.run(task, vectors)

    x = {name: np.asarray([vectors[t] for t in texts], dtype=np.float32)
         for name, texts in (("tr", tr_t), ("va", va_t), ("te", te_t))}
    models = {"knn_cosine_k_2": KNeighborsClassifier(n_neighbors=2, metric="cosine"),
              "logreg": LogisticRegression()}
    val = {}
    for name, model in models.items():  # sklearn on the raw string labels: no mapping involved
        model.fit(x["tr"], tr_y)
        pred = model.predict(x["va"])
        val[name] = {"accuracy": accuracy_score(va_y, pred), "macro_f1": f1_score(va_y, pred, average="macro")}
    best = max(val, key=lambda n: (val[n]["macro_f1"], -list(models).index(n)))
    pred = models[best].predict(x["te"])
    assert out.details["optimal_classifier_name"] == best
    for name in models:
        assert out.details["val_scores"][name] == pytest.approx(val[name], abs=1e-12)
    assert out.metric_value == pytest.approx(f1_score(te_y, pred, average="macro"), abs=1e-12)
    assert out.details["test_scores"][best]["accuracy"] == pytest.approx(accuracy_score(te_y, pred), abs=1e-12)
    # the two classifiers really disagree on validation here, so the selection is exercised
    assert val["knn_cosine_k_2"]["macro_f1"] != val["logreg"]["macro_f1"]


def test_global_label_mapping_when_a_split_lacks_a_class(tiny):
    # Validation holds only "sport" and "tech": a per-split mapping would call sport 0 there but 1 in
    # train. With one global mapping the result equals sklearn on the raw strings.
    tr_t, tr_y, vec = _blobs(4, 60, "tr")
    va_t, va_y, v2 = _blobs(5, 30, "va", classes=("sport", "tech"))
    te_t, te_y, v3 = _blobs(6, 30, "te")
    vectors = {**vec, **v2, **v3}
    task = tiny.make("cls_global", "classification", "Classification", {
        "train": _rows(tr_t, tr_y), "validation": _rows(va_t, va_y), "test": _rows(te_t, te_y),
    }, splits=SPLITS, protocols={"jmteb": {"classifiers": ["logreg"]}})
    out = tiny.run(task, vectors)
    model = LogisticRegression().fit(np.asarray([vectors[t] for t in tr_t], dtype=np.float32), tr_y)
    va_pred = model.predict(np.asarray([vectors[t] for t in va_t], dtype=np.float32))
    te_pred = model.predict(np.asarray([vectors[t] for t in te_t], dtype=np.float32))
    assert out.details["val_scores"]["logreg"]["accuracy"] == pytest.approx(accuracy_score(va_y, va_pred))
    assert out.metric_value == pytest.approx(f1_score(te_y, te_pred, average="macro"))
    assert out.details["n_labels"] == 3


def _mteb_direct(x_tr, y_tr, x_te, y_te, seed, n_experiments, per_label):
    """MTEB's loop written out independently: one permutation re-shuffled in place per experiment."""
    rng = np.random.RandomState(seed)
    idxs = np.arange(len(y_tr))
    accs, f1s = [], []
    for _ in range(n_experiments):
        rng.shuffle(idxs)
        seen, keep = defaultdict(int), []
        for i in idxs:
            if seen[y_tr[i]] < per_label:
                seen[y_tr[i]] += 1
                keep.append(i)
        model = LogisticRegression(random_state=seed, max_iter=100).fit(x_tr[keep], [y_tr[i] for i in keep])
        pred = model.predict(x_te)
        accs.append(accuracy_score(y_te, pred))
        f1s.append(f1_score(y_te, pred, average="macro"))
    return float(np.mean(accs)), float(np.mean(f1s))


def test_mteb_protocol_matches_direct_undersampling(tiny):
    tr_t, tr_y, vec = _blobs(7, 120, "tr")
    te_t, te_y, v2 = _blobs(8, 60, "te")
    vectors = {**vec, **v2}
    task = tiny.make("cls_mteb", "classification", "Classification", {
        "train": _rows(tr_t, tr_y), "validation": _rows(te_t, te_y), "test": _rows(te_t, te_y),
    }, splits=SPLITS, protocols={"jmteb": {}, "mteb": {"n_experiments": 4, "samples_per_label": 5}})
    out = tiny.run(task, vectors, protocol="mteb", seed=42)
    x_tr = np.asarray([vectors[t] for t in tr_t], dtype=np.float32)
    x_te = np.asarray([vectors[t] for t in te_t], dtype=np.float32)
    acc, f1 = _mteb_direct(x_tr, tr_y, x_te, te_y, 42, 4, 5)
    assert out.metric_name == "accuracy"
    assert out.metric_value == pytest.approx(acc, abs=1e-12)
    assert out.details["test_scores"]["logreg"]["f1"] == pytest.approx(f1, abs=1e-12)
    assert len(out.details["scores_per_experiment"]) == 4
    assert "ap" not in out.details["test_scores"]["logreg"]  # three classes: no AP
    # the seed matters and is honoured
    again = tiny.run(task, vectors, protocol="mteb", seed=42)
    other = tiny.run(task, vectors, protocol="mteb", seed=1)
    assert again.metric_value == out.metric_value
    assert other.details["scores_per_experiment"] != out.details["scores_per_experiment"]


def test_mteb_binary_reports_ap_of_hard_predictions(tiny):
    tr_t, tr_y, vec = _blobs(9, 80, "tr", classes=(0, 1))
    te_t, te_y, v2 = _blobs(10, 40, "te", classes=(0, 1))
    vectors = {**vec, **v2}
    task = tiny.make("cls_mteb_bin", "classification", "Classification", {
        "train": _rows(tr_t, tr_y), "validation": _rows(te_t, te_y), "test": _rows(te_t, te_y),
    }, splits=SPLITS, protocols={"jmteb": {}, "mteb": {"n_experiments": 2, "samples_per_label": 8}})
    out = tiny.run(task, vectors, protocol="mteb")
    assert set(out.details["test_scores"]["logreg"]) == {"accuracy", "f1", "f1_weighted", "ap"}
    assert 0.0 <= out.details["test_scores"]["logreg"]["ap"] <= 1.0


@pytest.mark.parametrize("bad, message", [
    ({"text": "x", "label": True}, "must be an int or a class name"),
    ({"text": "x", "label": 1.0}, "must be an int or a class name"),
    ({"text": "x", "label": ""}, "is empty"),
    ({"text": "x"}, "missing column 'label'"),
])
def test_bad_labels_name_file_and_line(tiny, bad, message):
    vectors = {"x": [1, 0], "y": [0, 1]}
    good = [{"text": "x", "label": 0}, {"text": "y", "label": 1}]
    task = tiny.make("cls_bad", "classification", "Classification", {
        "train": good, "validation": good, "test": [good[0], bad],
    }, splits=SPLITS)
    with pytest.raises(HarnessError, match=message) as info:
        tiny.run(task, vectors)
    assert "cls_bad/test.jsonl" in str(info.value)


def test_mixed_int_and_string_labels_fail(tiny):
    vectors = {"x": [1, 0], "y": [0, 1]}
    task = tiny.make("cls_mixed", "classification", "Classification", {
        "train": [{"text": "x", "label": 0}, {"text": "y", "label": 1}],
        "validation": [{"text": "x", "label": "a"}], "test": [{"text": "y", "label": 1}],
    }, splits=SPLITS)
    with pytest.raises(HarnessError, match="mix strings and non-strings"):
        tiny.run(task, vectors)


def test_single_class_train_and_unknown_classifier_fail(tiny):
    vectors = {"x": [1, 0], "y": [0, 1]}
    rows = [{"text": "x", "label": 0}, {"text": "y", "label": 0}]
    task = tiny.make("cls_one", "classification", "Classification",
                     {"train": rows, "validation": rows, "test": rows}, splits=SPLITS)
    with pytest.raises(HarnessError, match="single class"):
        tiny.run(task, vectors)
    # a mistyped classifier is refused when the task file is read, before any data or encoding
    with pytest.raises(HarnessError, match="unknown classifier 'svm'"):
        tiny.make("cls_unknown", "classification", "Classification",
                  {"train": rows, "validation": rows, "test": rows}, splits=SPLITS,
                  protocols={"jmteb": {"classifiers": ["svm"]}})
