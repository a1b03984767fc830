from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from harness.scoring.classification import classification_scores, label_ids


def test_label_ids_global_sorted_mapping():
    mapping, (train, test) = label_ids(["b", "a", "c"], ["c", "a"])
    assert mapping == {"a": 0, "b": 1, "c": 2}
    assert train.tolist() == [1, 0, 2] and test.tolist() == [2, 0]
    # a split lacking a class (MASSIVE intent: 60 train vs 59 test labels) keeps the train ids;
    # JMTEB's per-split mapping would have given 'z' id 1 in the second split
    mapping, (a, b) = label_ids(["x", "y", "z"], ["x", "z"])
    assert b.tolist() == [0, 2]
    mapping, (ints,) = label_ids(np.array([10, 3, 3, 7]))
    assert mapping == {3: 0, 7: 1, 10: 2} and ints.tolist() == [2, 0, 0, 1]
    assert all(type(k) is int for k in mapping)


def test_label_ids_mixed_types_raise():
    with pytest.raises(ValueError, match="mix strings"):
        label_ids([1, 2], ["1"])


def test_classification_scores_hand():
    # y_true 0,0,1,1,2 ; y_pred 0,1,1,1,0 -> accuracy 3/5 = 0.6
    # class 0: TP1 FP1 FN1 -> F1 .5 ; class 1: TP2 FP1 FN0 -> P 2/3, R 1, F1 .8 ; class 2: TP0 -> 0
    # macro = (.5 + .8 + 0)/3 = 0.433333
    out = classification_scores([0, 0, 1, 1, 2], [0, 1, 1, 1, 0])
    assert math.isclose(out["accuracy"], 0.6)
    assert math.isclose(out["macro_f1"], 1.3 / 3)


def test_classification_scores_vs_sklearn():
    rng = np.random.default_rng(0)
    for n_cls in (2, 5, 18):
        y = rng.integers(0, n_cls, size=300)
        p = np.where(rng.random(300) < 0.6, y, rng.integers(0, n_cls, size=300))
        out = classification_scores(y, p)
        assert out["accuracy"] == accuracy_score(y, p)
        assert out["macro_f1"] == f1_score(y, p, average="macro")
        assert isinstance(out["macro_f1"], float)
