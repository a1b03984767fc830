"""Content-keyed embedding cache, shared across tasks, suites and runs.

Texts are embedded in chunks; each chunk is stored under a key made of everything that changes its values
(model path and revision, backend, pooling, normalisation, max length, dtype, prompt) and the chunk's texts
themselves. So a killed run resumes by re-encoding at most the unfinished chunk, the same sentences shared
by two tasks are embedded once, and a changed prompt can never return a stale vector (unlike a cache keyed
by task name).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.atomic import write_npy
from harness.encoders.base import Encoder, EncoderWrapper, Side, group_batches

log = logging.getLogger(__name__)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    encode_seconds: float = 0.0  # time inside the model, for the misses
    embed_seconds: float = 0.0  # all time spent getting embeddings: cache reads and hashing included


class CachedEncoder(EncoderWrapper):
    """Wraps any `Encoder`; same protocol."""

    def __init__(self, inner: Encoder, directory: Path, chunk: int):
        super().__init__(inner)
        self.directory = Path(directory)
        self.chunk = chunk
        self.stats = CacheStats()

    def _key(self, prompt: str | None, texts: list[str]) -> str:
        digest = hashlib.sha256(json.dumps(self.config.identity(), sort_keys=True).encode())
        digest.update(b"\x00prompt\x00" + (prompt if prompt is not None else "\x01none").encode())
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _read(self, path: Path, n: int) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
            if array.ndim == 2 and array.shape[0] == n and array.dtype == np.float32 and np.isfinite(array).all():
                return array
        except (OSError, ValueError) as exc:
            log.debug("unreadable cache entry %s: %s", path, exc)
        log.warning("embedding cache entry %s is corrupt; recomputing it", path)
        self.stats.corrupt += 1
        return None

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self._encode(texts, side)
        finally:
            self.stats.embed_seconds += time.perf_counter() - started

    def _encode(self, texts: list[str], side: Side) -> np.ndarray:
        if not self.batched:
            groups = [(s, min(s + self.chunk, len(texts))) for s in range(0, len(texts), self.chunk)]
            return self._encode_chunks(texts, side, self.inner.encode, groups)
        # Chunk along the backend's batch plan, at batch boundaries: cached or not, every text is embedded
        # in the very batch a single uncached encode would put it in.
        order = self.batch_order(texts)
        planned = [texts[i] for i in order]
        groups = group_batches(self.batch_bounds(planned), self.chunk)
        ordered = self._encode_chunks(planned, side, self.encode_in_order, groups)
        result = np.empty_like(ordered)
        result[order] = ordered  # back in the given order (as encode_planned does)
        return result

    def _encode_chunks(self, texts: list[str], side: Side, encode, groups: list[tuple[int, int]]) -> np.ndarray:
        parts = []
        for start, end in groups:
            chunk = texts[start:end]
            key = self._key(side.prompt, chunk)
            path = self.directory / key[:2] / f"{key}.npy"
            array = self._read(path, len(chunk))
            if array is None:
                self.stats.misses += len(chunk)
                started = time.perf_counter()
                array = encode(chunk, side)
                self.stats.encode_seconds += time.perf_counter() - started
                write_npy(path, array)
            else:
                self.stats.hits += len(chunk)
            parts.append(array)
        if not parts:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(parts)
