"""JMTEB reranking metrics (ESCI, JQaRA, ... in JMTEB's own harness)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.scoring.retrieval import Ranked, Relevant, average_precision_at, mrr


def jmteb_rerank_metrics(
    ranked: Ranked,
    relevant: Relevant,
    ndcg_at: Sequence[int] = (10, 20, 40),
) -> dict[str, float]:
    """"ndcg@k" as JMTEB's reranking evaluator, plus harness extras "map@10", "mrr@10".

    ``relevant[i]`` holds the grade of every candidate (ESCI: Exact=3,
    Substitute=2, Complement=1, Irrelevant=0). nDCG uses linear gain
    grade/log2(rank+1) and an IDCG from the grades sorted descending truncated
    at k - the same as trec_eval ndcg_cut. JMTEB divides by IDCG unguarded, so
    an all-irrelevant query would crash it; we raise ValueError naming the query
    so the caller drops it explicitly (the published datasets already did).
    Extras use binary relevance (grade > 0): map@10 is trec-style (AP / |R|),
    mrr@10 the reciprocal rank within the top 10.
    """
    if len(ranked) != len(relevant):
        raise ValueError(f"{len(ranked)} rankings but {len(relevant)} relevance dicts")
    if not ranked:
        raise ValueError("no queries to score")
    out: dict[str, float] = {}
    for k in ndcg_at:
        total = 0.0
        for i, (ranked_q, rel) in enumerate(zip(ranked, relevant)):
            # JMTEB's arithmetic (its reranking evaluator's ndcg_at_k): each term alone, summed in rank order
            dcg = 0.0
            for rank, doc in enumerate(ranked_q[:k], start=1):
                dcg += rel.get(doc, 0) / np.log2(rank + 1)
            ideal = sorted(rel.values())[::-1][:k]
            idcg = sum([grade / np.log2(rank + 1) for rank, grade in enumerate(ideal, start=1)])
            if idcg == 0:
                raise ValueError(f"query index {i} has no relevant candidate (IDCG = 0); drop it before scoring")
            total += dcg / idcg
        out[f"ndcg@{k}"] = float(total / len(ranked))
    out["map@10"] = average_precision_at(ranked, relevant, 10, denominator="r")
    out["mrr@10"] = mrr(ranked, relevant, 10)
    return out
