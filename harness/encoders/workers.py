"""CPU batches on several worker threads, each with its share of the cores.

A small model on short texts spends a third of its time outside matrix products (per-op dispatch, casts,
element-wise kernels), where intra-op threads mostly wait for each other. Two workers with one thread each
overlap that work instead: all-MiniLM-L6-v2 with bf16 autocast on JSTS, 2.82 s against 3.01 s on 2 cores
(docs/PERFORMANCE.md). Results do not depend on the thread count (each batch is computed whole by one
worker; float32 vectors are bit-identical with 1 or 2 threads), and come back in batch order.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np


@contextlib.contextmanager
def torch_threads(n: int):
    """Intra-op threads set to n for the duration, then restored (the setting is process-wide)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def parallel_tokenizer():
    """The Rust tokenizer's own threads on for the duration (harness/cli.py turns them off for the process: a
    fork after they ran warns and turns them off in the child): a batch plan tokenizes every text up front,
    before any worker runs, 1.7 s instead of 2.9 s for SciFact's 5,183 abstracts on 2 cores. The library reads
    the variable at each call, so the setting holds for exactly this block."""
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ["TOKENIZERS_PARALLELISM"]
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = before


@contextlib.contextmanager
def serialised_tokenizer(model):
    """The Rust tokenizer is not safe to call from two threads at once ("Already borrowed"): the
    sentence-transformers model's tokenizing step (`preprocess` since 6.x, `tokenize` before) takes a lock
    while the forward passes run in parallel."""
    name = "preprocess" if hasattr(model, "preprocess") else "tokenize"
    lock = threading.Lock()
    original = getattr(model, name)

    def serialised(*args, **kwargs):
        with lock:
            return original(*args, **kwargs)

    setattr(model, name, serialised)
    try:
        yield
    finally:
        delattr(model, name)  # back to the class's method


def run_batches(encode: Callable[[list[str]], np.ndarray], batches: list[list[str]], workers: int,
                guard: contextlib.AbstractContextManager | None = None) -> Iterator[np.ndarray]:
    """encode(batch) for every batch, in order; with workers > 1 on that many threads sharing the cores,
    inside `guard` (what makes the backend's encode safe to call from several threads)."""
    import torch

    workers = min(workers, torch.get_num_threads())  # never more workers than threads (torchrun ranks: 1)
    if workers <= 1 or len(batches) <= 1:
        yield from map(encode, batches)
        return
    per_worker = torch.get_num_threads() // workers
    with torch_threads(per_worker), guard or contextlib.nullcontext(), ThreadPoolExecutor(workers) as pool:
        yield from pool.map(encode, batches)
