"""Reranking family: JMTEB's graded nDCG over each query's own candidate list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.families.reranking import JMTEB_NAMES

SPLITS = {"validation": "validation", "test": "test"}


def _corpus(ids: list[str]) -> list[dict]:
    return [{"docid": d, "title": f"title of {d}", "text": f"text of {d}"} for d in ids]


def _doc_vectors(raw: dict[str, list[float]]) -> dict[str, list[float]]:
    return {f"text of {d}": v for d, v in raw.items()}


def test_golden_single_query(tiny):
    # Query (1, 0); unit-length documents, so cosine = dot and L2 is monotone in cosine: every
    # similarity gives the same order and cosine (listed first) wins the tie.
    docs = {"d1": [1, 0], "d2": [0.6, 0.8], "d3": [0, 1], "d4": [0.8, 0.6]}
    vectors = {"q": [1, 0], "q_dead": [0, 1], **_doc_vectors(docs)}
    query = {"query": "q", "retrieved_docs": ["d3", "d1", "d2", "d4"], "relevance_scores": [3, 0, 2, 1]}
    dead = {"query": "q_dead", "retrieved_docs": ["d1", "d2"], "relevance_scores": [0, 0]}
    task = tiny.make("rr_golden", "reranking", "Reranking", {
        "validation": [query], "test": [query, dead], "corpus": _corpus(list(docs)),
    }, splits=SPLITS)
    out = tiny.run(task, vectors)
    # Cosines: d1 1.0, d4 0.8, d2 0.6, d3 0.0 -> order d1(0) d4(1) d2(2) d3(3).
    # DCG@10 = 0/log2(2) + 1/log2(3) + 2/log2(4) + 3/log2(5) = 0.630930 + 1 + 1.292030 = 2.922960
    # IDCG@10 (grades 3,2,1,0) = 3 + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5 = 4.761860
    # nDCG@10 = 2.922960 / 4.761860 = 0.613827 (k = 20 and 40 give the same: only four candidates).
    dcg = 1 / math.log2(3) + 2 / 2 + 3 / math.log2(5)
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    assert dcg / idcg == pytest.approx(0.613827, abs=1e-6)
    assert out.metric_name == "ndcg@10"
    assert out.metric_value == pytest.approx(dcg / idcg, abs=1e-12)
    test = out.details["test_scores"]["cosine_similarity"]  # JMTEB's name; JMTEB reports nDCG only
    assert test["ndcg@40"] == pytest.approx(dcg / idcg, abs=1e-12)
    # extras, binary (grade > 0: d4, d2, d3 at ranks 2, 3, 4): MRR = 1/2; AP = (1/2 + 2/3 + 3/4) / 3
    extra = out.details["extra_scores"]["cosine_similarity"]
    assert extra["mrr@10"] == 0.5
    assert extra["map@10"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 4) / 3)
    assert out.details["optimal_distance_metric"] == "cosine_similarity"
    # the all-irrelevant test query is dropped (JMTEB would divide by IDCG = 0) and counted
    assert out.details["dropped_all_irrelevant_queries"] == {"validation": 0, "test": 1}
    assert out.details["queries"] == {"validation": 1, "test": 1}


def test_ties_follow_jmteb_under_jmteb_and_document_id_under_card(tiny):
    # Identical vectors -> identical scores. JMTEB (torch.argsort descending, unstable) keeps a short list's
    # order: d9 then d10; the card protocol breaks ties by document id: "d10" sorts before "d9" as a string.
    docs = {"d9": [1, 1], "d10": [1, 1]}
    vectors = {"q": [1, 0], **_doc_vectors(docs)}
    query = {"query": "q", "retrieved_docs": ["d9", "d10"], "relevance_scores": [0, 1]}
    task = tiny.make("rr_tie", "reranking", "Reranking", {
        "validation": [query], "test": [query], "corpus": _corpus(["d9", "d10"])}, splits=SPLITS,
        protocols={"jmteb": {}, "card": {"doc_text": "text"}})
    # list order: d9 (grade 0), d10 (grade 1): DCG = 1/log2(3), IDCG = 1
    assert tiny.run(task, vectors).metric_value == 1 / np.log2(3)
    # id order: d10 (grade 1), d9 (grade 0): DCG = IDCG = 1
    assert tiny.run(task, vectors, protocol="card").metric_value == 1.0


def test_only_candidate_documents_are_embedded(tiny, fake_encoder):
    docs = {"d1": [1, 0], "d2": [0, 1], "unused": [1, 1]}
    vectors = {"q": [1, 0], **_doc_vectors(docs)}
    query = {"query": "q", "retrieved_docs": ["d2", "d1"], "relevance_scores": [1, 0]}
    task = tiny.make("rr_used", "reranking", "Reranking", {
        "validation": [query], "test": [query], "corpus": _corpus(list(docs))}, splits=SPLITS)
    encoder = fake_encoder(vectors)
    out = tiny.run(task, vectors, encoder=encoder)
    documents = [texts for role, texts in encoder.calls if role == "document"]
    assert documents == [["text of d1", "text of d2"]]  # corpus order, no unused document
    assert out.details["documents_embedded"] == 2


def _jmteb_ndcg(retrieved, grades, reranked, k):
    """JMTEB's formula, written out: grade via retrieved.index(doc); IDCG from sorted grades, cut at k."""
    dcg = sum(grades[retrieved.index(d)] / np.log2(r + 1) for r, d in enumerate(reranked[:k], start=1))
    idcg = sum(g / np.log2(r + 1) for r, g in enumerate(sorted(grades, reverse=True)[:k], start=1))
    return dcg / idcg


def _scores(q, docs, similarity):
    if similarity == "cosine":
        return (docs / np.linalg.norm(docs, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    if similarity == "dot":
        return docs @ q
    return 100.0 / (np.linalg.norm(docs - q, axis=1) + 1e-4)


def test_matches_direct_computation(tiny):
    rng = np.random.default_rng(21)
    doc_ids = [f"p{i:03d}" for i in range(60)]
    raw = {d: (rng.normal(0, 1, 6) * rng.uniform(0.3, 3.0)).tolist() for d in doc_ids}  # unequal norms
    vectors = _doc_vectors(raw)

    def queries(prefix, n):
        rows = []
        for i in range(n):
            vectors[f"{prefix}{i}"] = rng.normal(0, 1, 6).tolist()
            cands = list(rng.choice(doc_ids, size=int(rng.integers(5, 25)), replace=False))
            grades = [int(g) for g in rng.choice([0, 1, 2, 3], size=len(cands), p=[0.5, 0.2, 0.2, 0.1])]
            grades[0] = max(grades[0], 1)  # at least one relevant candidate
            rows.append({"query": f"{prefix}{i}", "retrieved_docs": cands, "relevance_scores": grades})
        return rows

    val_rows, test_rows = queries("v", 25), queries("t", 30)
    task = tiny.make("rr_direct", "reranking", "Reranking", {
        "validation": val_rows, "test": test_rows, "corpus": _corpus(doc_ids)}, splits=SPLITS)
    out = tiny.run(task, vectors)

    def mean_ndcg(rows, similarity, k):
        values = []
        for row in rows:
            q = np.asarray(vectors[row["query"]], dtype=np.float32).astype(np.float64)
            docs = np.asarray([raw[d] for d in row["retrieved_docs"]], dtype=np.float32).astype(np.float64)
            s = _scores(q, docs, similarity)
            order = sorted(range(len(s)), key=lambda j: (-s[j], row["retrieved_docs"][j]))
            reranked = [row["retrieved_docs"][j] for j in order]
            values.append(_jmteb_ndcg(row["retrieved_docs"], row["relevance_scores"], reranked, k))
        return float(np.mean(values))

    sims = ["cosine", "dot", "euclidean_jmteb_retrieval"]
    val = {s: mean_ndcg(val_rows, s, 10) for s in sims}
    for s in sims:
        assert out.details["val_scores"][JMTEB_NAMES[s]]["ndcg@10"] == pytest.approx(val[s], abs=1e-9)
    best = next(s for s in sims if val[s] == max(val.values()))
    assert out.details["optimal_distance_metric"] == JMTEB_NAMES[best]
    for k in (10, 20, 40):
        assert out.details["test_scores"][JMTEB_NAMES[best]][f"ndcg@{k}"] == pytest.approx(mean_ndcg(test_rows, best, k), abs=1e-9)
    assert len(set(round(v, 9) for v in val.values())) > 1  # the similarities really differ here


def test_candidate_missing_from_corpus_fails(tiny):
    docs = {"d1": [1, 0]}
    query = {"query": "q", "retrieved_docs": ["d1", "ghost"], "relevance_scores": [1, 0]}
    task = tiny.make("rr_ghost", "reranking", "Reranking", {
        "validation": [query], "test": [query], "corpus": _corpus(["d1"])}, splits=SPLITS)
    with pytest.raises(HarnessError, match=r"rr_ghost/validation.jsonl:1: candidate document 'ghost' is not in "
                                           r"the corpus \(.*rr_ghost/corpus.jsonl\)"):
        tiny.run(task, {"q": [1, 0], **_doc_vectors(docs)})


@pytest.mark.parametrize("query, corpus_ids, message", [
    ({"query": "q", "retrieved_docs": ["d1"], "relevance_scores": [1]}, ["d1", "d1"],
     "corpus.jsonl:2: duplicate document id 'd1'"),
    ({"query": "q", "retrieved_docs": ["d1"], "relevance_scores": [1, 0]}, ["d1"],
     "column 'relevance_scores' must be a list of 1 ints"),
    ({"query": "q", "retrieved_docs": ["d1"], "relevance_scores": [True]}, ["d1"], "integer from 0 to"),
    ({"query": "q", "retrieved_docs": ["d1", "d1"], "relevance_scores": [1, 0]}, ["d1"], "listed twice"),
    ({"query": "q", "retrieved_docs": ["d1"]}, ["d1"], "missing column 'relevance_scores'"),
    ({"query": "q", "retrieved_docs": [], "relevance_scores": []}, ["d1"], "non-empty list"),
])
def test_bad_inputs(tiny, query, corpus_ids, message):
    task = tiny.make("rr_bad", "reranking", "Reranking", {
        "validation": [query], "test": [query], "corpus": _corpus(corpus_ids)}, splits=SPLITS)
    with pytest.raises(HarnessError, match=message):
        tiny.run(task, {"q": [1, 0], "text of d1": [1, 0]})


def test_all_queries_irrelevant_fails(tiny):
    query = {"query": "q", "retrieved_docs": ["d1"], "relevance_scores": [0]}
    task = tiny.make("rr_dead", "reranking", "Reranking", {
        "validation": [query], "test": [query], "corpus": _corpus(["d1"])}, splits=SPLITS)
    with pytest.raises(HarnessError, match="no query of task rr_dead has a relevant candidate"):
        tiny.run(task, {"q": [1, 0], "text of d1": [1, 0]})


def test_per_query_values_for_bootstrap_intervals(tiny):
    """per_item: the main metric of each test query; their mean is the score (what a report resamples)."""
    from harness.scoring import bootstrap

    docs = {"d1": [1, 0], "d2": [0.6, 0.8], "d3": [0, 1]}
    vectors = {"q1": [1, 0], "q2": [0, 1], **_doc_vectors(docs)}
    queries = [{"query": "q1", "retrieved_docs": ["d1", "d2", "d3"], "relevance_scores": [0, 1, 2]},
               {"query": "q2", "retrieved_docs": ["d1", "d2", "d3"], "relevance_scores": [0, 1, 2]}]
    task = tiny.make("rr_items", "reranking", "Reranking", {"validation": queries, "test": queries,
                                                             "corpus": _corpus(list(docs))}, splits=SPLITS)
    out = tiny.run(task, vectors)
    statistic, arrays = bootstrap.unpack(out.details["per_item"])
    assert statistic == "mean" and arrays["values"].size == 2
    assert arrays["values"][1] == pytest.approx(1.0)  # q2 ranks d3, d2, d1: the ideal order
    assert arrays["values"].mean() == pytest.approx(out.metric_value, abs=1e-12)
