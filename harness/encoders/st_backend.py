"""sentence-transformers backend: the model's own modules (pooling, Normalize) exactly as JMTEB runs them."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from harness.encoders import fast_kernel
from harness.encoders.base import (BatchedEncoder, EncoderConfig, Side, autocast_context, check_embeddings,
                                   model_kwargs, pick_attention, resolve_device)
from harness.encoders.model_files import FilePrompts, unloadable
from harness.encoders.workers import run_batches, serialised_tokenizer
from harness.errors import HarnessError
from harness.progress import encode_bar

log = logging.getLogger(__name__)


def load_model_checked(config: EncoderConfig):
    """Load a SentenceTransformer, failing fast (one line) when a hub id cannot be fetched. A hub id is read at
    the commit its revision resolves to (harness.hub records it for provenance)."""
    from harness.data import hub_reachable
    from harness.hub import resolve

    local = Path(config.path).expanduser()
    revision = config.revision
    if not local.exists() and not hub_reachable():
        if not _in_hf_cache(config.path):
            raise HarnessError(f"model {config.name}: '{config.path}' is not a local directory and the Hugging "
                               f"Face Hub is unreachable; point model.path=DIR at a local copy")
        os.environ["HF_HUB_OFFLINE"] = "1"
    elif not local.exists():
        revision = resolve(config.path, config.revision, "model", what=f"model {config.name}")
    if local.is_dir():
        from harness.encoders.model_files import check_remote_code

        check_remote_code(local, config)
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(
            str(local) if local.exists() else config.path,
            device=resolve_device(config.device),
            revision=None if local.exists() else revision,
            trust_remote_code=config.trust_remote_code,
            model_kwargs=model_kwargs(config),
        )
    except (OSError, ValueError) as exc:
        raise unloadable(config, exc) from None
    if config.max_length is not None:
        model.max_seq_length = config.max_length
    _check_pooling(model, config)
    return fast_kernel.apply(model, config.kernel)


def _check_pooling(model, config: EncoderConfig) -> None:
    """This backend always runs the model's own Pooling; a config naming another one is a contradiction."""
    if config.pooling is None:
        return
    own = [_pooling_mode(m) for m in model if type(m).__name__ == "Pooling"]
    if own and own[0] != config.pooling:
        raise HarnessError(f"model {config.name}: field 'pooling' is '{config.pooling}' but the model's own "
                           f"Pooling module uses '{own[0]}'; set pooling: null")


def _pooling_mode(module) -> str:
    """A Pooling module's mode: 6.x keeps it in `pooling_mode` (a name or a tuple of names), 5.x (the lock) answers
    `get_pooling_mode_str()` (names joined by '+')."""
    mode = getattr(module, "pooling_mode", None)
    if mode is None:
        return module.get_pooling_mode_str()
    return mode if isinstance(mode, str) else "+".join(mode)


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import scan_cache_dir

        return any(repo.repo_id == repo_id for repo in scan_cache_dir().repos)
    except Exception:  # no cache dir at all
        return False


def reference_order(texts: list[str]) -> np.ndarray:
    """The order in which the pinned sentence-transformers (5.1.1, constraints.txt) cuts `encode`'s batches:
    `np.argsort([-self._text_length(sen) for sen in sentences])`, where a string's length is its character count.

    Our own code, not the library's private helper (6.x renamed it `_input_length` and interleaves long and short
    texts when flash attention packs them), computed the same way: numpy's default sort is not stable, and the
    order it leaves equal lengths in decides which texts share a batch, so the last bits of their vectors. The
    library sorts prompt + text (+ EOS with add_eos); a constant added to every length changes no comparison,
    and a comparison sort's permutation depends on nothing else, so sorting the bare texts gives the same order.
    """
    return np.argsort([-len(text) for text in texts])


class SentenceTransformersEncoder(FilePrompts, BatchedEncoder):
    def __init__(self, config: EncoderConfig):
        self.config = config
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_model_checked(self.config)
        return self._model

    def own_prompts(self) -> dict[str, str]:
        """A model already loaded (or given in memory) holds them: sentence-transformers' own `prompts`; else its
        files say them, without loading it."""
        if self._model is not None:
            return {name: text or "" for name, text in (self._model.prompts or {}).items()}
        return super().own_prompts()

    def count_tokens(self, texts: list[str]) -> list[int]:
        ids = self.model.tokenizer(texts, truncation=True, max_length=self.model.max_seq_length,
                                   return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        return [len(row) for row in ids]

    def batch_order(self, texts: list[str]) -> np.ndarray:
        if self.config.batching == "token_budget":
            return super().batch_order(texts)
        return reference_order(texts)

    def encode_in_order(self, texts: list[str], side: Side) -> np.ndarray:
        import torch

        prompt = side.prompt
        device = torch.device(self.model.device).type

        def encode_batch(batch: list[str]) -> np.ndarray:
            if self.config.add_eos:  # as JMTEB's add_eos: the EOS token appended as text
                batch = [text + self.model.tokenizer.eos_token for text in batch]
            # autocast state is per thread: entered here, in whichever worker runs the batch
            with autocast_context(self.config, device):
                # One call per planned batch: the call cannot regroup texts. prompt= (not prepended text) so
                # Pooling(include_prompt=False) can exclude its tokens.
                out = self.model.encode(batch, prompt=prompt, batch_size=len(batch),
                                        normalize_embeddings=self.config.normalize,
                                        show_progress_bar=False, convert_to_tensor=True)
            return out.float().cpu().numpy()

        batches = [texts[start:end] for start, end in self.batch_bounds(texts)]
        auto_model = getattr(self.model[0], "auto_model", None)
        if self.config.attention == "auto" and auto_model is not None:
            pick_attention(auto_model, self.config, self.token_counts([(prompt or "") + t for t in texts]))
        workers = self.config.workers if device == "cpu" else 1
        with encode_bar(len(texts), side.task, side.shown, self.config.show_progress) as bar:
            parts = []
            for part in run_batches(encode_batch, batches, workers, serialised_tokenizer(self.model)):
                parts.append(part)
                bar.update(len(part))
        array = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        return check_embeddings(array, len(texts), f"model {self.config.name} on task {side.task}")
