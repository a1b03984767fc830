"""Bootstrap intervals and the paired test: hand-worked cases, the reference libraries, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.scoring import bootstrap


def test_two_items_hand_worked():
    # means of resamples of [0, 1]: 0 (p 1/4), 0.5 (p 1/2), 1 (p 1/4) -> the 95 % interval is [0, 1]
    got = bootstrap.interval("mean", {"values": [0.0, 1.0]}, resamples=2000, seed=3)
    assert (got.point, got.low, got.high) == (0.5, 0.0, 1.0)
    assert (got.resamples, got.seed, got.n, got.level) == (2000, 3, 2, 0.95)


def test_constant_items_have_a_zero_width_interval():
    got = bootstrap.interval("mean", {"values": [0.25] * 50}, resamples=200, seed=0)
    assert got.low == got.high == pytest.approx(0.25)


def test_statistics_equal_scipy_on_every_resample():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 6, 300).astype(float)          # ties, as JSTS's gold scores have
    predicted = gold + rng.normal(0, 2, 300)
    idx = rng.integers(0, 300, size=(5, 300))
    arrays = {"gold": gold, "predicted": predicted}
    spearman = bootstrap.statistic_rows("spearman", arrays, idx)
    pearson = bootstrap.statistic_rows("pearson", arrays, idx)
    for row, s, p in zip(idx, spearman, pearson):
        assert s == pytest.approx(stats.spearmanr(gold[row], predicted[row]).statistic, abs=1e-12)
        assert p == pytest.approx(stats.pearsonr(gold[row], predicted[row]).statistic, abs=1e-12)
    assert bootstrap.point("spearman", arrays) == pytest.approx(stats.spearmanr(gold, predicted).statistic, abs=1e-12)


def test_mean_interval_agrees_with_scipy_bootstrap():
    values = np.random.default_rng(1).beta(2, 5, 400)
    ours = bootstrap.interval("mean", {"values": values}, resamples=5000, seed=0)
    ref = stats.bootstrap((values,), np.mean, n_resamples=5000, method="percentile",
                          random_state=np.random.default_rng(0)).confidence_interval
    # different random streams: agreement within Monte Carlo error (~1 % of the width)
    width = ref.high - ref.low
    assert abs(ours.low - ref.low) < 0.03 * width and abs(ours.high - ref.high) < 0.03 * width


def test_same_seed_same_interval_other_seed_other_interval():
    rng = np.random.default_rng(2)
    arrays = {"gold": rng.normal(size=200), "predicted": rng.normal(size=200)}
    a = bootstrap.interval("spearman", arrays, resamples=500, seed=7)
    b = bootstrap.interval("spearman", arrays, resamples=500, seed=7)
    c = bootstrap.interval("spearman", arrays, resamples=500, seed=8)
    assert a == b and (a.low, a.high) != (c.low, c.high)
    assert a.low < a.point < a.high


def test_paired_test_hand_worked():
    a = {"values": np.linspace(0, 1, 40)}
    same = bootstrap.paired_test("mean", a, a, resamples=300, seed=0)
    assert (same.diff, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    shifted = bootstrap.paired_test("mean", a, {"values": a["values"] + 0.1}, resamples=300, seed=0)
    # every resample sees exactly +0.1: the interval is the point and no resample reverses the sign
    assert shifted.diff == pytest.approx(0.1) and shifted.low == pytest.approx(0.1)
    assert shifted.high == pytest.approx(0.1) and shifted.p_value == 0.0


def test_paired_test_of_a_noisy_tie_is_not_significant():
    rng = np.random.default_rng(4)
    a = rng.random(300)
    b = a + rng.normal(0, 0.2, 300)
    b -= b.mean() - a.mean()  # same mean
    got = bootstrap.paired_test("mean", {"values": a}, {"values": b}, resamples=1000, seed=0)
    assert got.low < 0 < got.high and got.p_value > 0.5


def test_pack_unpack_is_exact_and_checks_fields():
    values = [0.1, 1 / 3, 2.0 ** -40]
    packed = bootstrap.pack("mean", ids=["q1", "q2", "q3"], values=values)
    statistic, arrays = bootstrap.unpack(packed)
    assert statistic == "mean" and arrays["values"].tolist() == values and packed["n"] == 3
    assert len(packed["ids_sha1"]) == 40
    with pytest.raises(ValueError, match="per_item.statistic"):
        bootstrap.unpack({**packed, "statistic": "median"})
    with pytest.raises(ValueError, match="per_item.values"):
        bootstrap.unpack({**packed, "values": "not base64!"})
    with pytest.raises(ValueError, match="at least two"):
        bootstrap.interval("mean", {"values": [1.0]})


@pytest.mark.parametrize("statistic", ["macro_f1", "binary_f1", "ap", "v_measure"])
def test_label_statistics_equal_sklearn_on_every_resample(statistic):
    """The statistics of classification, pair classification and clustering, vectorised over resamples, equal
    sklearn's on each resample (ties and labels missing from a resample included)."""
    from sklearn.metrics import average_precision_score, f1_score, v_measure_score

    rng = np.random.default_rng(2)
    n = 300
    if statistic in ("macro_f1", "v_measure"):
        gold = rng.integers(0, 5, n).astype(float)
        predicted = np.where(rng.random(n) < 0.6, gold, rng.integers(0, 5, n)).astype(float)
    else:
        gold = (rng.random(n) < 0.4).astype(float)
        score = np.round(gold + rng.normal(0, 1, n), 1)  # rounded: tied scores
        predicted = score if statistic == "ap" else (score > 0.5).astype(float)
    reference = {"macro_f1": lambda g, p: f1_score(g, p, average="macro"), "binary_f1": f1_score,
                 "ap": average_precision_score, "v_measure": v_measure_score}[statistic]
    idx = rng.integers(0, n, size=(20, n))
    ours = bootstrap.statistic_rows(statistic, {"gold": gold, "predicted": predicted}, idx)
    for row, value in zip(idx, ours):
        assert value == pytest.approx(reference(gold[row], predicted[row]), abs=1e-12)
    packed = bootstrap.unpack(bootstrap.pack(statistic, gold=gold, predicted=predicted))
    assert packed[0] == statistic and bootstrap.point(*packed) == pytest.approx(reference(gold, predicted))
