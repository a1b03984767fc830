"""The encoder protocol, its resolved configuration, and the backend registry."""

from __future__ import annotations

import importlib
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Protocol

import numpy as np

from harness.encoders.workers import parallel_tokenizer
from harness.errors import HarnessError
from harness.vocab import Vocab

log = logging.getLogger(__name__)

# backend name -> "module:Class"; imported lazily so `harness list` stays fast.
_BACKEND_CLASSES = {
    "sentence_transformers": "harness.encoders.st_backend:SentenceTransformersEncoder",
    "transformers": "harness.encoders.hf_backend:TransformersEncoder",
    "static": "harness.encoders.static_backend:StaticEmbeddingEncoder",
    "openai": "harness.encoders.openai_backend:OpenAIEncoder",
    "callable": "harness.api:CallableEncoder",  # a Python function given to harness.evaluate (not from YAML)
}
BACKENDS = Vocab.of("backend", _BACKEND_CLASSES)
DTYPES = Vocab.of("dtype", ("float32", "bfloat16", "float16"))
AUTOCAST = Vocab.of("autocast", ("bfloat16", "float16"))
ATTENTION = Vocab.of("attention", ("eager", "sdpa", "auto"))
BATCHING = Vocab.of("batching", ("reference", "token_budget"))
# attention: auto picks eager for short texts and sdpa for long ones: on CPU with bf16 autocast, eager is
# ~10 % faster on JSTS (24 tokens on average) and sdpa 2x faster on SciFact (256-token documents).
AUTO_EAGER_MAX_TOKENS = 64
# Backends that run a torch model locally: only they honour autocast, attention and token-budget batching.
TORCH_BACKENDS = ("sentence_transformers", "transformers")
# Pooling names (sentence-transformers' own); null in a model config = the model's own Pooling module.
POOLINGS = Vocab.of("pooling", ("mean", "cls", "lasttoken", "max"))
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(device: object, where: str = "field 'device'") -> str:
    """auto | cpu | mps | cuda | cuda:N, and a GPU only where torch can use one."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise HarnessError(f"{where}: unknown device {device!r}; valid: auto, cpu, cuda, cuda:N, mps")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise HarnessError(f"{where}: device '{device}' but torch {torch.__version__} sees no CUDA GPU; "
                               f"use device=cpu (or auto)")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise HarnessError(f"{where}: device '{device}' but only {torch.cuda.device_count()} GPU(s) are visible")
    if device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise HarnessError(f"{where}: device 'mps' is not available here; use device=cpu (or auto)")
    return device


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """Everything that changes an embedding (the cache key) plus how to compute it fast. The defaults here are
    the only defaults: configs leave a field null (or out) to get them."""

    name: str
    path: str
    backend: str
    revision: str | None = None
    pooling: str | None = None
    normalize: bool = False
    max_length: int | None = None
    dtype: str = "float32"
    similarity: str = "cosine"
    trust_remote_code: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    batch_size: int = 32
    device: str = "auto"
    show_progress: bool = True
    add_eos: bool = False  # append the tokenizer's EOS token to every text (JMTEB's add_eos)
    truncate_dims: tuple[int, ...] = ()  # Matryoshka: also evaluate these leading dimensions
    api: dict[str, Any] = field(default_factory=dict)  # HTTP backends: base_url, key_env, limits
    # "reference": the batches sentence-transformers would form (bit-identical to model.encode);
    # "token_budget": texts sorted by token count, batches filled up to `token_budget` padded tokens (and at
    # most batch_size texts).
    batching: str = "reference"
    token_budget: int = 16384
    autocast: str | None = None  # bfloat16 | float16: mixed precision over float32 weights
    attention: str | None = None  # eager | sdpa | auto: transformers' attn_implementation; null = model default
    # encode=fast's numeric kernel (encoders/fast_kernel.py): `auto` is resolved here, at construction, into
    # the concrete kernel this machine runs (bf16/amx_bf16, int8/avx512_vnni, ...), so the cache key and
    # provenance name what computed the vectors; null = the reference arithmetic (dtype, autocast)
    kernel: str | None = None
    workers: int = 2  # CPU: batches on this many threads, the cores shared between them (encoders/workers.py);
    # vectors are bit-identical for any value; at most torch's thread count is used
    # A model named by hub id or directory (or given in memory): what its sentence-transformers files say
    # (harness.st_config). A record for provenance; the values it sets are fields above.
    st_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kernel is not None:
            from harness.encoders.fast_kernel import resolve_kernel

            object.__setattr__(self, "kernel", resolve_kernel(self.kernel, resolve_device(self.device)))

    def identity(self) -> dict[str, Any]:
        """Fields that determine the embedding values (batch size, device and progress do not)."""
        data = asdict(self)
        for key in ("batch_size", "device", "show_progress", "name", "prompts", "similarity", "truncate_dims",
                    "workers", "st_config"):
            data.pop(key)
        # Defaults are left out so that cache keys written before these fields existed stay valid.
        if not data["add_eos"]:
            data.pop("add_eos")
        if data["batching"] == "reference":  # the token budget only matters when it is used
            data.pop("token_budget")
        for key, default in (("batching", "reference"), ("autocast", None), ("attention", None), ("kernel", None)):
            if data[key] == default:
                data.pop(key)
        api = {k: v for k, v in data.pop("api").items() if k in API_VALUE_FIELDS}
        if api:
            data["api"] = api
        return data


# The API settings that change the returned vectors (the key's variable, retries and limits do not).
API_VALUE_FIELDS = ("base_url", "dimensions", "tokenizer", "max_tokens_per_text")


@dataclass(frozen=True)
class Side:
    """What a list of texts is encoded as: the prompt put before each text (None: the model's own default, if
    it has one) and, for progress and messages, the task and the role (query | document)."""

    task: str
    role: str
    prompt: str | None = None
    part: str = ""  # what the texts are, for progress only (STS: sentence1 / sentence2, both of role query)

    @property
    def shown(self) -> str:
        return self.part or self.role


class Encoder(Protocol):
    """`encode` is the protocol. A backend that reads a model's files also has `own_prompts()`: the prompts the
    model's config_sentence_transformers.json sets (what `model_prompts` reads)."""

    config: EncoderConfig

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        """Embed `texts` as `side`; float32 array of shape (len(texts), dim)."""
        ...


# sentence-transformers >= 5 always holds these two prompts ("" = an explicit empty prompt, which also keeps
# the model's default_prompt_name away): SentenceTransformer._default_prompts + _validate_prompts (6.2),
# SentenceTransformer.__init__ (5.1.1).
ST_DEFAULT_PROMPTS = {"query": "", "document": ""}


def model_prompts(encoder: Encoder) -> dict[str, str]:
    """The prompts sentence-transformers holds for the encoder's model: its configured ones over
    ST_DEFAULT_PROMPTS. An encoder without model files (an API, a test stand-in) configures none."""
    own = getattr(encoder, "own_prompts", None)
    return {**ST_DEFAULT_PROMPTS, **(own() if own is not None else {})}


class BatchedEncoder(ABC):
    """Base of local backends: batches are planned over the whole text list, then encoded in that order.

    The plan is the reference library's own (sentence-transformers sorts the whole input by length before
    cutting batches), so an encode split into cache chunks or progress steps still sees exactly the batches
    a single `model.encode(texts)` would: padding, and so the last bits of every vector, are identical.
    """

    config: EncoderConfig

    def batch_order(self, texts: list[str]) -> np.ndarray:
        """Permutation of `texts` in which consecutive runs of `batch_size` form the batches; with token-budget
        batching, by token count, longest first (ties in input order)."""
        if self.config.batching == "token_budget":
            self._counted = {}  # a new plan: the counts of earlier texts are let go (a corpus can be large)
            return np.argsort(-self.token_counts(texts), kind="stable")
        return np.arange(len(texts))

    def batch_bounds(self, ordered: list[str]) -> list[tuple[int, int]]:
        """[start, end) of the batches `encode_in_order(ordered)` runs. A run of whole batches cut from this
        plan is planned into the very same batches again, which is what lets the cache and the ranks split
        the work without changing a bit."""
        if self.config.batching == "token_budget":
            return token_budget_batches(self.token_counts(ordered), self.config.token_budget, self.config.batch_size)
        return fixed_batches(len(ordered), self.config.batch_size)

    def token_counts(self, texts: list[str]) -> np.ndarray:
        """Tokens of each text, truncated as the model truncates. Each text is counted once per plan: the plan
        asks twice (order, then bounds), and the cache's chunks and torchrun's shards ask again for theirs."""
        counted = self.__dict__.setdefault("_counted", {})
        new = [text for text in dict.fromkeys(texts) if text not in counted]
        if new:
            with parallel_tokenizer():
                counted.update(zip(new, self.count_tokens(new)))
        return np.fromiter((counted[text] for text in texts), dtype=np.int64, count=len(texts))

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts of `texts` (truncated), from the backend's tokenizer: token-budget batching needs them."""
        raise HarnessError(f"model {self.config.name}: backend {self.config.backend} has no token-budget batching")

    @abstractmethod
    def encode_in_order(self, texts: list[str], side: Side) -> np.ndarray:
        """Encode the batches of `batch_bounds(texts)` as given, without reordering."""

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        return encode_planned(self, texts, side)


def encode_planned(encoder: BatchedEncoder | EncoderWrapper, texts: list[str], side: Side) -> np.ndarray:
    """`texts` put in the encoder's batch order, encoded as planned, and put back in the given order."""
    order = encoder.batch_order(texts)
    ordered = encoder.encode_in_order([texts[i] for i in order], side)
    result = np.empty_like(ordered)
    result[order] = ordered
    return result


def fixed_batches(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def token_budget_batches(counts: np.ndarray, budget: int, most: int) -> list[tuple[int, int]]:
    """Batches over texts sorted longest first: each pads to its first text, so it takes `budget // that
    length` texts, and never more than `most` (many short texts in one batch are slower, not faster: JSTS in
    docs/PERFORMANCE.md). Greedy from each batch's start, so a run of whole batches is planned the same again."""
    bounds, start = [], 0
    while start < len(counts):
        end = min(start + max(1, min(most, budget // max(int(counts[start]), 1))), len(counts))
        bounds.append((start, end))
        start = end
    return bounds


def is_batched(encoder: Encoder) -> bool:
    """Whether `encoder` exposes a batch plan (a local backend, or a wrapper around one)."""
    return isinstance(encoder, BatchedEncoder) or (isinstance(encoder, EncoderWrapper) and encoder.batched)


class EncoderWrapper:
    """Base of the encoders that wrap another (embedding cache, torchrun ranks, Matryoshka memo and truncation):
    the same protocol, the inner encoder's config, and its batch plan passed through, so that whatever wraps
    this wrapper still cuts work at the backend's own batch boundaries."""

    def __init__(self, inner: Encoder):
        self.inner = inner
        self.config = inner.config

    @property
    def batched(self) -> bool:
        return is_batched(self.inner)

    def batch_order(self, texts: list[str]) -> np.ndarray:
        return self.inner.batch_order(texts) if self.batched else np.arange(len(texts))

    def batch_bounds(self, ordered: list[str]) -> list[tuple[int, int]]:
        return self.inner.batch_bounds(ordered) if self.batched else fixed_batches(len(ordered), self.config.batch_size)

    def encode_in_order(self, texts: list[str], side: Side) -> np.ndarray:
        """The planned texts as planned (an encoder without a plan: in the given order)."""
        return self.inner.encode_in_order(texts, side) if self.batched else self.inner.encode(texts, side)

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        return self.inner.encode(texts, side)

    def own_prompts(self) -> dict[str, str]:
        return model_prompts(self.inner)


def group_batches(bounds: list[tuple[int, int]], target: int) -> list[tuple[int, int]]:
    """Consecutive whole batches joined into groups of at most `target` texts (one batch at least)."""
    groups: list[tuple[int, int]] = []
    for start, end in bounds:
        if groups and end - groups[-1][0] <= target:
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    return groups


def split_batches(bounds: list[tuple[int, int]], parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous runs of whole batches, as even as the batch count allows (empty runs as (0, 0))."""
    cuts = [r * len(bounds) // parts for r in range(parts + 1)]
    return [(bounds[a][0], bounds[b - 1][1]) if b > a else (0, 0) for a, b in zip(cuts[:-1], cuts[1:])]


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_encoder(config: EncoderConfig) -> Encoder:
    BACKENDS.check(config.backend, f"model {config.name}: field 'backend'")
    DTYPES.check(config.dtype, f"model {config.name}: field 'dtype'")
    module, _, cls = _BACKEND_CLASSES[config.backend].partition(":")
    return getattr(importlib.import_module(module), cls)(config)


def autocast_context(config: EncoderConfig, device_type: str):
    """torch.autocast for `config.autocast` (a no-op context when it is null)."""
    import torch

    mixed = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.autocast)
    return torch.autocast(device_type, dtype=mixed or torch.bfloat16, enabled=mixed is not None)


def model_kwargs(config: EncoderConfig) -> dict[str, Any]:
    """from_pretrained keyword arguments that both torch backends pass: dtype and the attention kernel."""
    import torch

    from harness.encoders.fast_kernel import weight_dtype

    kwargs: dict[str, Any] = {"dtype": weight_dtype(config.kernel) or {
        "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[config.dtype]}
    if config.attention is not None:
        kwargs["attn_implementation"] = "sdpa" if config.attention == "auto" else config.attention
    return kwargs


def pick_attention(model, config: EncoderConfig, token_counts) -> None:
    """attention: auto: set the kernel of a transformers model for one encode call (every batch of it), eager
    when its median text is short. Once per call, not per batch: worker threads share the model.

    Through transformers' public `set_attn_implementation`: writing the config's field switches the kernel of
    transformers 5 models, but a 4.x model that builds its attention modules at load time (BERT, XLM-R, RoFormer
    under the lock's 4.57.1) keeps them and would run sdpa under a config saying eager. Such a model keeps
    the kernel it was loaded with (sdpa), and its config says so."""
    if config.attention != "auto" or not len(token_counts):
        return
    wanted = "eager" if float(np.median(token_counts)) <= AUTO_EAGER_MAX_TOKENS else "sdpa"
    if model.config._attn_implementation == wanted or type(model) in _FIXED_ATTENTION:
        return
    model.set_attn_implementation(wanted)
    if model.config._attn_implementation != wanted:
        _FIXED_ATTENTION.add(type(model))
        log.warning("attention: auto: %s cannot change its attention kernel at run time under transformers %s; "
                    "it keeps '%s'", type(model).__name__, metadata.version("transformers"),
                    model.config._attn_implementation)


_FIXED_ATTENTION: set[type] = set()  # model classes whose kernel is fixed at load time (warned once each)


def check_embeddings(array: np.ndarray, n: int, where: str) -> np.ndarray:
    """A model that returns NaN/inf or the wrong row count must stop the run, not produce a score."""
    array = np.asarray(array, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n:
        raise HarnessError(f"{where}: model returned shape {array.shape} for {n} texts")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise HarnessError(f"{where}: model returned NaN or infinite embeddings for {int(bad.sum())} of {n} "
                           f"texts (first at row {int(np.argmax(bad))}); try encode.dtype=float32")
    return array
