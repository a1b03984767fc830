"""Pooling by hand-worked values, and last-token pooling under both padding sides against unpadded encodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.encoders.base import build_encoder
from harness.encoders.hf_backend import exclude_prompt, pool, st_major
from harness.prompts import encode_for
from harness.taskspec import load_task
from tests.encoders.conftest import TEXTS
from tests.encoders.test_backend_parity import config

# Two sequences of 4 positions, 2-d token vectors. Row 0: right padded (3 real tokens); row 1: left padded (2).
TOKENS = torch.tensor([[[1., 2.], [3., 4.], [5., 6.], [70., 80.]],
                       [[90., 90.], [90., 90.], [7., 8.], [9., 10.]]])
MASK = torch.tensor([[1, 1, 1, 0], [0, 0, 1, 1]])


def test_pool_by_hand():
    assert pool(TOKENS, MASK, "mean").tolist() == [[3., 4.], [8., 9.]]
    assert pool(TOKENS, MASK, "cls").tolist() == [[1., 2.], [7., 8.]]
    assert pool(TOKENS, MASK, "lasttoken").tolist() == [[5., 6.], [9., 10.]]
    assert pool(TOKENS, MASK, "max").tolist() == [[5., 6.], [9., 10.]]


def test_exclude_prompt_skips_padding_first():
    # A one-token prompt: row 0 loses position 0, row 1 (left padded) loses position 2.
    assert exclude_prompt(MASK, 1).tolist() == [[0, 1, 1, 0], [0, 0, 0, 1]]
    assert pool(TOKENS, exclude_prompt(MASK, 1), "mean").tolist() == [[4., 5.], [9., 10.]]
    assert pool(TOKENS, torch.zeros_like(MASK), "lasttoken").tolist() == [[0., 0.], [0., 0.]]


def test_sentence_transformers_5_masks_prompt_positions_and_takes_cls_at_zero():
    # 5.x (the lock's 5.1.1): the first position, whatever the padding side; cls is position 0
    assert exclude_prompt(MASK, 1, positional=True).tolist() == [[0, 1, 1, 0], [0, 0, 1, 1]]
    assert pool(TOKENS, MASK, "cls", cls_at_zero=True).tolist() == TOKENS[:, 0].tolist()


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_pooling_matches_unpadded_encodes(tiny_models, side):
    """Batched (padded) vectors equal each text encoded alone, where there is no padding at all."""
    if side == "left" and st_major() < 6:
        pytest.skip("sentence-transformers 5.x masks prompt positions, not prompt tokens: under left padding its "
                    "vectors depend on the padding, and the backend reproduces that (test_backend_parity)")
    path = tiny_models("llama", pooling="lasttoken", include_prompt=False, padding_side=side)
    task = load_task("jaquad_retrieval")
    batched = build_encoder(config(path, "transformers", batch_size=8))
    alone = build_encoder(config(path, "transformers", batch_size=1))
    assert batched.loaded.tokenizer.padding_side == side
    features = batched.loaded.tokenizer(TEXTS[:8], padding=True)
    pad_column = 0 if side == "left" else -1
    assert 0 in [row[pad_column] for row in features["attention_mask"]]  # padding really happens on that side
    a, b = (encode_for(e, TEXTS, role="query", task=task) for e in (batched, alone))
    assert np.abs(a - b).max() <= 1e-5
