"""Content-keyed embedding cache, shared across tasks, suites and runs.

Texts are embedded in chunks; each chunk is stored under a key made of everything that changes a bit of its
vectors and the chunk's texts themselves:

* the model's content (harness.weights: sha256 of its files; path and revision only where the content
  is unknown, as for an API model), so new weights saved at the same path are encoded anew;
* every encode setting that changes a vector (backend, pooling, normalisation, max length, dtype, autocast,
  attention, EOS, the API's vector settings) and the batch plan (batch size, batching, token budget: they
  change padding and so the last bits);
* the numeric environment: the device (and GPU model) and the versions of torch, transformers,
  sentence-transformers, tokenizers and numpy, which change the last bits too;
* the prompt and the texts.

So a killed run resumes by re-encoding at most the unfinished chunk, the same sentences shared by two tasks are
embedded once, and a cached run writes the bytes a fresh run would.

An entry is one file, `<key[:2]>/<key>.emb`, written atomically (harness.atomic):

    HARNESS-EMBEDDINGS 1\n
    {"key": ..., "rows": n, "dim": d, "dtype": "<f4", "sha256": ...}\n
    n * d little-endian float32 values

where sha256 covers the key, the shape and the values. Every read checks all of it, so an entry swapped with
another (another key), bit-flipped or with rows permuted (another checksum), truncated, empty, a directory in
its place or a broken header is detected: it is recomputed and replaced, counted (run.json
`cache.corrupt_entries`) and warned about once per run. A bad entry is never fatal and never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from harness.atomic import write_with
from harness.encoders.base import Encoder, EncoderConfig, EncoderWrapper, Side, group_batches, resolve_device
from harness.progress import advance, encode_bar
from harness.weights import LOCAL_BACKENDS, Weights

log = logging.getLogger(__name__)

MAGIC = b"HARNESS-EMBEDDINGS 1\n"
SUFFIX = ".emb"
_MAX_HEADER = 4096
# the libraries whose kernels compute a local model's vectors: another version may move the last bits
NUMERIC_PACKAGES = ("torch", "transformers", "sentence-transformers", "tokenizers", "numpy")


class CorruptEntry(Exception):
    """A cache entry that cannot be trusted; the message says why."""


def _digest(key: str, rows: int, dim: int, data: bytes) -> str:
    digest = hashlib.sha256(f"{key}\x00{rows}\x00{dim}\x00<f4\x00".encode())
    digest.update(data)
    return digest.hexdigest()


def write_entry(path: Path, key: str, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array, dtype="<f4")
    if array.ndim != 2:
        raise ValueError(f"cache entries are 2-d, got shape {array.shape}")
    data = array.tobytes()
    rows, dim = array.shape
    header = json.dumps({"key": key, "rows": rows, "dim": dim, "dtype": "<f4",
                         "sha256": _digest(key, rows, dim, data)}).encode()
    write_with(path, lambda handle: handle.write(MAGIC + header + b"\n" + data))


def read_entry(path: Path, key: str, rows: int) -> np.ndarray:
    """The vectors of a verified entry; CorruptEntry when anything about it is wrong."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:  # a directory in its place, a dangling link, unreadable
        raise CorruptEntry(exc.strerror or type(exc).__name__) from None
    if not raw.startswith(MAGIC):
        raise CorruptEntry("not an embedding entry" if raw else "empty file")
    end = raw.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise CorruptEntry("no header")
    try:
        header = json.loads(raw[len(MAGIC):end])
        stored_key, n, dim, dtype, checksum = (header[k] for k in ("key", "rows", "dim", "dtype", "sha256"))
    except (ValueError, TypeError, KeyError):
        raise CorruptEntry("broken header") from None
    if stored_key != key:
        raise CorruptEntry("holds another entry")
    if dtype != "<f4" or not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, dim)) or n != rows:
        raise CorruptEntry(f"header says {n} x {dim} {dtype}, expected {rows} rows of <f4")
    data = raw[end + 1:]
    if len(data) != n * dim * 4:
        raise CorruptEntry(f"{len(data)} bytes of values, expected {n * dim * 4}")
    if _digest(key, n, dim, data) != checksum:
        raise CorruptEntry("checksum mismatch")
    array = np.frombuffer(data, dtype="<f4").reshape(n, dim).astype(np.float32)
    if not np.isfinite(array).all():  # cannot pass the checksum unless it was written so: still never used
        raise CorruptEntry("non-finite values")
    return array


def numeric_environment(config: EncoderConfig) -> dict[str, Any] | None:
    """The device and library versions that compute a local model's vectors (None for an API backend)."""
    if config.backend not in LOCAL_BACKENDS:
        return None
    device = resolve_device(config.device)
    if device.startswith("cuda"):
        import torch

        device = f"{device} {torch.cuda.get_device_name(torch.device(device))}"
    versions = {}
    for name in NUMERIC_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"device": device, "versions": versions}


def key_material(config: EncoderConfig, weights: Weights | None) -> dict[str, Any]:
    """Everything besides prompt and texts that an entry's key covers (see the module docstring)."""
    encoder = config.identity()
    if weights is not None and weights.sha256 is not None:  # the content decides, wherever the files are
        encoder.pop("path")
        encoder.pop("revision")
    batch = {"batch_size": config.batch_size, "batching": config.batching}
    if config.batching == "token_budget":
        batch["token_budget"] = config.token_budget
    return {"entry_format": 1, "encoder": encoder, "weights": None if weights is None else weights.sha256,
            "batch": batch, "numerics": numeric_environment(config)}


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    encode_seconds: float = 0.0  # time inside the model, for the misses
    embed_seconds: float = 0.0  # all time spent getting embeddings: cache reads and hashing included


class CachedEncoder(EncoderWrapper):
    """Wraps any `Encoder`; same protocol. `weights`: the model's content (harness.weights), computed
    once per run by the runner; None keys entries by path and revision."""

    def __init__(self, inner: Encoder, directory: Path, chunk: int, weights: Weights | None = None):
        super().__init__(inner)
        self.directory = Path(directory)
        self.chunk = chunk
        self.stats = CacheStats()
        self._material = json.dumps(key_material(self.config, weights), sort_keys=True).encode()
        self._warned_corrupt = False
        self._warned_write = False

    def _key(self, prompt: str | None, texts: list[str]) -> str:
        digest = hashlib.sha256(self._material)
        digest.update(b"\x00prompt\x00" + (prompt if prompt is not None else "\x01none").encode())
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def entry_path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{SUFFIX}"

    def _read(self, path: Path, key: str, n: int) -> np.ndarray | None:
        if not path.exists() and not path.is_symlink():
            return None
        try:
            return read_entry(path, key, n)
        except CorruptEntry as exc:
            self.stats.corrupt += 1
            if not self._warned_corrupt:
                log.warning("embedding cache entry %s is corrupt (%s); recomputing it and every other corrupt "
                            "entry of this run (counted in run.json cache.corrupt_entries)", path, exc)
                self._warned_corrupt = True
            _remove(path)
            return None

    def _write(self, path: Path, key: str, array: np.ndarray) -> None:
        try:
            write_entry(path, key, array)
        except OSError as exc:  # a full or read-only cache slows later runs down; it must not stop this one
            if not self._warned_write:
                log.warning("embedding cache: cannot write %s (%s); continuing without storing entries",
                            path, exc.strerror or exc)
                self._warned_write = True

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        started = time.perf_counter()
        try:
            # one bar over the whole list: the backend's bar for each missed chunk counts into it
            with encode_bar(len(texts), side.task, side.shown, self.config.show_progress):
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
            path = self.entry_path(key)
            array = self._read(path, key, len(chunk))
            if array is None:
                self.stats.misses += len(chunk)
                started = time.perf_counter()
                array = encode(chunk, side)
                self.stats.encode_seconds += time.perf_counter() - started
                self._write(path, key, array)
            else:
                self.stats.hits += len(chunk)
                advance(len(chunk))
            parts.append(array)
        if not parts:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(parts)


def _remove(path: Path) -> None:
    """Clear a corrupt entry's name for its replacement (a directory there would block the rename)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("cannot remove corrupt entry %s: %s", path, exc)
