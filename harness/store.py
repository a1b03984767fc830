"""Corpus embeddings on disk: encoded block by block into a memory-mapped .npy, float32 or float16.

With `encode.storage_dtype` set, a retrieval corpus never exists as one float32 array in memory: each block
of texts is encoded, cast and written into the mapped file, and search (`harness.search.top_k`) reads it
chunk by chunk. The file is unlinked as soon as it is mapped, so it lives exactly as long as the array and
a killed run leaves nothing behind (the embedding cache still holds the encoded chunks). Files go to
$TMPDIR. The texts may arrive as a stream (harness.families.corpus reads a large corpus from its file block by
block), so neither the texts nor the vectors of the whole corpus are ever in memory at once.

Each block is planned by the encoder on its own (length-sorted within the block), so vectors can differ
from a whole-corpus encode in the last float32 bits (padding); float16 storage rounds to 11 significant
bits on top. The default (storage_dtype null) keeps the exact in-memory path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from itertools import islice

import numpy as np

from harness.errors import HarnessError
from harness.vocab import Vocab

STORAGE_DTYPES = Vocab.of("storage dtype", ("float32", "float16"))
BLOCK = 65_536  # texts per encode call: bounds the float32 embeddings held in memory at once


def encode_to_disk(encode: Callable[[list[str]], np.ndarray], texts: Iterable[str], dtype: str,
                   block: int = BLOCK, where: str = "encode.storage_dtype", total: int | None = None) -> np.ndarray:
    """Embeddings of `texts` as a read-only memmap of `dtype`, encoding `block` texts at a time.

    `texts` is a list, or any iterable of exactly `total` texts (a corpus streamed from its file): only the
    current block of texts is held.
    """
    STORAGE_DTYPES.check(dtype, f"field '{where}'")
    total = len(texts) if total is None else total
    stream = iter(texts)
    fd, path = tempfile.mkstemp(prefix="harness-embeddings-", suffix=".npy")
    os.close(fd)
    try:
        out, start = None, 0
        while texts_block := list(islice(stream, block)):
            if start + len(texts_block) > total:
                raise ValueError(f"encode_to_disk: more than total={total} texts")
            part = encode(texts_block)
            if out is None:
                out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(total, part.shape[1]))
            with np.errstate(over="ignore"):  # overflow is reported below, as one line
                cast = part.astype(dtype)
            if not np.isfinite(cast).all():
                raise HarnessError(f"field '{where}': embeddings overflow {dtype} (|value| > "
                                   f"{float(np.finfo(dtype).max):g}); use float32")
            out[start:start + len(part)] = cast
            start += len(part)
        if start != total:
            raise ValueError(f"encode_to_disk: {start} texts, expected total={total}")
        if out is None:
            return np.zeros((0, 0), dtype=dtype)
        out.flush()
        del out
        return np.load(path, mmap_mode="r")  # the mapping keeps the data alive after the unlink below
    finally:
        os.unlink(path)
