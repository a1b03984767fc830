"""Classification label handling and scores (JMTEB: accuracy, macro F1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def _plain(value):
    # numpy scalars -> Python scalars so the mapping is JSON-friendly and
    # np.int64(3) and 3 are the same key.
    return value.item() if isinstance(value, np.generic) else value


def label_ids(*splits: Sequence) -> tuple[dict, list[np.ndarray]]:
    """One label -> int mapping (sorted) over the union of all splits.

    JMTEB builds the mapping per split, which silently misaligns classes when a
    split lacks one (MASSIVE intent: 60 train labels, 59 in val/test); a single
    global mapping avoids that. Mixed str / non-str labels cannot be sorted
    meaningfully and raise ValueError.
    """
    plain_splits = [[_plain(v) for v in split] for split in splits]
    union = {v for split in plain_splits for v in split}
    kinds = {isinstance(v, str) for v in union}
    if len(kinds) > 1:
        examples = sorted(repr(v) for v in union)[:5]
        raise ValueError(f"labels mix strings and non-strings (e.g. {', '.join(examples)}); convert them to one type")
    mapping = {label: i for i, label in enumerate(sorted(union))}
    encoded = [np.asarray([mapping[v] for v in split], dtype=np.int64) for split in plain_splits]
    return mapping, encoded


def classification_scores(y_true: Sequence, y_pred: Sequence) -> dict[str, float]:
    """{"accuracy", "macro_f1"} with sklearn defaults, as JMTEB reports them."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }
