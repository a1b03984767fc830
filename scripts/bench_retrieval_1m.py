"""Retrieval scoring of a synthetic 1M x 384 corpus: harness.search.top_k against plain numpy, side by side.

Each method runs in its own subprocess (so each peak RSS is its own) on the same seeded data:
  harness        top_k on the corpus as a float32 array in memory
  harness-f16    top_k on the corpus stored by harness.store as a float16 memmap (file pages count in RSS)
  numpy          plain numpy: q @ chunk.T (float32 BLAS) + np.argpartition per chunk, candidates merged with
                 another argpartition; the same chunk size as top_k (--baseline-chunk 0 = whole corpus at
                 once, which needs n_queries x n_docs x 12 bytes more memory: 12 GB at the defaults)
Vectors are unit-norm and scored with `dot` (= cosine) in every method. Prints throughput, peak RSS against
the embedding bytes (acceptance: harness peak RSS < 1.5x), the search's own share of it (peak RSS minus the
peak before the search: data, imports), agreement of the top-k lists with the first method, and ratios.

    PYTHONPATH=$PWD python scripts/bench_retrieval_1m.py [--docs 1000000 --dim 384 --queries 1000 --k 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

METHODS = ("harness", "harness-f16", "numpy")


BLOCK = 100_000


def corpus_blocks(args):
    """Unit-norm float32 Gaussian documents, block by block (no float64 copy inflates peak RSS)."""
    rng = np.random.default_rng(args.seed)
    for start in range(0, args.docs, BLOCK):
        block = rng.standard_normal((min(BLOCK, args.docs - start), args.dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        yield block
        del block


def make_queries(args) -> np.ndarray:
    queries = np.random.default_rng(args.seed + 1).standard_normal((args.queries, args.dim), dtype=np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def numpy_top_k(queries: np.ndarray, corpus: np.ndarray, k: int, chunk: int) -> np.ndarray:
    chunk = chunk or len(corpus)
    best_idx = np.empty((len(queries), 0), dtype=np.int64)
    best_score = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(corpus), chunk):
        scores = queries @ corpus[start:start + chunk].T
        kk = min(k, scores.shape[1])
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        cand_idx = np.concatenate([best_idx, part + start], axis=1)
        cand_score = np.concatenate([best_score, np.take_along_axis(scores, part, axis=1)], axis=1)
        keep = np.argpartition(-cand_score, min(k, cand_score.shape[1]) - 1, axis=1)[:, :k]
        best_idx = np.take_along_axis(cand_idx, keep, axis=1)
        best_score = np.take_along_axis(cand_score, keep, axis=1)
    order = np.argsort(-best_score, axis=1, kind="stable")
    return np.take_along_axis(best_idx, order, axis=1)


def child(args) -> None:
    """One method in this process: prints one JSON line with its timing, memory and result."""
    if args.method != "numpy":
        from harness.search import top_k  # torch's libraries are loaded before the data: counted in both RSS
    queries = make_queries(args)
    if args.method == "harness-f16":
        from harness.store import encode_to_disk

        # the float32 corpus never exists whole: each block is "encoded" and written as float16
        blocks = corpus_blocks(args)
        corpus = encode_to_disk(lambda texts: next(blocks), [""] * args.docs, "float16", block=BLOCK)
    else:
        corpus = np.empty((args.docs, args.dim), np.float32)
        for n, block in enumerate(corpus_blocks(args)):
            corpus[n * BLOCK:n * BLOCK + len(block)] = block
            del block  # one block alive at a time
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = cpu = float("inf")
    for _ in range(args.repeats):  # best of N: a shared machine only ever adds time
        t0, c0 = time.perf_counter(), time.process_time()
        if args.method == "numpy":
            idx = numpy_top_k(queries, corpus, args.k, args.baseline_chunk)
        else:
            idx, _scores = top_k(queries, corpus, args.k, "dot", chunk_size=args.chunk, device="cpu")
        seconds, cpu = min(seconds, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(args.result, idx)
    print(json.dumps({"method": args.method, "seconds": seconds, "cpu_seconds": cpu, "peak_rss": peak, "peak_rss_after_data": rss_before}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    # top_k holds queries x chunk float32 scores at once (plus a bool mask): 1000 x 16,384 = 66 MB
    parser.add_argument("--chunk", type=int, default=16_384, help="top_k chunk_size (documents per chunk)")
    parser.add_argument("--baseline-chunk", type=int, default=16_384, help="numpy chunk; 0 = whole corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="searches per method, best time kept")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        return child(args)

    embedding_bytes = args.docs * args.dim * 4
    print(f"corpus {args.docs:,} x {args.dim} float32 = {embedding_bytes / 1e9:.3f} GB; {args.queries} queries, "
          f"k={args.k}, chunk {args.chunk:,} (numpy: {args.baseline_chunk or 'whole corpus'}); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            result = os.path.join(tmp, f"{method}.npy")
            argv = [a for a in sys.argv[1:]] + ["--method", method, "--result", result]
            done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            results[method] = np.load(result)
    reference = results[rows[0]["method"]]
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    print(f"{'method':<12} {'seconds':>8} {'CPU s':>7} {'queries/s':>10} {'docs x queries/s':>17} {'peak RSS GB':>12} "
          f"{'x emb bytes':>11} {'search GB':>10} {'top-k equal':>12}")
    for row in rows:
        same = float(np.mean(results[row["method"]] == reference))
        print(f"{row['method']:<12} {row['seconds']:>8.2f} {row['cpu_seconds']:>7.2f} {args.queries / row['seconds']:>10.1f} "
              f"{args.docs * args.queries / row['seconds']:>17.3e} {row['peak_rss'] / 1e9:>12.3f} "
              f"{row['peak_rss'] / embedding_bytes:>11.3f} "
              f"{(row['peak_rss'] - row['peak_rss_after_data']) / 1e9:>10.3f} {same:>12.4f}")
    by = {row["method"]: row for row in rows}
    if "numpy" in by:
        for method in ("harness", "harness-f16"):
            if method in by:
                print(f"{method} / numpy: time x{by[method]['seconds'] / by['numpy']['seconds']:.2f}, "
                      f"CPU time x{by[method]['cpu_seconds'] / by['numpy']['cpu_seconds']:.2f}, "
                      f"peak RSS x{by[method]['peak_rss'] / by['numpy']['peak_rss']:.2f}")
    for method in ("harness", "harness-f16"):
        if method in by:
            ratio = by[method]["peak_rss"] / embedding_bytes
            print(f"acceptance ({method}): peak RSS {ratio:.3f} x embedding bytes "
                  f"{'<' if ratio < 1.5 else '>='} 1.5: {'PASS' if ratio < 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
