"""Real weights: all-MiniLM-L6-v2 through the transformers backend equals the sentence-transformers backend."""

from __future__ import annotations

import json

import numpy as np

from harness.encoders.base import build_encoder
from harness.prompts import encode_for
from harness.taskspec import load_task
from tests.encoders.test_backend_parity import config


def test_minilm_transformers_backend_equals_sentence_transformers(minilm_path, shared_data):
    rows = [json.loads(line) for line in (shared_data / "jsts" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [r["sentence1"] for r in rows[:150]] + [r["sentence2"] for r in rows[:150]]
    task = load_task("jsts")
    fields = dict(prompts={}, batch_size=32)
    st = encode_for(build_encoder(config(minilm_path, "sentence_transformers", **fields)), texts, role="query", task=task)
    hf = encode_for(build_encoder(config(minilm_path, "transformers", **fields)), texts, role="query", task=task)
    assert st.shape == (300, 384)
    assert np.abs(st - hf).max() <= 1e-5
    assert np.allclose(np.linalg.norm(hf, axis=1), 1, atol=1e-5)  # the model's own Normalize module ran
