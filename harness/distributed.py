"""Data-parallel encoding over torch.distributed (launched with torchrun; NCCL on GPUs, gloo on CPU).

Rank 0 runs the whole plan (data, cache, scoring, every file written); the other ranks only serve encode
requests: for each call rank 0 cuts the texts, already in the backend's batch plan, at batch boundaries
into one contiguous shard per rank, every rank encodes its shard, and rank 0 gathers the parts in rank
order. Each rank sees exactly the batches a single process would, so the embeddings are bit-identical to
a single-process run (and the embedding cache, which wraps this encoder on rank 0, stays valid across
world sizes).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import replace

import numpy as np

from harness.encoders.base import (Encoder, EncoderConfig, EncoderWrapper, Side, build_encoder, encode_planned,
                                   resolve_device, split_batches)


def launched() -> bool:
    """True under torchrun (or any launcher that sets RANK and WORLD_SIZE) with more than one rank."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def _leave_group() -> None:
    """Every rank meets at a barrier, then leaves: a rank tearing gloo down while its peer is still inside
    the last collective could abort the other at exit ("terminate called without an active exception")."""
    import torch.distributed as dist

    dist.barrier()
    dist.destroy_process_group()


class DistributedEncoder(EncoderWrapper):
    """Wraps any `Encoder`; same protocol. Build it with `DistributedEncoder.build` on every rank.
    Batched backends are sharded along their own plan; any other encoder along the text order."""

    def __init__(self, inner: Encoder):
        import torch.distributed as dist

        super().__init__(inner)
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.is_main = self.rank == 0
        self._open = True
        if self.is_main:
            atexit.register(self.close)  # also on an error in rank 0, so the other ranks end instead of waiting

    @classmethod
    def build(cls, config: EncoderConfig) -> DistributedEncoder:
        """Join the process group (NCCL when this rank encodes on a GPU, else gloo) and load the backend."""
        import torch
        import torch.distributed as dist

        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        on_gpu = resolve_device(config.device).startswith("cuda")
        if on_gpu:
            torch.cuda.set_device(local_rank)
            config = replace(config, device=f"cuda:{local_rank}")
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if on_gpu else "gloo")
        if dist.get_rank() != 0:
            config = replace(config, show_progress=False)  # one progress bar, rank 0's
        return cls(build_encoder(config))

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        return encode_planned(self, texts, side)

    def encode_in_order(self, texts: list[str], side: Side) -> np.ndarray:
        """Rank 0 only: split the planned texts over the ranks, encode, gather in plan order."""
        if not self.is_main:
            raise RuntimeError("only rank 0 encodes on request; the other ranks run serve()")
        if not texts:
            return np.zeros((0, 0), np.float32)
        bounds = split_batches(self.batch_bounds(texts), self.world_size)  # one run of whole batches per rank
        requests = [(texts[start:end], side) for start, end in bounds]
        parts = self._exchange(requests)
        return np.concatenate(parts)

    def serve(self) -> None:
        """Ranks > 0: encode the shards rank 0 sends until it sends None."""
        while self._exchange(None) is not None:
            pass

    def close(self) -> None:
        """Rank 0: tell the other ranks to stop, then leave the process group. Idempotent."""
        import torch.distributed as dist

        if self.is_main and self._open and dist.is_initialized():
            self._open = False
            self._scatter([None] * self.world_size)
            _leave_group()

    def _scatter(self, requests: list | None):
        import torch.distributed as dist

        received = [None]
        dist.scatter_object_list(received, requests, src=0)
        return received[0]

    def _exchange(self, requests: list | None) -> list[np.ndarray] | bool | None:
        """One round: scatter the shards, encode this rank's, gather all parts on rank 0."""
        import torch.distributed as dist

        request = self._scatter(requests)
        if request is None:
            if not self.is_main:
                _leave_group()
            return None
        texts, side = request
        part = super().encode_in_order(texts, side) if texts else None
        gathered = [None] * self.world_size if self.is_main else None
        dist.gather_object(part, gathered, dst=0)
        if not self.is_main:
            return True
        return [p for p in gathered if p is not None]
