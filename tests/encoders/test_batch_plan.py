"""Our batch plan (st_backend.reference_order) forms the very batches sentence-transformers' own `encode` forms.

Recorded from the real library: a hook on the model's embedding layer sees every batch's token ids, for a text
list full of equal lengths (where numpy's unstable sort decides which texts share a batch).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.encoders.base import build_encoder
from harness.encoders.st_backend import reference_order
from harness.prompts import encode_for, prompt_for
from harness.taskspec import load_task
from tests.encoders.test_backend_parity import config

WORDS = ["cat", "dog", "kids", "sofa", "guitar", "park", "猫", "犬", "公園", "料理"]


def tied_texts(n: int = 90, seed: int = 3) -> list[str]:
    """n texts of only 4 distinct character lengths, in a random order."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        words = [str(w) for w in rng.choice(WORDS, size=int(rng.integers(1, 4)))]
        texts.append((" ".join(words) * 11)[:int(rng.choice([3, 5, 8, 11]))])
    return texts


def record_batches(model):
    """A hook on the embedding layer (called through the module, in every sentence-transformers version) that
    keeps each batch's rows of token ids, padding removed; returns (batches, handle)."""
    batches: list[list[tuple[int, ...]]] = []
    pad = model.tokenizer.pad_token_id

    def hook(module, args, kwargs):
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        batches.append([tuple(t for t in row.tolist() if t != pad) for row in ids])

    return batches, model[0].auto_model.embeddings.register_forward_pre_hook(hook, with_kwargs=True)


def test_ties_really_are_reordered():
    """Otherwise the comparison below could not tell numpy's default sort from a stable one."""
    texts = tied_texts()
    lengths = np.array([len(t) for t in texts])
    assert len(set(lengths.tolist())) == 4
    order = reference_order(texts)
    assert (np.diff(lengths[order]) <= 0).all()  # longest first
    assert not np.array_equal(order, np.argsort(-lengths, kind="stable"))
    assert np.array_equal(order, np.argsort(-lengths))  # numpy's default sort, as sentence-transformers calls it


@pytest.mark.parametrize("add_eos", [False, True])
def test_batches_and_vectors_equal_sentence_transformers_encode(tiny_models, add_eos):
    from sentence_transformers import SentenceTransformer

    path = tiny_models("bert", pooling="mean")
    task = load_task("jsts")  # a prompt: the library sorts prompt + text, we sort the bare texts
    texts = tied_texts()
    encoder = build_encoder(config(path, "sentence_transformers", batch_size=8, add_eos=add_eos, workers=1))
    prompt = prompt_for(encoder.config.prompts, task, "jmteb", "query")
    assert prompt
    library = SentenceTransformer(str(path), device="cpu")
    eos = library.tokenizer.eos_token if add_eos else ""

    theirs, handle = record_batches(library)
    expected = library.encode([t + eos for t in texts], prompt=prompt, batch_size=8, convert_to_numpy=True)
    handle.remove()
    ours, handle = record_batches(encoder.model)
    vectors = encode_for(encoder, texts, role="query", task=task)
    handle.remove()

    assert len(theirs) == len(ours) == 12
    # the same texts in every batch, batch after batch (the order of rows inside one batch changes no padding)
    assert [sorted(batch) for batch in ours] == [sorted(batch) for batch in theirs]
    assert np.array_equal(vectors, expected)  # bit for bit
