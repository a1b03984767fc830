"""The fast encode path: token-budget batches and mixed precision, against sentence-transformers' encode."""

from __future__ import annotations

import numpy as np

from harness.encoders.base import EncoderConfig, build_encoder
from harness.prompts import encode_for
from harness.taskspec import load_task
from tests.conftest import CORPUS

TEXTS = [t * (1 + i % 4) for i, t in enumerate(CORPUS * 6)]  # varied lengths


def _encoder(path, **fields):
    config = EncoderConfig(name="tiny", path=str(path), revision=None, backend="sentence_transformers",
                           pooling=None, normalize=False, max_length=None, dtype="float32", similarity="cosine",
                           trust_remote_code=False, show_progress=False, batch_size=8, **fields)
    return build_encoder(config)


def test_token_budget_batches_fill_the_budget_longest_first(tiny_model):
    enc = _encoder(tiny_model, batching="token_budget", token_budget=64)
    order = enc.batch_order(TEXTS)
    counts = enc._token_counts([TEXTS[i] for i in order])
    assert (np.diff(counts) <= 0).all()
    for start, end in enc.batch_bounds([TEXTS[i] for i in order]):
        assert (end - start) * counts[start] <= 64 or end - start == 1


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


def test_cache_chunks_keep_the_token_budget_batches(tiny_model, tmp_path):
    # The cache cuts along the backend's own batch plan, so a cached encode runs exactly the batches of an
    # uncached one: bit-identical vectors in token-budget mode too.
    from harness.cache import CachedEncoder

    task = load_task("jsts")
    plain = encode_for(_encoder(tiny_model, batching="token_budget", token_budget=64), TEXTS, role="query", task=task)
    cached = CachedEncoder(_encoder(tiny_model, batching="token_budget", token_budget=64), tmp_path, chunk=10)
    assert np.array_equal(encode_for(cached, TEXTS, role="query", task=task), plain)
    assert cached.stats.misses == len(TEXTS) and len(list(tmp_path.rglob("*.emb"))) > 2
