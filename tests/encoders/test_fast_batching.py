"""The fast encode path: token-budget batches and mixed precision, against sentence-transformers' encode."""

from __future__ import annotations

import numpy as np
import pytest

from harness.encoders.base import EncoderConfig, build_encoder
from harness.prompts import encode_for
from harness.taskspec import load_task
from tests.conftest import CORPUS

TEXTS = [t * (1 + i % 4) for i, t in enumerate(CORPUS * 6)]  # varied lengths


def _encoder(path, backend="sentence_transformers", **fields):
    config = EncoderConfig(name="tiny", path=str(path), revision=None, backend=backend,
                           pooling=None, normalize=False, max_length=None, dtype="float32", similarity="cosine",
                           trust_remote_code=False, show_progress=False, batch_size=8, **fields)
    return build_encoder(config)


@pytest.mark.parametrize("backend", ["sentence_transformers", "transformers"])
def test_token_budget_batches_fill_the_budget_longest_first(tiny_model, backend):
    enc = _encoder(tiny_model, backend, batching="token_budget", token_budget=64)
    order = enc.batch_order(TEXTS)
    counts = enc.token_counts([TEXTS[i] for i in order])
    assert (np.diff(counts) <= 0).all()
    bounds = enc.batch_bounds([TEXTS[i] for i in order])
    assert [b for _, b in bounds][-1] == len(TEXTS) and all(a == b for (_, a), (b, _) in zip(bounds, bounds[1:]))
    for start, end in bounds:  # the budget, and never more than batch_size texts (8)
        assert ((end - start) * counts[start] <= 64 or end - start == 1) and end - start <= 8
        # the greedy plan's own rule: the next text would have broken the budget or the cap
        assert end == len(TEXTS) or (end - start + 1) * counts[start] > 64 or end - start == 8
    assert any(end - start == 8 for start, end in _encoder(tiny_model, backend, batching="token_budget",
                                                             token_budget=10**6).batch_bounds(TEXTS))


def test_both_backends_plan_and_encode_token_budget_batches_alike(tiny_model):
    task = load_task("jsts")
    st, hf = (_encoder(tiny_model, backend, batching="token_budget", token_budget=64)
              for backend in ("sentence_transformers", "transformers"))
    assert np.array_equal(st.batch_order(TEXTS), hf.batch_order(TEXTS))
    ordered = [TEXTS[i] for i in st.batch_order(TEXTS)]
    assert st.batch_bounds(ordered) == hf.batch_bounds(ordered)
    vectors = [encode_for(enc, TEXTS, role="query", task=task) for enc in (st, hf)]
    assert np.abs(vectors[0] - vectors[1]).max() <= 1e-6


def test_token_budget_equals_reference_in_float32_and_autocast_stays_close(tiny_model):
    from sentence_transformers import SentenceTransformer

    task = load_task("jsts")
    reference = SentenceTransformer(str(tiny_model), device="cpu").encode(TEXTS, batch_size=8)
    fast = encode_for(_encoder(tiny_model, batching="token_budget", token_budget=64), TEXTS, role="query",
                                                                                          task=task)
    assert np.abs(fast - reference).max() <= 1e-5
    mixed = encode_for(_encoder(tiny_model, batching="token_budget", autocast="bfloat16"), TEXTS, role="query",
                                                                                          task=task)
    cos = (mixed * reference).sum(1) / np.linalg.norm(mixed, axis=1) / np.linalg.norm(reference, axis=1)
    assert cos.min() > 0.99


def test_cache_key_separates_fast_settings():
    base = dict(name="m", path="p", revision=None, backend="sentence_transformers", pooling=None, normalize=False,
                max_length=None, dtype="float32", similarity="cosine", trust_remote_code=False)
    keys = {str(EncoderConfig(**base, **extra).identity()) for extra in
            ({}, {"batching": "token_budget"}, {"batching": "token_budget", "token_budget": 512},
             {"autocast": "bfloat16"}, {"attention": "eager"})}
    assert len(keys) == 5
    assert "batching" not in EncoderConfig(**base).identity()  # old cache keys stay valid


@pytest.mark.parametrize("backend", ["sentence_transformers", "transformers"])
def test_cache_chunks_keep_the_token_budget_batches(tiny_model, tmp_path, backend):
    # The cache cuts along the backend's own batch plan, so a cached encode runs exactly the batches of an
    # uncached one: bit-identical vectors in token-budget mode too.
    from harness.cache import CachedEncoder

    task = load_task("jsts")
    plain = encode_for(_encoder(tiny_model, backend, batching="token_budget", token_budget=64), TEXTS, role="query",
                       task=task)
    cached = CachedEncoder(_encoder(tiny_model, backend, batching="token_budget", token_budget=64), tmp_path,
                           chunk=10)
    assert np.array_equal(encode_for(cached, TEXTS, role="query", task=task), plain)
    assert cached.stats.misses == len(TEXTS) and len(list(tmp_path.rglob("*.emb"))) > 2


def test_token_counts_are_taken_once_per_plan_with_the_tokenizers_threads_for_that_pass_only(tiny_model,
                                                                                            monkeypatch):
    import os

    enc = _encoder(tiny_model, batching="token_budget", token_budget=64)
    seen = []
    original = enc.count_tokens

    def counting(texts):
        seen.append((len(texts), os.environ.get("TOKENIZERS_PARALLELISM")))
        return original(texts)

    monkeypatch.setattr(enc, "count_tokens", counting)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    ordered = [TEXTS[i] for i in enc.batch_order(TEXTS)]
    enc.batch_bounds(ordered)
    enc.batch_bounds(ordered[:5])  # a cache chunk or a rank's shard of the same plan: no second count
    assert seen == [(len(set(TEXTS)), "true")] and os.environ["TOKENIZERS_PARALLELISM"] == "false"
    enc.batch_order(CORPUS[:3])  # a new plan lets the earlier texts go
    assert set(enc._counted) == set(CORPUS[:3])
