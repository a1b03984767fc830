"""Clustering family: JMTEB's four algorithms chosen on validation, MTEB's repeated MiniBatchKMeans."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering, Birch, BisectingKMeans, MiniBatchKMeans
from sklearn.metrics import homogeneity_completeness_v_measure, v_measure_score
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from harness.errors import HarnessError
from harness.families.clustering import fit_predict

SPLITS = {"validation": "validation", "test": "test"}


def _rows(texts, labels):
    return [{"text": t, "label": y} for t, y in zip(texts, labels)]


def _blobs(seed: int, n: int, prefix: str, k: int = 4, dim: int = 5, spread: float = 1.2):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, (k, dim))
    labels = [f"topic{i % k}" for i in range(n)]
    texts = [f"{prefix}{i}" for i in range(n)]
    vectors = {t: (centres[i % k] + rng.normal(0, spread, dim)).tolist() for i, t in enumerate(texts)}
    return texts, labels, vectors


def test_golden_v_measure_with_one_misplaced_point(tiny):
    # Validation: two clean, far-apart groups -> every algorithm scores 1.0; MiniBatchKMeans, listed
    # first, wins the tie. Test: a1 sits alone, a2 sits with both b's -> clusters {a1}, {a2, b1, b2}.
    vectors = {"v1": [0, 0], "v2": [0, 0.1], "v3": [10, 10], "v4": [10, 10.1],
               "a1": [0, 0], "a2": [10, 10], "b1": [10, 10.1], "b2": [10, 9.9]}
    task = tiny.make("clu_golden", "clustering", "Clustering", {
        "validation": _rows(["v1", "v2", "v3", "v4"], ["a", "a", "b", "b"]),
        "test": _rows(["a1", "a2", "b1", "b2"], ["a", "a", "b", "b"]),
    }, splits=SPLITS)
    out = tiny.run(task, vectors)
    # Entropies in bits, N = 4. H(C) = 1; H(C|K) = 1/4*0 + 3/4*H(1/3, 2/3) = 0.75*0.918296 = 0.688722
    #   -> homogeneity h = 1 - 0.688722 = 0.311278.
    # H(K) = H(1/4, 3/4) = 0.811278; H(K|C) = 1/2*H(1/2, 1/2) + 1/2*0 = 0.5
    #   -> completeness c = 1 - 0.5/0.811278 = 0.383689.
    # V = 2hc/(h+c) = 2*0.311278*0.383689 / 0.694967 = 0.238868 / 0.694967 = 0.343711.
    h3 = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
    h = 1 - 0.75 * h3
    c = 1 - 0.5 / (-(0.25 * math.log2(0.25)) - 0.75 * math.log2(0.75))
    v = 2 * h * c / (h + c)
    assert v == pytest.approx(0.343711, abs=1e-6)
    assert out.details["optimal_clustering_model_name"] == "MiniBatchKMeans"
    assert all(s["v_measure_score"] == pytest.approx(1.0) for s in out.details["val_scores"].values())
    assert out.metric_name == "v_measure_score"
    assert out.metric_value == pytest.approx(v, abs=1e-9)
    test = out.details["test_scores"]["MiniBatchKMeans"]
    assert test["homogeneity_score"] == pytest.approx(h, abs=1e-9)
    assert test["completeness_score"] == pytest.approx(c, abs=1e-9)
    assert out.details["n_clusters"] == 2 and out.details["seed"] == 0


def test_matches_sklearn_fitted_directly(tiny):
    va_t, va_y, v1 = _blobs(11, 60, "va")
    te_t, te_y, v2 = _blobs(11, 80, "te")
    vectors = {**v1, **v2}
    task = tiny.make("clu_direct", "clustering", "Clustering", {
        "validation": _rows(va_t, va_y), "test": _rows(te_t, te_y)}, splits=SPLITS)
    seed = 3
    out = tiny.run(task, vectors, seed=seed)
    x_va = np.asarray([vectors[t] for t in va_t], dtype=np.float32)
    x_te = np.asarray([vectors[t] for t in te_t], dtype=np.float32)
    k = len(set(te_y))
    makers = {
        "MiniBatchKMeans": lambda: MiniBatchKMeans(n_clusters=k, n_init="auto", random_state=seed),
        "AgglomerativeClustering": lambda: AgglomerativeClustering(n_clusters=k),
        "BisectingKMeans": lambda: BisectingKMeans(n_clusters=k, random_state=seed),
        "Birch": lambda: Birch(n_clusters=k),
    }
    with threadpool_limits(limits=1, user_api="openmp"):  # torch's and sklearn's libgomp fight otherwise
        val = {name: homogeneity_completeness_v_measure(va_y, make().fit_predict(x_va))[2]
               for name, make in makers.items()}
        best = next(n for n in makers if val[n] == max(val.values()))  # first of the best
        expected = homogeneity_completeness_v_measure(te_y, makers[best]().fit_predict(x_te))
    assert out.details["optimal_clustering_model_name"] == best
    for name in makers:
        assert out.details["val_scores"][name]["v_measure_score"] == pytest.approx(val[name], abs=1e-12)
    assert out.metric_value == pytest.approx(expected[2], abs=1e-12)
    assert out.details["test_scores"][best]["homogeneity_score"] == pytest.approx(expected[0], abs=1e-12)
    # the same seed repeats exactly (JMTEB itself is unseeded)
    assert tiny.run(task, vectors, seed=seed).metric_value == out.metric_value


def test_n_clusters_comes_from_test_labels(tiny):
    va_t, va_y, v1 = _blobs(12, 40, "va", k=2)
    te_t, te_y, v2 = _blobs(13, 40, "te", k=4)
    task = tiny.make("clu_k", "clustering", "Clustering", {
        "validation": _rows(va_t, va_y), "test": _rows(te_t, te_y)}, splits=SPLITS,
        protocols={"jmteb": {"algorithms": ["AgglomerativeClustering"]}})
    out = tiny.run(task, {**v1, **v2})
    assert out.details["n_clusters"] == 4
    x_va = np.asarray([v1[t] for t in va_t], dtype=np.float32)
    expected = v_measure_score(va_y, AgglomerativeClustering(n_clusters=4).fit_predict(x_va))
    assert out.details["val_scores"]["AgglomerativeClustering"]["v_measure_score"] == pytest.approx(expected)


class _Overflowing:
    """Fails like sklearn on huge values unless the rows are unit length."""

    def __init__(self, seen):
        self.seen = seen

    def fit_predict(self, x):
        self.seen.append(x.copy())
        if np.abs(np.linalg.norm(x, axis=1) - 1).max() > 1e-6:
            raise ValueError("Input contains infinity or a value too large for dtype('float64').")
        return (x[:, 0] > 0).astype(int)


def test_l2_fallback_only_for_overflow_errors():
    seen = []
    x = np.asarray([[3e10, 1.0], [-2e10, 5.0]], dtype=np.float32)
    pred, fallback = fit_predict(lambda: _Overflowing(seen), x)
    assert fallback and pred.tolist() == [1, 0]
    assert np.allclose(seen[1], normalize(x, norm="l2"))  # a new estimator on L2-normalised rows

    def other():
        class Bad:
            def fit_predict(self, x):
                raise ValueError("n_samples=1 should be >= n_clusters=2")
        return Bad()

    with pytest.raises(ValueError, match="n_samples"):
        fit_predict(other, x)


def test_mteb_protocol_mean_of_seeded_runs(tiny):
    te_t, te_y, vectors = _blobs(14, 90, "te", k=3, spread=2.0)
    task = tiny.make("clu_mteb", "clustering", "Clustering", {
        "validation": _rows(te_t, te_y), "test": _rows(te_t, te_y)}, splits=SPLITS,
        protocols={"jmteb": {}, "mteb": {"n_runs": 5}})
    out = tiny.run(task, vectors, protocol="mteb", seed=7)
    x = np.asarray([vectors[t] for t in te_t], dtype=np.float32)
    with threadpool_limits(limits=1, user_api="openmp"):
        runs = [v_measure_score(te_y, MiniBatchKMeans(n_clusters=3, batch_size=500, n_init="auto",
                                                      random_state=7 + i).fit_predict(x)) for i in range(5)]
    assert out.metric_name == "v_measure"
    assert out.metric_value == pytest.approx(float(np.mean(runs)), abs=1e-12)
    assert out.details["v_measures"] == pytest.approx(runs, abs=1e-12)


def test_bad_inputs(tiny):
    vectors = {"x": [1, 0], "y": [0, 1]}
    task = tiny.make("clu_missing", "clustering", "Clustering", {
        "validation": [{"label": "a"}], "test": [{"text": "x", "label": "a"}]}, splits=SPLITS)
    with pytest.raises(HarnessError, match="clu_missing/validation.jsonl: missing column 'text'"):
        tiny.run(task, vectors)
    task = tiny.make("clu_one", "clustering", "Clustering", {
        "validation": _rows(["x", "y"], ["a", "b"]), "test": _rows(["x", "y"], ["a", "a"])}, splits=SPLITS)
    with pytest.raises(HarnessError, match="at least two distinct labels"):
        tiny.run(task, vectors)
    # a mistyped algorithm is refused when the task file is read, before any data or encoding
    with pytest.raises(HarnessError, match="unknown clustering algorithm 'DBSCAN'"):
        tiny.make("clu_algo", "clustering", "Clustering", {
            "validation": _rows(["x", "y"], ["a", "b"]), "test": _rows(["x", "y"], ["a", "b"])}, splits=SPLITS,
            protocols={"jmteb": {"algorithms": ["DBSCAN"]}})
