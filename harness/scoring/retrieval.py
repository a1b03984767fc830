"""Ranked-list retrieval metrics under three incompatible conventions.

Inputs: ``ranked[i]`` is query i's doc ids, best first, already cut to the
depth the caller retrieved; ``relevant[i]`` maps doc id -> relevance grade.

* ``jmteb_metrics``  - JMTEB's own code: binary gain, IDCG over *all* |R|
  relevant docs (not truncated at k), mean over all queries.
* ``st_metrics``     - sentence-transformers 6.2 InformationRetrievalEvaluator:
  every listed id is relevant (grade ignored, even 0), IDCG over min(|R|, k),
  MAP@k divided by min(k, |R|).
* ``trec_metrics``   - MTEB: pytrec_eval (linear graded gain, MAP / |R|,
  ties by doc id descending), means rounded to 5 decimals.

The conventions differ whenever |R| > k, grades are not binary, qrels carry
grade-0 rows, or scores tie - which is why none of them is "the" nDCG.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import pytrec_eval

Ranked = Sequence[Sequence[str]]
Relevant = Sequence[Mapping[str, int]]


def _check_aligned(ranked: Ranked, relevant: Relevant) -> None:
    if len(ranked) != len(relevant):
        raise ValueError(f"{len(ranked)} rankings but {len(relevant)} relevance dicts")


def _positives(rel: Mapping[str, int]) -> set:
    return {doc for doc, grade in rel.items() if grade > 0}


def _discounts(n: int) -> np.ndarray:
    # 1 / log2(rank + 1) for ranks 1..n
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _hits(ranked_q: Sequence[str], relevant_ids: set, k: int) -> np.ndarray:
    """0/1 vector over ranked_q[:k]; duplicate ids each count (as in JMTEB)."""
    return np.fromiter((doc in relevant_ids for doc in ranked_q[:k]), dtype=np.float64)


def _reciprocal_rank(hits: np.ndarray) -> float:
    nz = np.flatnonzero(hits)
    return 1.0 / (nz[0] + 1) if nz.size else 0.0


def _ap_sum(hits: np.ndarray) -> float:
    # sum over relevant ranks r of precision@r
    if not hits.any():
        return 0.0
    ranks = np.arange(1, hits.size + 1, dtype=np.float64)
    return float((np.cumsum(hits) / ranks)[hits > 0].sum())


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


# ---------------------------------------------------------------- JMTEB ----
def jmteb_metrics(
    ranked: Ranked,
    relevant: Relevant,
    ndcg_at: Sequence[int] = (10,),
    accuracy_at: Sequence[int] = (1, 3, 5, 10),
    mrr_at: int = 10,
) -> dict[str, float]:
    """JMTEB retrieval metrics, in the order JMTEB writes them: "accuracy@k" (hit rate), "ndcg@k", "mrr@k".

    Binary gain (grade > 0). JMTEB's IDCG is sum_{r=1}^{|R|} 1/log2(r+1), *not*
    truncated at k, so a perfect top-10 scores < 1 when |R| > 10. Queries with
    no relevant doc contribute 0 but stay in the denominator (JMTEB warns and
    still divides by the number of queries). The arithmetic is JMTEB's own, to
    the last bit (its retrieval evaluator's accuracy_at_k / ndcg_at_k / mrr_at_k):
    each discount 1 / np.log2(rank + 1) computed alone, sums in query and rank
    order, one division by the number of queries at the end.
    """
    _check_aligned(ranked, relevant)
    if not ranked:
        raise ValueError("no queries to score")
    positives = [_positives(rel) for rel in relevant]
    out: dict[str, float] = {}
    for k in accuracy_at:
        hits = sum(1 for ranked_q, pos in zip(ranked, positives) if pos and any(d in pos for d in ranked_q[:k]))
        out[f"accuracy@{k}"] = hits / len(ranked)
    for k in ndcg_at:
        total = 0.0
        for ranked_q, pos in zip(ranked, positives):
            if not pos:
                continue
            dcg = 0.0
            for rank, doc in enumerate(ranked_q[:k], start=1):
                if doc in pos:
                    dcg += 1.0 / np.log2(rank + 1)
            idcg = sum([1 / np.log2(rank + 1) for rank in range(1, len(pos) + 1)])
            total += dcg / idcg
        out[f"ndcg@{k}"] = float(total / len(ranked))
    total = 0.0
    for ranked_q, pos in zip(ranked, positives):
        first = next((rank for rank, doc in enumerate(ranked_q[:mrr_at], start=1) if doc in pos), None)
        if first is not None:
            total += 1.0 / first
    out[f"mrr@{mrr_at}"] = total / len(ranked)
    return out


# ---------------------------------------------------- sentence-transformers ----
def st_metrics(
    ranked: Ranked,
    relevant: Relevant,
    accuracy_at: Sequence[int] = (1, 3, 5, 10),
    precision_recall_at: Sequence[int] = (1, 3, 5, 10),
    mrr_at: Sequence[int] = (10,),
    ndcg_at: Sequence[int] = (10,),
    map_at: Sequence[int] = (100,),
) -> dict[str, float]:
    """sentence-transformers 6.2 ``InformationRetrievalEvaluator.compute_metrics``.

    Keys "accuracy@k", "precision@k", "recall@k", "mrr@k", "ndcg@k", "map@k".
    Relevance is binary and every id listed in ``relevant[i]`` counts, whatever
    its grade (ST's NanoBEIR loader ignores the qrels score column).
    precision = hits/k (even if fewer than k were retrieved), recall = hits/|R|,
    IDCG over min(|R|, k) ideal ranks, AP@k divided by min(k, |R|).
    ST drops queries without positives before scoring; here such a query
    scores 0 on every metric (the caller is expected to drop it first).
    Pass ``ranked`` ordered by (-score, doc id ascending), see ``rank_ties``.
    """
    _check_aligned(ranked, relevant)
    depth = max([*accuracy_at, *precision_recall_at, *mrr_at, *ndcg_at, *map_at])
    keys = (
        [f"accuracy@{k}" for k in accuracy_at]
        + [f"precision@{k}" for k in precision_recall_at]
        + [f"recall@{k}" for k in precision_recall_at]
        + [f"mrr@{k}" for k in mrr_at]
        + [f"ndcg@{k}" for k in ndcg_at]
        + [f"map@{k}" for k in map_at]
    )
    out: dict[str, list[float]] = {key: [] for key in keys}
    for ranked_q, rel in zip(ranked, relevant):
        rel_ids = set(rel)
        n_rel = len(rel_ids)
        if n_rel == 0:
            for values in out.values():
                values.append(0.0)
            continue
        hits = _hits(ranked_q, rel_ids, depth)
        for k in accuracy_at:
            out[f"accuracy@{k}"].append(float(hits[:k].any()))
        for k in precision_recall_at:
            n_hit = float(hits[:k].sum())
            out[f"precision@{k}"].append(n_hit / k)
            out[f"recall@{k}"].append(n_hit / n_rel)
        for k in mrr_at:
            out[f"mrr@{k}"].append(_reciprocal_rank(hits[:k]))
        for k in ndcg_at:
            h = hits[:k]
            idcg = _discounts(min(n_rel, k)).sum()
            out[f"ndcg@{k}"].append(float(h @ _discounts(h.size)) / idcg)
        for k in map_at:
            out[f"map@{k}"].append(_ap_sum(hits[:k]) / min(k, n_rel))
    return {key: _mean(values) for key, values in out.items()}


# ----------------------------------------------------------- harness extras ----
def extra_metrics(
    ranked: Ranked,
    relevant: Relevant,
    recall_at: Sequence[int] = (1, 3, 5, 10, 100),
    map_at: Sequence[int] = (10, 100),
) -> dict[str, float]:
    """Harness extras, not reported by JMTEB itself: "recall@k" and "map@k".

    Relevant = grade > 0. recall@k = hits in top k / |R|; map@k is trec-style
    (trec_eval map_cut: AP truncated at k divided by |R|, not min(k, |R|)).
    Mean over all queries; a query without positives contributes 0.
    """
    _check_aligned(ranked, relevant)
    depth = max([*recall_at, *map_at])
    out: dict[str, list[float]] = {f"recall@{k}": [] for k in recall_at}
    out.update({f"map@{k}": [] for k in map_at})
    for ranked_q, rel in zip(ranked, relevant):
        pos = _positives(rel)
        hits = _hits(ranked_q, pos, depth)
        n_rel = max(len(pos), 1)  # hits are all 0 when pos is empty
        for k in recall_at:
            out[f"recall@{k}"].append(float(hits[:k].sum()) / n_rel)
        for k in map_at:
            out[f"map@{k}"].append(_ap_sum(hits[:k]) / n_rel)
    return {key: _mean(values) for key, values in out.items()}


def mrr(ranked: Ranked, relevant: Relevant, k: int) -> float:
    """Mean reciprocal rank of the first grade>0 doc within the top k (0 if none)."""
    _check_aligned(ranked, relevant)
    return _mean([_reciprocal_rank(_hits(r, _positives(rel), k)) for r, rel in zip(ranked, relevant)])


def average_precision_at(ranked: Ranked, relevant: Relevant, k: int, denominator: str = "r") -> float:
    """Mean AP@k with grade>0 relevance.

    denominator="r": divide by |R| (trec_eval map_cut, MTEB).
    denominator="min_k_r": divide by min(k, |R|) (sentence-transformers map@k).
    """
    if denominator not in ("r", "min_k_r"):
        raise ValueError(f"denominator must be 'r' or 'min_k_r', got {denominator!r}")
    _check_aligned(ranked, relevant)
    values = []
    for ranked_q, rel in zip(ranked, relevant):
        pos = _positives(rel)
        if not pos:
            values.append(0.0)
            continue
        denom = len(pos) if denominator == "r" else min(k, len(pos))
        values.append(_ap_sum(_hits(ranked_q, pos, k)) / denom)
    return _mean(values)


def graded_ndcg_per_query(ranked_q: Sequence[str], rel: Mapping[str, int], k: int) -> tuple[float, float]:
    """(DCG@k, IDCG@k) with linear gain grade/log2(rank+1).

    IDCG uses the grades sorted descending and truncated at k: JMTEB's reranking
    nDCG and trec_eval ndcg_cut. Docs missing from ``rel`` have gain 0.
    """
    grades = list(rel.values())
    if any(g < 0 for g in grades):
        raise ValueError("graded nDCG needs non-negative grades")
    gains = np.fromiter((rel.get(doc, 0) for doc in ranked_q[:k]), dtype=np.float64)
    ideal = np.sort(np.asarray(grades, dtype=np.float64))[::-1][:k]
    dcg = float(gains @ _discounts(gains.size))
    idcg = float(ideal @ _discounts(ideal.size))
    return dcg, idcg


def graded_ndcg(ranked: Ranked, relevant: Relevant, k: int) -> float:
    """Mean graded (linear-gain) nDCG@k; a query with IDCG 0 scores 0 (as trec_eval)."""
    _check_aligned(ranked, relevant)
    values = []
    for ranked_q, rel in zip(ranked, relevant):
        dcg, idcg = graded_ndcg_per_query(ranked_q, rel, k)
        values.append(dcg / idcg if idcg > 0 else 0.0)
    return _mean(values)


# ------------------------------------------------------------ pytrec / MTEB ----
def trec_per_query(
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    k_values: Sequence[int] = (1, 3, 5, 10, 20, 100, 1000),
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Evaluated query ids and, for each metric key of `trec_metrics`, its per-query values.

    Evaluated queries = qrels queries with at least one grade > 0 (trec counts grade <= 0 as
    non-relevant); an evaluated query missing from the run scores 0 rather than silently vanishing.
    """
    evaluated = [qid for qid, rel in qrels.items() if any(g > 0 for g in rel.values())]
    if not evaluated:
        raise ValueError("no query in qrels has a relevant (grade > 0) document")
    trec_qrels = {qid: {doc: int(g) for doc, g in qrels[qid].items()} for qid in evaluated}
    trec_run = {qid: {doc: float(s) for doc, s in run.get(qid, {}).items()} for qid in evaluated}
    ks = ",".join(str(int(k)) for k in k_values)
    measures = {f"ndcg_cut.{ks}", f"map_cut.{ks}", f"recall.{ks}", f"P.{ks}", "recip_rank"}
    per_query = pytrec_eval.RelevanceEvaluator(trec_qrels, measures).evaluate(trec_run)

    names = {f"{key}_{k}": f"{trec_name}_{k}" for trec_name, key in
             (("ndcg_cut", "ndcg_at"), ("map_cut", "map_at"), ("recall", "recall_at"), ("P", "precision_at"))
             for k in k_values}
    names["mrr"] = "recip_rank"
    return evaluated, {key: {qid: per_query.get(qid, {}).get(measure, 0.0) for qid in evaluated}
                       for key, measure in names.items()}


def trec_metrics(
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    k_values: Sequence[int] = (1, 3, 5, 10, 20, 100, 1000),
    round_to: int | None = 5,
) -> dict[str, float]:
    """MTEB-style metrics via pytrec_eval: "ndcg_at_k", "map_at_k", "recall_at_k",
    "precision_at_k" for each k, and "mrr" (trec recip_rank: no cut-off), averaged over the
    queries of `trec_per_query`. Gains are linear in the grade; ties are broken by
    doc id descending (trec_eval), so tie-free runs are needed to match other
    conventions. Means are rounded to ``round_to`` decimals after averaging, as
    MTEB does (None keeps full precision).
    """
    return trec_means(*trec_per_query(run, qrels, k_values), round_to=round_to)


def trec_means(evaluated: list[str], per_query: Mapping[str, Mapping[str, float]],
               round_to: int | None = 5) -> dict[str, float]:
    """The means `trec_metrics` reports, from `trec_per_query`'s output."""
    out = {key: _sequential_mean(values, evaluated) for key, values in per_query.items()}
    if round_to is not None:
        out = {key: round(value, round_to) for key, value in out.items()}
    return out


def _sequential_mean(values: Mapping[str, float], qids: list[str]) -> float:
    # MTEB sums per-query values in order and divides once; keep that order.
    total = 0.0
    for qid in qids:
        total += values[qid]
    return total / len(qids)


# ------------------------------------------------------------------ ranking ----
def rank_ties(scores: np.ndarray, ids: Sequence[str], k: int) -> list[int]:
    """Indices of the top k scores ordered by (-score, id ascending).

    This is sentence-transformers 6.2's total order (it also reselects rows tied
    at the k-th score by id), so the result does not depend on how the corpus
    was chunked. Every doc tied with the k-th score is considered before the
    cut, which makes boundary ties exact.
    """
    s = np.asarray(scores).ravel()
    if len(ids) != s.size:
        raise ValueError(f"{s.size} scores but {len(ids)} ids")
    if np.issubdtype(s.dtype, np.floating) and np.isnan(s).any():
        raise ValueError("scores contain NaN")
    k = min(int(k), s.size)
    if k <= 0:
        return []
    if k < s.size:
        kth_best = np.partition(s, s.size - k)[s.size - k]
        candidates = np.flatnonzero(s >= kth_best)
    else:
        candidates = np.arange(s.size)
    cand_scores = s[candidates].tolist()
    cand_ids = [ids[i] for i in candidates.tolist()]
    order = sorted(range(len(candidates)), key=lambda j: (-cand_scores[j], cand_ids[j]))
    return [int(candidates[j]) for j in order[:k]]


# ------------------------------------------------------- answer-string match ----
def normalize_answer(text: str) -> str:
    """NFKC, lower case, whitespace removed: full-width and half-width forms of an answer match (Japanese
    text has no word boundaries, so the match is on characters, as in the AIO baselines)."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def answer_accuracy(ranked_texts: Sequence[Sequence[str]], answers: Sequence[Sequence[str]],
                    accuracy_at: Sequence[int] = (1, 5, 10, 50)) -> dict[str, float]:
    """DPR-style top-k retrieval accuracy: the fraction of questions with at least one of the top k
    passages containing one of the question's answer strings (after `normalize_answer`)."""
    if len(ranked_texts) != len(answers):
        raise ValueError(f"{len(ranked_texts)} rankings but {len(answers)} answer lists")
    if not ranked_texts:
        raise ValueError("no questions to score")
    out = {f"accuracy@{k}": 0.0 for k in accuracy_at}
    depth = max(accuracy_at)
    for passages, golds in zip(ranked_texts, answers):
        wanted = [a for a in (normalize_answer(g) for g in golds) if a]
        first = next((r for r, text in enumerate(passages[:depth])
                      if any(a in normalize_answer(text) for a in wanted)), None)
        for k in accuracy_at:
            out[f"accuracy@{k}"] += first is not None and first < k
    return {key: value / len(ranked_texts) for key, value in out.items()}
