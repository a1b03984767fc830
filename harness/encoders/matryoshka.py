"""Matryoshka evaluation: score several leading-dimension truncations of one encode.

`truncate_dims: [256, 128]` in a model config makes the runner evaluate every task at full size and then
at each listed size, reusing the full vectors (`MemoEncoder` keeps one task's encodes in memory). Each
size is written as its own result directory, `<output_dir>/dim<d>/`, in the usual layout, so leaderboards
and checks read it as one more run; its provenance says `truncate_dim: d`.

Truncation equals sentence-transformers' `truncate_dim`: the model's modules (Normalize included) run at full
size, the first d components are kept, and only `normalize: true` re-normalises after cutting.
"""

from __future__ import annotations

import hashlib

import numpy as np

from harness.encoders.base import Encoder
from harness.errors import HarnessError
from harness.taskspec import TaskSpec


class MemoEncoder:
    """Remembers the encodes of the current task, so each truncation reuses them; `clear()` between tasks."""

    def __init__(self, inner: Encoder):
        self.inner = inner
        self.config = inner.config
        self._memo: dict[tuple[str, str, str], np.ndarray] = {}

    def prompt_for(self, role: str, task: TaskSpec) -> str | None:
        return self.inner.prompt_for(role, task)

    def encode(self, texts: list[str], *, role: str, task: TaskSpec) -> np.ndarray:
        digest = hashlib.sha256()
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
        key = (task.name, role, digest.hexdigest())
        if key not in self._memo:
            self._memo[key] = self.inner.encode(texts, role=role, task=task)
        return self._memo[key]

    def clear(self) -> None:
        self._memo.clear()

    def __getattr__(self, name: str):  # cache statistics and the like stay visible
        return getattr(self.inner, name)


class TruncatedEncoder:
    def __init__(self, inner: Encoder, dim: int):
        self.inner = inner
        self.config = inner.config
        self.dim = dim

    def prompt_for(self, role: str, task: TaskSpec) -> str | None:
        return self.inner.prompt_for(role, task)

    def encode(self, texts: list[str], *, role: str, task: TaskSpec) -> np.ndarray:
        full = self.inner.encode(texts, role=role, task=task)
        if full.shape[1] < self.dim:
            raise HarnessError(f"model {self.config.name}: field 'truncate_dims': {self.dim} exceeds the "
                               f"model's {full.shape[1]} dimensions")
        cut = np.ascontiguousarray(full[:, :self.dim])
        if self.config.normalize:
            cut = cut / np.maximum(np.linalg.norm(cut, axis=1, keepdims=True), 1e-12)
        return cut.astype(np.float32, copy=False)
