"""End to end on a tiny random BERT built in the test: the run's numbers equal a direct computation."""

from __future__ import annotations

import json
import random

import numpy as np
import pytrec_eval
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer

from harness.cli import main
from harness.families.retrieval import JMTEB_NAMES as RETRIEVAL_NAMES
from harness.families.sts import JMTEB_NAMES as STS_NAMES
from tests.conftest import CORPUS, write_jsonl

INTERNAL_STS = {v: k for k, v in STS_NAMES.items()}
INTERNAL_RETRIEVAL = {v: k for k, v in RETRIEVAL_NAMES.items()}


def _sts_rows(rng: random.Random, n: int) -> list[dict]:
    return [{"sentence1": rng.choice(CORPUS) + " " + rng.choice(CORPUS), "sentence2": rng.choice(CORPUS),
             "label": round(rng.uniform(0, 5), 1)} for _ in range(n)]


def _make_data(root):
    rng = random.Random(0)
    write_jsonl(root / "jsts" / "train.jsonl", _sts_rows(rng, 40))
    write_jsonl(root / "jsts" / "test.jsonl", _sts_rows(rng, 30))
    docs = [{"docid": f"d{i}", "title": "", "text": f"{CORPUS[i % 10]} {CORPUS[i // 10]}"} for i in range(60)]
    queries = [{"qid": f"q{i}", "query": CORPUS[i % 10], "relevant_docs":
                list(dict.fromkeys([f"d{i}", f"d{(i * 7) % 60}"]))}  # q0: d0 once (a repeat is refused)
               for i in range(20)]
    write_jsonl(root / "jaquad_retrieval" / "corpus.jsonl", docs)
    write_jsonl(root / "jaquad_retrieval" / "test.jsonl", queries)
    return docs, queries


def test_tiny_model_run_matches_direct_computation(tmp_path, tiny_model, capsys):
    data = tmp_path / "data"
    docs, queries = _make_data(data)
    out = tmp_path / "out"
    code = main(["run", f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jsts,jaquad_retrieval]",
                 f"output_dir={out}", f"cache_dir={tmp_path}/cache", "encode.show_progress=false"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    sts = json.loads((out / "STS" / "scores_jsts.json").read_text())
    retrieval = json.loads((out / "Retrieval" / "scores_jaquad_retrieval.json").read_text())

    model = SentenceTransformer(str(tiny_model), device="cpu")
    # STS: the chosen similarity is the validation best; recompute its test Spearman directly.
    chosen = INTERNAL_STS[sts["details"]["optimal_similarity_metric"]]  # JMTEB's name -> ours
    test = [json.loads(line) for line in (data / "jsts" / "test.jsonl").read_text().splitlines()]
    e1 = model.encode([r["sentence1"] for r in test])
    e2 = model.encode([r["sentence2"] for r in test])
    direct = {"cosine": (e1 * e2).sum(1) / np.linalg.norm(e1, axis=1) / np.linalg.norm(e2, axis=1),
              "manhattan": -np.abs(e1 - e2).sum(1), "euclidean_jmteb": -np.abs(e1 - e2).sum(1),
              "dot": (e1 * e2).sum(1)}[chosen]
    expected = spearmanr([r["label"] for r in test], direct).statistic
    assert abs(sts["metric_value"] - expected) < 1e-6
    # the main metric first, then the chosen similarity's other test figures (harness.summary)
    assert summary["STS"]["jsts"] == {"spearman": sts["metric_value"], "pearson": sts["details"]["test_scores"][
        sts["details"]["optimal_similarity_metric"]]["pearson"]}

    # Retrieval: nDCG@10 of the chosen similarity equals pytrec_eval's (|R| = 2 <= 10, so they agree).
    chosen = INTERNAL_RETRIEVAL[retrieval["details"]["optimal_distance_metric"]]
    q = model.encode([r["query"] for r in queries])
    d = model.encode([r["text"] for r in docs])  # titles are empty: title_text == text
    if chosen == "cosine":
        q, d = q / np.linalg.norm(q, axis=1, keepdims=True), d / np.linalg.norm(d, axis=1, keepdims=True)
    scores = q @ d.T if chosen != "euclidean_jmteb_retrieval" else \
        100 / (np.linalg.norm(q[:, None] - d[None], axis=2) + 1e-4)
    run = {r["qid"]: {docs[j]["docid"]: float(scores[i, j]) for j in np.argsort(-scores[i])[:10]}
           for i, r in enumerate(queries)}
    qrels = {r["qid"]: {doc: 1 for doc in r["relevant_docs"]} for r in queries}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10"}).evaluate(run)
    expected = np.mean([v["ndcg_cut_10"] for v in per_query.values()])
    assert abs(retrieval["metric_value"] - expected) < 1e-5

    prov = retrieval["provenance"]
    assert prov["model"]["path"] == str(tiny_model)
    assert prov["dataset"]["parts"]["corpus"]["sha256"]
    assert {"torch", "sentence-transformers", "scipy"} <= set(prov["versions"])
    assert prov["harness_git_revision"]
    assert prov["seed"] == 0 and prov["model"]["dtype"] == "float32"

    # A second identical run recomputing every task (resume=false; by default it would keep them) is served
    # from the embedding cache and writes identical score files.
    first = json.loads((out / "run.json").read_text())["cache"]
    assert first["miss_texts"] > 0 and first["encode_seconds"] > 0
    before = {p: p.read_bytes() for p in out.glob("*/*.json")}
    assert main(["run", f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jsts,jaquad_retrieval]",
                 f"output_dir={out}", f"cache_dir={tmp_path}/cache", "encode.show_progress=false",
                 "resume=false"]) == 0
    assert "0 encoded (0.0 s encoding" in capsys.readouterr().out
    second = json.loads((out / "run.json").read_text())["cache"]
    assert second["hit_texts"] == first["miss_texts"] + first["hit_texts"]
    assert second["miss_texts"] == 0 and second["encode_seconds"] == 0.0
    assert 0 < second["embed_seconds"]  # cache reads (timing ratios are measured in scripts/, not asserted)
    assert {p: p.read_bytes() for p in out.glob("*/*.json")} == before
