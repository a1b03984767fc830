from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval

from harness.scoring.reranking import jmteb_rerank_metrics


def test_hand_values():
    # candidates graded ESCI-style; reranked order c, a, b, d
    ranked = [["c", "a", "b", "d"]]
    relevant = [{"a": 3, "b": 0, "c": 1, "d": 2}]
    # DCG@10 = 1/1 + 3/log2(3) + 0/2 + 2/log2(5) = 1 + 1.892789 + 0.861353 = 3.754142
    # IDCG@10 from grades sorted 3,2,1,0 = 3 + 2/log2(3) + 1/2 = 4.761860 -> 0.788377
    dcg = 1 + 3 / math.log2(3) + 2 / math.log2(5)
    idcg = 3 + 2 / math.log2(3) + 0.5
    # @2: DCG = 1 + 3/log2(3) = 2.892789; IDCG = 3 + 2/log2(3) = 4.261860 -> 0.678757
    out = jmteb_rerank_metrics(ranked, relevant, ndcg_at=(2, 10))
    assert math.isclose(out["ndcg@10"], dcg / idcg, rel_tol=1e-12)
    assert math.isclose(out["ndcg@2"], (1 + 3 / math.log2(3)) / (3 + 2 / math.log2(3)), rel_tol=1e-12)
    # binary extras (grade > 0: a, c, d): hits at ranks 1, 2, 4 -> AP = (1/1 + 2/2 + 3/4) / 3 = 0.916667
    assert math.isclose(out["map@10"], (1 + 1 + 0.75) / 3, rel_tol=1e-12)
    assert out["mrr@10"] == 1.0


def test_all_irrelevant_query_raises_with_index():
    with pytest.raises(ValueError, match="query index 1"):
        jmteb_rerank_metrics([["a"], ["b", "c"]], [{"a": 1}, {"b": 0, "c": 0}])


def test_random_vs_pytrec_ndcg_cut_and_map_cut():
    rng = np.random.default_rng(0)
    ranked, relevant, qrels, run = [], [], {}, {}
    for q in range(60):
        n = int(rng.integers(5, 75))  # ESCI: up to 74 candidates
        docs = [f"p{q}_{j}" for j in rng.permutation(n)]
        grades = rng.choice([0, 1, 2, 3], size=n, p=[0.4, 0.2, 0.2, 0.2])
        grades[0] = 3  # keep IDCG > 0 (the dataset dropped all-irrelevant queries)
        rel = dict(zip(docs, map(int, grades)))
        order = list(rng.permutation(n))  # tie-free: strictly decreasing scores below
        ranked.append([docs[j] for j in order])
        relevant.append(rel)
        qrels[f"q{q}"] = rel
        run[f"q{q}"] = {docs[j]: float(n - r) for r, j in enumerate(order)}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10,20,40", "map_cut.10", "recip_rank"}).evaluate(run)
    run10 = {q: {d: s for d, s in docs.items() if s > len(docs) - 10} for q, docs in run.items()}
    rr10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run10)
    out = jmteb_rerank_metrics(ranked, relevant)
    for k in (10, 20, 40):
        assert math.isclose(out[f"ndcg@{k}"], float(np.mean([ref[q][f"ndcg_cut_{k}"] for q in ref])), rel_tol=1e-12)
    assert math.isclose(out["map@10"], float(np.mean([ref[q]["map_cut_10"] for q in ref])), rel_tol=1e-12)
    assert math.isclose(out["mrr@10"], float(np.mean([rr10[q]["recip_rank"] for q in rr10])), rel_tol=1e-12)
    assert set(out) == {"ndcg@10", "ndcg@20", "ndcg@40", "map@10", "mrr@10"}
