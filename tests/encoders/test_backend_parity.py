"""Every local backend gives sentence-transformers' vectors (max abs difference <= 1e-5, float32).

The reference is `SentenceTransformer(dir).encode(texts, prompt=...)` on the same directory; our
sentence-transformers backend is checked against it too, since it re-plans ST's batches itself.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from harness.encoders.base import EncoderConfig, build_encoder
from harness.errors import HarnessError
from harness.prompts import encode_for, prompt_for
from harness.taskspec import load_task
from tests.encoders.conftest import TEXTS

PROMPTS = {"query": "query: ", "document": "passage: ", "STS": "task: 文の意味が似ているものを探してください。\nquery: "}
TOL = 1e-5


def config(path, backend: str, **fields) -> EncoderConfig:
    base = dict(name=f"tiny-{backend}", path=str(path), revision=None, backend=backend, pooling=None,
                normalize=False, max_length=None, dtype="float32", similarity="cosine", trust_remote_code=False,
                prompts=PROMPTS, batch_size=4, device="cpu", show_progress=False)
    return EncoderConfig(**{**base, **fields})


@functools.cache
def st_model(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def reference(path, texts, prompt, batch_size=4, normalize=False):
    return st_model(path).encode(texts, prompt=prompt, batch_size=batch_size, normalize_embeddings=normalize,
                        convert_to_numpy=True)


def assert_close(ours, ref):
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= TOL, np.abs(ours - ref).max()
    assert np.abs(ref).max() > 1e-3  # not a vacuous comparison of zeros


CASES = [  # (family, model options) as the cards use them, plus both paddings for the decoder
    ("bert", {"pooling": "mean"}),                       # ruri v1, all-MiniLM
    ("bert", {"pooling": "cls"}),
    ("xlm-roberta", {"pooling": "mean", "normalize": True}),  # multilingual-e5
    ("roformer", {"pooling": "mean"}),                   # RoSEtta
    ("luke", {"pooling": "mean"}),                       # GLuCoSE
    ("modernbert", {"pooling": "mean"}),                 # ruri-v3
    ("llama", {"pooling": "lasttoken", "include_prompt": False, "padding_side": "left"}),   # sarashina
    ("llama", {"pooling": "lasttoken", "include_prompt": False, "padding_side": "right"}),
    ("llama", {"pooling": "mean", "include_prompt": False, "padding_side": "left"}),
    ("bert", {"pooling": "max"}),
]


@pytest.mark.parametrize("family,options", CASES, ids=[f"{f}-{'-'.join(map(str, o.values()))}" for f, o in CASES])
@pytest.mark.parametrize("backend", ["transformers", "sentence_transformers"])
def test_backend_equals_sentence_transformers(tiny_models, family, options, backend):
    path = tiny_models(family, **options)
    sts, retrieval = load_task("jsts"), load_task("jaquad_retrieval")
    encoder = build_encoder(config(path, backend))
    for task, role in ((sts, "query"), (retrieval, "query"), (retrieval, "document")):
        prompt = prompt_for(encoder.config.prompts, task, task.default_protocol, role)
        assert_close(encode_for(encoder, TEXTS, role=role, task=task), reference(path, TEXTS, prompt))


def test_static_embedding_equals_sentence_transformers(tiny_models):
    for normalize_module in (False, True):
        path = tiny_models("static", normalize=normalize_module)
        encoder = build_encoder(config(path, "static"))
        task = load_task("jaquad_retrieval")
        for role in ("query", "document"):
            assert_close(encode_for(encoder, TEXTS, role=role, task=task), reference(path, TEXTS, PROMPTS[role]))


def test_normalize_option_equals_sentence_transformers(tiny_models):
    path = tiny_models("bert", pooling="mean")
    task = load_task("jsts")
    ours = encode_for(build_encoder(config(path, "transformers", normalize=True)), TEXTS, role="query", task=task)
    assert_close(ours, reference(path, TEXTS, PROMPTS["STS"], normalize=True))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-6)


@pytest.mark.parametrize("backend", ["transformers", "sentence_transformers"])
def test_add_eos_appends_the_eos_token_as_jmteb_does(tiny_models, backend):
    """JMTEB's add_eos: the tokenizer's EOS token appended to the text, then encoded as usual."""
    path = tiny_models("llama", pooling="lasttoken", include_prompt=False, padding_side="left")
    task = load_task("jaquad_retrieval")
    ours = encode_for(build_encoder(config(path, backend, add_eos=True)), TEXTS, role="query", task=task)
    assert_close(ours, reference(path, [t + "</s>" for t in TEXTS], PROMPTS["query"]))
    plain = encode_for(build_encoder(config(path, backend)), TEXTS, role="query", task=task)
    assert np.abs(ours - plain).max() > 1e-3  # the EOS token really changed the last-token vectors


def test_plain_transformers_directory_uses_the_configured_pooling(tiny_models):
    """No modules.json: pooling and max length come from the model config (here: the ST model's own)."""
    st_dir = tiny_models("bert", pooling="cls")
    task = load_task("jsts")
    encoder = build_encoder(config(st_dir.parent / "hf", "transformers", pooling="cls", max_length=64))
    assert_close(encode_for(encoder, TEXTS, role="query", task=task), reference(st_dir, TEXTS, PROMPTS["STS"]))
    with pytest.raises(HarnessError, match="field 'pooling' is required"):
        encode_for(build_encoder(config(st_dir.parent / "hf", "transformers")), TEXTS, role="query", task=task)


@pytest.mark.parametrize("backend", ["transformers", "sentence_transformers"])
def test_pooling_contradicting_the_model_stops(tiny_models, backend):
    encoder = build_encoder(config(tiny_models("bert", pooling="mean"), backend, pooling="cls"))
    with pytest.raises(HarnessError, match="field 'pooling' is 'cls' but the model's own Pooling module uses 'mean'"):
        encode_for(encoder, TEXTS, role="query", task=load_task("jsts"))


@pytest.mark.parametrize("family,options", [("bert", {"pooling": "mean"}), ("llama", {
    "pooling": "lasttoken", "include_prompt": False, "padding_side": "left"})], ids=["bert", "llama"])
def test_fast_settings_are_applied_by_both_torch_backends(tiny_models, family, options):
    # autocast and the attention kernel must act in the transformers backend exactly as in the
    # sentence-transformers one: the cache key says they were used, so silently ignoring them is a wrong label.
    path = tiny_models(family, **options)
    task = load_task("jsts")
    plain = encode_for(build_encoder(config(path, "sentence_transformers")), TEXTS, role="query", task=task)
    eager = {b: encode_for(build_encoder(config(path, b, attention="eager")), TEXTS, role="query", task=task)
             for b in ("transformers", "sentence_transformers")}
    mixed = {b: encode_for(build_encoder(config(path, b, autocast="bfloat16")), TEXTS, role="query", task=task)
             for b in ("transformers", "sentence_transformers")}
    for backend in eager:
        assert_close(eager[backend], plain)  # another kernel, the same function to float32 rounding
        assert np.abs(mixed[backend] - mixed["sentence_transformers"]).max() <= TOL
        assert np.abs(mixed[backend] - plain).max() > TOL  # bf16 really ran: the vectors moved
    model = build_encoder(config(path, "transformers", attention="eager")).loaded.model
    assert model.config._attn_implementation == "eager"


@pytest.mark.parametrize("backend", ["transformers", "sentence_transformers"])
def test_worker_threads_give_the_same_vectors_bit_for_bit(tiny_models, backend):
    import torch

    path = tiny_models("bert", pooling="mean")
    task = load_task("jsts")
    one = encode_for(build_encoder(config(path, backend)), TEXTS, role="query", task=task)
    encoder = build_encoder(config(path, backend, workers=2))
    threads = torch.get_num_threads()
    two = encode_for(encoder, TEXTS, role="query", task=task)
    assert np.array_equal(one, two)  # each batch computed whole by one worker, results in batch order
    assert torch.get_num_threads() == threads  # the process-wide thread count is restored
    if backend == "sentence_transformers":
        assert "preprocess" not in vars(encoder.model)  # the tokenizer lock is removed again


@pytest.mark.parametrize("backend", ["transformers", "sentence_transformers"])
def test_auto_attention_picks_eager_for_short_texts_and_sdpa_for_long(tiny_models, backend, monkeypatch):
    monkeypatch.setattr("harness.encoders.base.AUTO_EAGER_MAX_TOKENS", 16)  # the tiny model truncates at 64
    # a model that can switch its kernel after loading in every tested transformers (BERT picks it at load
    # time under 4.57.1, so the switch there is refused with a warning and sdpa kept)
    path = tiny_models("llama", pooling="mean")
    task = load_task("jaquad_retrieval")  # documents: the short prompt "passage: " counts in the length
    encoder = build_encoder(config(path, backend, attention="auto"))
    model = encoder.loaded.model if backend == "transformers" else encoder.model[0].auto_model
    short = ["猫", "a cat sleeps"] * 4
    vectors = encode_for(encoder, short, role="document", task=task)
    assert model.config._attn_implementation == "eager"
    assert_close(vectors, reference(path, short, prompt_for(encoder.config.prompts, task, "jmteb", "document")))
    encode_for(encoder, ["男性がギターを弾いている。" * 12] * 4, role="document", task=task)  # 64 tokens
    assert model.config._attn_implementation == "sdpa"
