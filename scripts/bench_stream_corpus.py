"""Peak memory of a large retrieval corpus read into memory against streamed from its file.

Writes a synthetic jsonl corpus (default 1,000,000 documents of 60-140 random kana/kanji characters, ~100 on
average) into a temporary directory under $TMPDIR, then runs each method in its own subprocess (so each peak
RSS, `ru_maxrss`, is its own):
  in-memory   what `encode.storage_dtype` did before streaming: harness.families.corpus.load_corpus
              (DataSource.rows: every row as a dict, then the list of texts), then harness.store.encode_to_disk
              over the list
  streamed    the large-corpus mode now: retrieval's corpus_for (pass 1: ids only) and encode_corpus (pass 2:
              texts read again block by block into the encoder)
Both encode with a hashing "model" (384-dim float32 from each text's CRC-32, no weights: the encoder costs
nothing, so the corpus is what is measured) and write float16 storage. The stored vectors of both methods
must be equal (compared by SHA-256). Peak RSS includes the pages of the float16 memmap written while
encoding (the same in both methods, shown as "storage GB"); "after load" is the peak once the corpus is
loaded (rows and texts, or ids), before anything is encoded.

    PYTHONPATH=$PWD python scripts/bench_stream_corpus.py [--docs 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from harness.prompts import encode_for

METHODS = ("in-memory", "streamed")
DIM = 384
TASK = "bench_corpus"
# hiragana, katakana and 500 common-range CJK ideographs: Japanese-looking text, 3 UTF-8 bytes a character
ALPHABET = np.array([*range(0x3041, 0x3097), *range(0x30A1, 0x30FB), *range(0x4E00, 0x4E00 + 500)], np.uint32)


def write_corpus(path: Path, docs: int, seed: int) -> None:
    """`docs` rows {"docid", "title", "text"}, generated and written 100,000 at a time."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, docs, 100_000):
            n = min(100_000, docs - start)
            chars = ALPHABET[rng.integers(0, len(ALPHABET), (n, 140))].tobytes().decode("utf-32-le")
            lengths = rng.integers(60, 141, n)
            out.writelines(json.dumps({"docid": f"d{start + i}", "title": "", "text": chars[i * 140:i * 140 + k]},
                                      ensure_ascii=False) + "\n" for i, k in enumerate(lengths))


def write_task(root: Path) -> Path:
    import yaml

    file = root / "tasks" / f"{TASK}.yaml"
    file.parent.mkdir(parents=True)
    file.write_text(yaml.safe_dump({"name": TASK, "family": "retrieval", "category": "Retrieval",
                                    "source": {"local": TASK}, "default_protocol": "card",
                                    "protocols": {"card": {}}}), encoding="utf-8")
    return file


class HashingEncoder:
    """384 pseudo-random float32 dimensions from each text's CRC-32: deterministic, fast, no model."""

    config = SimpleNamespace(similarity="cosine", max_length=None)

    def __init__(self):
        rng = np.random.default_rng(0)
        self.mult = rng.integers(1, 2**31, DIM, dtype=np.uint64) | 1
        self.add = rng.integers(0, 2**31, DIM, dtype=np.uint64)

    def encode(self, texts, *, role, task):
        h = np.fromiter((zlib.crc32(t.encode()) for t in texts), np.uint64, len(texts))
        out = np.empty((len(texts), DIM), np.float32)
        for start in range(0, len(texts), 4096):  # small uint64 temporaries: the encoder adds ~nothing to RSS
            mixed = (h[start:start + 4096, None] * self.mult + self.add) % np.uint64(2**32)
            out[start:start + 4096] = mixed.astype(np.float32) / np.float32(2**32) - np.float32(0.5)
        return out


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(args) -> None:
    """One method in this process: one JSON line with its timings, peak RSS and the stored vectors' digest."""
    from harness.data import DataSource
    from harness.families.base import Context
    from harness.families.corpus import load_corpus
    from harness.families.retrieval import corpus_for, encode_corpus
    from harness.store import encode_to_disk
    from harness.taskspec import parse_task

    task = parse_task(Path(args.task_file))
    encoder = HashingEncoder()
    ctx = Context(data=DataSource(Path(args.data_dir)), encoder=encoder, notes={"storage_dtype": "float16"})
    imports = peak_rss()
    t0 = time.perf_counter()
    if args.method == "in-memory":
        corpus, _ = load_corpus(task, ctx, "text")
    else:
        corpus, _ = corpus_for(task, ctx, "text")
    t1 = time.perf_counter()
    after_load = peak_rss()
    if args.method == "in-memory":
        stored = encode_to_disk(lambda block: encode_for(encoder, block, role="document", task=task), corpus.texts,
                                "float16")
    else:
        stored = encode_corpus(ctx, corpus, task)
    t2 = time.perf_counter()
    print(json.dumps({"method": args.method, "load_s": t1 - t0, "encode_s": t2 - t1, "imports": imports,
                      "after_load": after_load, "peak": peak_rss(), "storage": stored.nbytes,
                      "digest": hashlib.sha256(np.ascontiguousarray(stored)).hexdigest()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--task-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        return child(args)

    with tempfile.TemporaryDirectory(prefix="bench-stream-corpus-") as tmp:
        corpus_file = Path(tmp) / "data" / TASK / "corpus.jsonl"
        t0 = time.perf_counter()
        write_corpus(corpus_file, args.docs, args.seed)
        task_file = write_task(Path(tmp))
        print(f"corpus {args.docs:,} documents, {corpus_file.stat().st_size / 1e9:.3f} GB jsonl (written in "
              f"{time.perf_counter() - t0:.1f} s); {DIM}-dim hashing encoder, float16 storage; "
              f"{platform.machine()}, {os.cpu_count()} CPUs")
        rows = []
        for method in args.methods.split(","):
            argv = ["--method", method, "--data-dir", str(Path(tmp) / "data"), "--task-file", str(task_file)]
            done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{method} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'method':<10} {'load s':>7} {'encode s':>9} {'imports GB':>11} {'after load GB':>14} {'peak GB':>8} "
          f"{'storage GB':>11} {'peak - storage GB':>18}")
    for row in rows:
        print(f"{row['method']:<10} {row['load_s']:>7.1f} {row['encode_s']:>9.1f} {row['imports'] / 1e9:>11.3f} "
              f"{row['after_load'] / 1e9:>14.3f} {row['peak'] / 1e9:>8.3f} {row['storage'] / 1e9:>11.3f} "
              f"{(row['peak'] - row['storage']) / 1e9:>18.3f}")
    by = {row["method"]: row for row in rows}
    if set(METHODS) <= set(by):
        mem, streamed = by["in-memory"], by["streamed"]

        def corpus_share(row):  # what loading the corpus added to the peak
            return row["after_load"] - row["imports"]

        def seconds(row):
            return row["load_s"] + row["encode_s"]

        print(f"streamed / in-memory: peak RSS x{streamed['peak'] / mem['peak']:.3f}, "
              f"peak after load x{streamed['after_load'] / mem['after_load']:.3f}, "
              f"corpus share of it (after load - imports) x{corpus_share(streamed) / corpus_share(mem):.3f}; "
              f"time x{seconds(streamed) / seconds(mem):.2f}; "
              f"stored vectors {'equal' if streamed['digest'] == mem['digest'] else 'DIFFER'}")


if __name__ == "__main__":
    main()
