"""Plain transformers backend: AutoModel + AutoTokenizer + our own pooling, equal to sentence-transformers.

Why a second local backend: it needs no sentence-transformers at run time, and its steps are separate
functions (plan batches -> tokenize -> forward -> pool -> normalise) so that batching can be swapped (token
budgets, bf16) without touching pooling. By default it plans the batches exactly as sentence-transformers
does (whole input sorted by character length, numpy's default sort), so it gives the same vectors.
"""

from __future__ import annotations

import functools
import inspect
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from harness.encoders import fast_kernel, model_files
from harness.encoders.base import (BatchedEncoder, EncoderConfig, Side, autocast_context, check_embeddings,
                                   model_kwargs, pick_attention, resolve_device)
from harness.encoders.st_backend import reference_order
from harness.encoders.workers import run_batches
from harness.errors import HarnessError
from harness.progress import encode_bar


@dataclass
class Loaded:
    tokenizer: Any
    model: Any
    pooling: str
    include_prompt: bool
    normalize: bool  # a Normalize module follows pooling
    inputs: frozenset[str] | None  # keyword arguments the model's forward accepts; None = any (**kwargs)
    device: str
    default_prompt: str | None  # config_sentence_transformers.json's default_prompt_name, used when none is set


def _load(config: EncoderConfig) -> Loaded:
    import torch
    from transformers import AutoModel, AutoTokenizer

    directory = model_files.model_dir(config)
    model_files.check_remote_code(directory, config)
    found = model_files.modules(directory)
    kinds = [m.kind for m in found]
    unsupported = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if unsupported or kinds[:1] != ["Transformer"]:
        raise HarnessError(f"model {config.name}: module {(unsupported or kinds)[0]} in {directory / 'modules.json'} "
                           f"is not reproduced by backend transformers; use backend: sentence_transformers")
    transformer_dir = found[0].path
    pooling_modules = [m for m in found if m.kind == "Pooling"]
    if pooling_modules:
        pooling, include_prompt = model_files.pooling_of(pooling_modules[0].path)
        if config.pooling is not None and config.pooling != pooling:
            raise HarnessError(f"model {config.name}: field 'pooling' is '{config.pooling}' but the model's own "
                               f"Pooling module uses '{pooling}'; set pooling: null")
    elif config.pooling is None:
        raise HarnessError(f"model {config.name}: field 'pooling' is required: {directory} has no "
                           f"sentence-transformers Pooling module")
    else:
        pooling, include_prompt = config.pooling, True

    kwargs = {"trust_remote_code": config.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(transformer_dir), **kwargs)
        model = AutoModel.from_pretrained(str(transformer_dir), **model_kwargs(config), **kwargs)
    except (OSError, ValueError) as exc:
        raise model_files.unloadable(config, exc) from None
    max_length = config.max_length or model_files.max_seq_length(transformer_dir)
    if max_length is not None:
        tokenizer.model_max_length = max_length  # what sentence-transformers' max_seq_length sets
    device = resolve_device(config.device)
    model = fast_kernel.apply(model.to(device).eval(), config.kernel)
    parameters = inspect.signature(model.forward).parameters.values()
    inputs = None if any(p.kind is p.VAR_KEYWORD for p in parameters) else frozenset(p.name for p in parameters)
    return Loaded(tokenizer, model, pooling, include_prompt, any(k == "Normalize" for k in kinds), inputs, device,
                  model_files.default_prompt(directory))


def exclude_prompt(mask, prompt_length: int, positional: bool = False):
    """Zero the prompt's tokens in the mask: the first `prompt_length` real tokens of each row, after any left
    padding (sentence-transformers 6.x); `positional`: the first `prompt_length` positions whatever the padding
    side, as 5.x does (under left padding that hits pads and keeps the prompt tokens of short rows)."""
    import torch

    if positional:
        mask = mask.clone()
        mask[:, :prompt_length] = 0
        return mask
    first_real = mask.to(torch.int32).argmax(dim=1)
    positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)
    return mask * (positions >= (first_real + prompt_length).unsqueeze(1)).to(mask.dtype)


def pool(tokens, mask, mode: str, cls_at_zero: bool = False):
    """Sentence vectors from token vectors (batch, seq, dim) and a 0/1 mask (batch, seq). `cls_at_zero`: the cls
    vector is position 0 whatever the mask says (sentence-transformers 5.x)."""
    import torch

    if mode == "cls":
        if cls_at_zero:
            return tokens[:, 0]
        first = mask.to(torch.int32).argmax(dim=1)  # 6.x: the first unmasked token (left padding, prompts skipped)
        return tokens[torch.arange(tokens.size(0), device=tokens.device), first]
    if mode == "lasttoken":  # the last unmasked token; works under left and right padding
        seq_len = mask.size(1)
        values, from_end = mask.flip(1).max(dim=1)
        last = torch.where(values == 0, torch.full_like(from_end, 0), seq_len - 1 - from_end)
        picked = tokens[torch.arange(tokens.size(0), device=tokens.device), last]
        return picked * values.unsqueeze(1).to(tokens.dtype)  # an all-masked row gives zeros
    if mode == "max":
        return tokens.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values
    if mode == "mean":
        # Half-precision sums accumulate in float32, as sentence-transformers does.
        acc = torch.float32 if tokens.dtype in (torch.float16, torch.bfloat16) else tokens.dtype
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        total = (tokens * weights).sum(dim=1, dtype=acc)
        count = torch.clamp(weights.sum(dim=1, dtype=acc), min=1e-9)
        return (total / count).to(tokens.dtype)
    raise HarnessError(f"unknown pooling '{mode}'")


@functools.cache
def st_major() -> int:
    """The major version of the installed sentence-transformers, whose behaviour this backend reproduces (its
    pooling and text handling changed in 6.x); without one installed, the lock's (constraints.txt: 5.1.1)."""
    try:
        return int(metadata.version("sentence-transformers").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return 5


def strips_texts() -> bool:
    """Whether sentence-transformers strips each text (prompt included) before tokenizing it: 5.x does
    (`str(s).strip()` in its Transformer module, and in the prompt-length count), 6.x tokenizes texts as given.
    Leading and trailing spaces are tokens for byte-level BPE and SentencePiece tokenizers."""
    return st_major() < 6


class TransformersEncoder(model_files.FilePrompts, BatchedEncoder):
    def __init__(self, config: EncoderConfig):
        self.config = config
        self._loaded: Loaded | None = None
        self._prompt_lengths: dict[str, int] = {}
        self._tokenizer_lock = threading.Lock()

    @property
    def loaded(self) -> Loaded:
        if self._loaded is None:
            self._loaded = _load(self.config)
        return self._loaded

    def batch_order(self, texts: list[str]) -> np.ndarray:
        if self.config.batching == "token_budget":
            return super().batch_order(texts)
        return reference_order(texts)  # sentence-transformers' plan, so the batches (and vectors) are its own

    def count_tokens(self, texts: list[str]) -> list[int]:
        # truncated at tokenizer.model_max_length, which _load sets as sentence-transformers does
        ids = self.loaded.tokenizer(texts, truncation=True, return_attention_mask=False,
                                    return_token_type_ids=False)["input_ids"]
        return [len(row) for row in ids]

    def prompt_length(self, prompt: str) -> int:
        """Tokens of the prompt alone, less a trailing special token (sentence-transformers' count)."""
        if prompt not in self._prompt_lengths:
            tokenizer = self.loaded.tokenizer
            alone = prompt.strip() if strips_texts() else prompt
            ids = tokenizer([alone], padding=True, truncation="longest_first", return_tensors="pt")["input_ids"]
            length = ids.shape[-1]
            if int(ids[0, -1]) in tokenizer.all_special_ids:
                length -= 1
            self._prompt_lengths[prompt] = length
        return self._prompt_lengths[prompt]

    def texts_for_model(self, texts: list[str], prompt: str | None) -> list[str]:
        prefix = prompt or ""
        suffix = self.loaded.tokenizer.eos_token if self.config.add_eos else ""
        if self.config.add_eos and not suffix:
            raise HarnessError(f"model {self.config.name}: field 'add_eos' is true but the tokenizer has no EOS token")
        prompted = [prefix + text + suffix for text in texts]
        return [text.strip() for text in prompted] if strips_texts() else prompted

    def embed_batch(self, texts: list[str], prompt_length: int | None) -> np.ndarray:
        """One forward pass over `texts` (already prompted), padded to the batch's longest."""
        import torch

        loaded = self.loaded
        with self._tokenizer_lock:  # the Rust tokenizer must not run in two worker threads at once
            features = loaded.tokenizer(texts, padding=True, truncation="longest_first", return_tensors="pt")
        features = {k: v.to(loaded.device) for k, v in features.items()
                    if loaded.inputs is None or k in loaded.inputs}
        with torch.inference_mode(), autocast_context(self.config, torch.device(loaded.device).type):
            tokens = loaded.model(**features)[0]
            mask = features["attention_mask"]
            if prompt_length:
                mask = exclude_prompt(mask, prompt_length, positional=st_major() < 6)
            vectors = pool(tokens, mask, loaded.pooling, cls_at_zero=st_major() < 6)
            if loaded.normalize:
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
            if self.config.normalize:
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.float().cpu().numpy()

    def encode_in_order(self, texts: list[str], side: Side) -> np.ndarray:
        prompt = side.prompt
        if prompt is None:
            prompt = self.loaded.default_prompt
        prompt_length = self.prompt_length(prompt) if prompt and not self.loaded.include_prompt else None
        prompted = self.texts_for_model(texts, prompt)
        # planned on the texts as given, as the cache and ranks plan the runs they hand to this call
        batches = [prompted[start:end] for start, end in self.batch_bounds(texts)]
        if self.config.attention == "auto":
            pick_attention(self.loaded.model, self.config, self.token_counts(prompted))
        workers = self.config.workers if self.loaded.device == "cpu" else 1
        parts = []
        with encode_bar(len(texts), side.task, side.shown, self.config.show_progress) as bar:
            for part in run_batches(lambda batch: self.embed_batch(batch, prompt_length), batches, workers):
                parts.append(part)
                bar.update(len(part))
        array = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        return check_embeddings(array, len(texts), f"model {self.config.name} on task {side.task}")
