"""Content identity of a model: a sha256 over what it computes with, never over where it came from.

A model in memory (harness.api): `state_dict_sha256` hashes every tensor of a torch module's state_dict (name,
dtype, shape, raw bytes, in name order), so a model changed by one training step gets another identity, and the
embedding cache (keyed by it through the model path `memory:sha256:<hex>`, harness.api) never serves the vectors
of other weights. For a sentence-transformers model the modules' configuration and the tokenizer are part of the
identity too: the same weights behind another pooling mode, max length or vocabulary embed differently.

A model on disk (`model_weights`): a fine-tuned model saved over the old one at the same `model.path` must never
be served the old model's cached vectors nor be labelled as the old model's run. So the files of the model
directory (a local directory, or for a hub id the snapshot of the commit its revision resolved to) are hashed
with sha256, and that hash keys the embedding cache, names the run (harness.identity) and is recorded in
provenance. Every regular file counts except those no local backend reads: documentation, images, hidden files
(.git, .gitattributes) and other frameworks' exports (ONNX, OpenVINO, TensorFlow, Flax, Rust, GGUF). Listing what
to skip rather than what to keep is deliberate: an unknown file (a custom module's weights, a remote-code .py) is
hashed rather than silently ignored. Hashing a 1 GB model takes a few seconds, so each file's hash is remembered
in a small index under the cache directory (`weights-index.json`), keyed by the file's absolute path and trusted
while its size, mtime, ctime and inode are unchanged (the same trust `make` puts in mtimes; writing a file
changes its ctime, which no tool can set back). Without a cache directory the files are hashed once per run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.encoders.base import TORCH_BACKENDS, EncoderConfig
from harness.errors import HarnessError

_BLOCK = 1 << 24  # bytes hashed per update: a large tensor is read in slices, never copied whole


def update_with_state_dict(digest: Any, module: Any) -> None:
    """Feed `module.state_dict()` to `digest`: each tensor's name, dtype and shape, then its bytes."""
    import torch

    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach()
        digest.update(f"\x00{name}\x00{tensor.dtype}\x00{tuple(tensor.shape)}\x00".encode())
        flat = tensor.reshape(-1)
        step = max(1, _BLOCK // flat.element_size())
        for start in range(0, flat.numel(), step):  # bytes as stored (bfloat16 too: viewed as uint8)
            digest.update(flat[start:start + step].cpu().contiguous().view(torch.uint8).numpy().tobytes())


def state_dict_sha256(module: Any) -> str:
    """sha256 of a torch module's parameters and buffers (see `update_with_state_dict`)."""
    digest = hashlib.sha256()
    update_with_state_dict(digest, module)
    return digest.hexdigest()


def sentence_transformer_sha256(model: Any) -> str:
    """sha256 of a SentenceTransformer's weights, its modules' configuration and its tokenizer."""
    digest = hashlib.sha256()
    update_with_state_dict(digest, model)
    layout = [[type(m).__name__, m.get_config_dict() if hasattr(m, "get_config_dict") else None] for m in model]
    digest.update(json.dumps({"modules": layout, "max_seq_length": model.max_seq_length},
                             sort_keys=True, default=str).encode())
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)  # a fast tokenizer: its whole definition as JSON
    if backend is not None:
        digest.update(backend.to_str().encode())
    elif tokenizer is not None:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode())
    return digest.hexdigest()


# ---- a model's files ------------------------------------------------------------------------------------------

log = logging.getLogger(__name__)

INDEX = "weights-index.json"
MEMORY_PREFIX = "memory:sha256:"  # the path of a model given in memory (harness.api)
_SKIP_DIRS = {"onnx", "openvino", "__pycache__"}
_SKIP_SUFFIXES = {".md", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".onnx", ".h5", ".msgpack", ".ot", ".gguf",
                  ".tflite", ".mlmodel", ".lock", ".pyc"}
_SKIP_NAMES = {"LICENSE", "LICENSE.txt", "NOTICE"}
LOCAL_BACKENDS = (*TORCH_BACKENDS, "static")  # backends that read model files (an API backend reads none)


@dataclass(frozen=True)
class Weights:
    """The content a model's vectors come from: sha256 over its files (None when no files are known) and, for a
    hub id, the commit its revision resolved to (None for a local directory)."""

    sha256: str | None
    commit: str | None = None
    files: int = 0


def model_files(directory: Path) -> list[Path]:
    """The files of `directory` that can change a vector, sorted (see the module docstring)."""
    found, seen = [], set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        seen.add(os.path.realpath(root))  # a linked folder is followed once: a link loop ends here
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                         and os.path.realpath(os.path.join(root, d)) not in seen)
        for name in files:
            path = Path(root) / name
            if name.startswith(".") or name in _SKIP_NAMES or path.suffix.lower() in _SKIP_SUFFIXES:
                continue
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class WeightsIndex:
    """{absolute path: [size, mtime_ns, ctime_ns, inode, sha256]} in `<directory>/weights-index.json`; a missing
    or unreadable index is empty. `save()` writes it back: the runner calls it once the run has written results,
    so a run stopped by bad input leaves nothing in the cache directory."""

    def __init__(self, directory: Path | None):
        self.file = Path(directory) / INDEX if directory is not None else None
        self.entries: dict[str, list] = {}
        self.changed = False
        if self.file is not None and self.file.is_file():
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                self.entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError) as exc:
                log.debug("weights index %s unreadable (%s): rebuilt", self.file, exc)

    def sha256(self, path: Path) -> str:
        real = path.resolve()  # a hub snapshot's files are links into its blob store
        stat = real.stat()
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        known = self.entries.get(str(real))
        if isinstance(known, list) and len(known) == 5 and known[:4] == signature and isinstance(known[4], str):
            return known[4]
        digest = _file_sha256(real)
        self.entries[str(real)] = [*signature, digest]
        self.changed = True
        return digest

    def save(self) -> None:
        if self.file is None or not self.changed:
            return
        try:
            write_json(self.file, self.entries)
        except OSError as exc:  # a read-only or full cache: the hashes are recomputed next run, nothing is lost
            log.warning("cannot save the weights index %s (%s)", self.file, exc.strerror or exc)


def directory_sha256(directory: Path, index: WeightsIndex | None = None) -> tuple[str, int]:
    """(sha256 over the relative paths and contents of `model_files(directory)`, number of files)."""
    index = index or WeightsIndex(None)
    digest = hashlib.sha256()
    files = model_files(directory)
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode() + b"\x00" + index.sha256(path).encode() + b"\n")
    return digest.hexdigest(), len(files)


def model_weights(config: EncoderConfig, index: WeightsIndex | None = None) -> Weights | None:
    """The content identity of `config`'s model; None for a model whose files the harness never reads (an API)
    or cannot find. Call it once per run, after the backend is built (a hub model is then in the local cache)."""
    if config.backend not in LOCAL_BACKENDS:
        return None
    if config.path.startswith(MEMORY_PREFIX):  # a model in memory: its tensors' hash is its path (harness.api)
        return Weights(config.path.removeprefix(MEMORY_PREFIX))
    local = Path(config.path).expanduser()
    if local.is_dir():
        sha, count = directory_sha256(local, index)
        return Weights(sha, None, count)
    from harness.encoders.model_files import model_dir
    from harness.hub import model_commit

    try:
        snapshot = model_dir(config)  # the snapshot the backend read (resolved and cached by now)
    except HarnessError as exc:
        log.warning("model %s: its files cannot be found (%s); the run is identified by path and revision only",
                    config.name, exc)
        return None
    sha, count = directory_sha256(snapshot, index)
    return Weights(sha, model_commit(config.path, config.revision) or snapshot.name, count)
