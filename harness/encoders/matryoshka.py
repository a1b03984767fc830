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

from harness.encoders.base import Encoder, EncoderWrapper, Side
from harness.errors import HarnessError


class MemoEncoder(EncoderWrapper):
    """Remembers the encodes of the current task, so each truncation reuses them; `clear()` between tasks."""

    def __init__(self, inner: Encoder):
        super().__init__(inner)
        self._memo: dict[tuple[Side, str], np.ndarray] = {}

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        digest = hashlib.sha256()
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
        key = (side, digest.hexdigest())
        if key not in self._memo:
            self._memo[key] = self.inner.encode(texts, side)
        return self._memo[key]

    def clear(self) -> None:
        self._memo.clear()


class TruncatedEncoder(EncoderWrapper):
    def __init__(self, inner: Encoder, dim: int):
        super().__init__(inner)
        self.dim = dim

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        full = self.inner.encode(texts, side)
        if full.shape[1] < self.dim:
            raise HarnessError(f"model {self.config.name}: field 'truncate_dims': {self.dim} exceeds the "
                               f"model's {full.shape[1]} dimensions")
        cut = np.ascontiguousarray(full[:, :self.dim])
        if self.config.normalize:
            cut = cut / np.maximum(np.linalg.norm(cut, axis=1, keepdims=True), 1e-12)
        return cut.astype(np.float32, copy=False)
