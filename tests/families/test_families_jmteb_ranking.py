"""Duplicate documents and exact score ties: protocol jmteb ranks as JMTEB's torch operations do, the other
protocols keep their references' tie rules.

`jmteb_retrieval_ranking` / `jmteb_rerank_order` / `jmteb_*` metrics below are this test's own transcription of
JMTEB 1.4's code (src/jmteb/evaluators/{retrieval,reranking}/evaluator.py @ hkazuakey/JMTEB
da3756b833c41ccb1878d799efd4a274e4b5a348), written independently of harness/search.py and harness/scoring.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval
import torch
import torch.nn.functional as F

from harness.search import jmteb_rerank, jmteb_top_k, rerank, top_k

SPLITS = {"validation": "validation", "test": "test"}


# ----------------------------------------------------------------------------- JMTEB, transcribed ----
def _similarity(e1: torch.Tensor, e2: torch.Tensor, name: str) -> torch.Tensor:
    if name == "cosine":  # Similarities.cosine_similarity
        return torch.mm(F.normalize(e1, p=2, dim=1), F.normalize(e2, p=2, dim=1).transpose(0, 1))
    if name == "dot":  # Similarities.dot_score
        return torch.mm(e1, e2.transpose(0, 1))
    return 100 / (torch.cdist(e1, e2) + 1e-4)  # Similarities.euclidean_distance


def jmteb_retrieval_ranking(queries: np.ndarray, docs: np.ndarray, max_top_k: int, chunk: int,
                            name: str) -> list[list[int]]:
    """RetrievalEvaluator._compute_metrics: topk per document chunk, cat, argsort(-scores), cut, take."""
    q = torch.tensor(queries)
    indices, scores = [], []
    for offset in range(0, len(docs), chunk):
        similarity = _similarity(q, torch.tensor(docs[offset:offset + chunk]), name)
        top_scores, top_indices = torch.topk(similarity, k=min(max_top_k, similarity.shape[1]), dim=1)
        indices.append(top_indices + offset)
        scores.append(top_scores)
    all_indices, all_scores = torch.cat(indices, axis=1), torch.cat(scores, axis=1)
    order = torch.argsort(-all_scores, axis=1)[:, :min(max_top_k, all_indices.shape[0])]
    return torch.take_along_dim(all_indices, order, axis=1).tolist()


def jmteb_rerank_order(query: np.ndarray, candidates: np.ndarray, name: str) -> list[int]:
    """RerankingEvaluator._compute_metrics for one query: argsort(similarity, descending=True)[0]."""
    similarity = _similarity(torch.tensor(query).unsqueeze(0), torch.stack([torch.Tensor(c) for c in candidates]),
                             name)
    return torch.argsort(similarity, dim=1, descending=True)[0].tolist()


def jmteb_accuracy(relevant, hits, k):
    return sum(1 for rel, top in zip(relevant, hits) if any(h in rel for h in top[:k])) / len(relevant)


def jmteb_mrr(relevant, hits, k):
    total = 0
    for rel, top in zip(relevant, hits):
        for rank, hit in enumerate(top[:k], start=1):
            if hit in rel:
                total += 1.0 / rank
                break
    return total / len(relevant)


def jmteb_ndcg(relevant, hits, k):
    total = 0
    for rel, top in zip(relevant, hits):
        dcg = 0
        for rank, hit in enumerate(top[:k], start=1):
            if hit in rel:
                dcg += 1.0 / np.log2(rank + 1)
        total += dcg / sum([1 / np.log2(rank + 1) for rank in range(1, len(rel) + 1)])
    return total / len(relevant)


def jmteb_rerank_ndcg(candidates, grades, reranked, k):
    total = 0
    for docs, scores, order in zip(candidates, grades, reranked):
        dcg = 0
        for rank, doc in enumerate(order[:k], start=1):
            dcg += scores[docs.index(doc)] / np.log2(rank + 1)
        total += dcg / sum([g / np.log2(r + 1) for r, g in enumerate(sorted(scores)[::-1][:k], start=1)])
    return total / len(candidates)


# ------------------------------------------------------------------------------------------ data ----
def tied_corpus():
    """40 integer vectors, each the text of three documents (ids d000..d119): every score ties three ways,
    and integer dot products tie across different vectors too. Queries are relevant to a triple's first copy."""
    rng = np.random.default_rng(5)
    base = rng.integers(-2, 3, size=(40, 4)).astype(np.float32)
    docs = np.repeat(base, 3, axis=0)
    queries = rng.integers(-2, 3, size=(30, 4)).astype(np.float32)
    relevant = [[f"d{3 * ((7 * i) % 40):03d}"] for i in range(30)]
    return queries, docs, [f"d{i:03d}" for i in range(120)], relevant


@pytest.mark.parametrize("name", ["cosine", "dot", "euclidean_jmteb_retrieval"])
@pytest.mark.parametrize("max_top_k, chunk", [(10, 1_000_000), (50, 1_000_000), (10, 25), (50, 7)])
def test_jmteb_top_k_is_jmtebs_ranking(name, max_top_k, chunk):
    queries, docs, _, _ = tied_corpus()
    idx, _ = jmteb_top_k(queries, docs, max_top_k, name, chunk_size=chunk)
    assert idx.tolist() == jmteb_retrieval_ranking(queries, docs, max_top_k, chunk, name)


def test_jmteb_cuts_at_the_number_of_queries():
    queries, docs, _, _ = tied_corpus()
    idx, _ = jmteb_top_k(queries[:5], docs, 10, "dot", chunk_size=1_000_000)
    assert idx.shape == (5, 5)  # JMTEB's min(max_top_k, number of queries), sic


def test_ties_differ_from_the_id_rule_so_the_test_has_teeth():
    queries, docs, ids, _ = tied_corpus()
    jmteb = jmteb_retrieval_ranking(queries, docs, 50, 1_000_000, "dot")
    by_id, _ = top_k(queries, docs, 50, "dot", chunk_size=1_000_000, tie_rank=np.arange(120), device="cpu")
    assert jmteb != by_id.tolist()


@pytest.mark.parametrize("name", ["cosine", "dot"])
@pytest.mark.parametrize("accuracy_at, chunk", [([1, 3, 5, 10], 1_000_000), ([1, 3, 5, 10, 20, 30, 50], 25)])
def test_retrieval_family_equals_jmteb_on_duplicates_and_ties(tiny, name, accuracy_at, chunk):
    queries, docs, ids, relevant = tied_corpus()
    texts = {f"doc text {i // 3}": docs[i].tolist() for i in range(120)}
    texts.update({f"query {i}": queries[i].tolist() for i in range(30)})
    split = [{"query": f"query {i}", "relevant_docs": relevant[i]} for i in range(30)]
    task = tiny.make("tie_retrieval", "retrieval", "Retrieval", {
        "validation": split, "test": split,
        "corpus": [{"docid": ids[i], "text": f"doc text {i // 3}"} for i in range(120)]}, splits=SPLITS,
        protocols={"jmteb": {"similarities": [name], "chunk_size": chunk, "accuracy_at": accuracy_at}})
    out = tiny.run(task, texts)
    top = max(accuracy_at)
    hits = [[ids[j] for j in row] for row in jmteb_retrieval_ranking(queries, docs, top, chunk, name)]
    expected = {**{f"accuracy@{k}": jmteb_accuracy(relevant, hits, k) for k in accuracy_at},
                "ndcg@10": jmteb_ndcg(relevant, hits, 10), f"mrr@{top}": jmteb_mrr(relevant, hits, top)}
    test = out.details["test_scores"][{"cosine": "cosine_similarity", "dot": "dot_score"}[name]]
    assert test == expected  # keys in JMTEB's order and every value to the last bit
    assert out.metric_value == expected["ndcg@10"]


def test_reranking_family_equals_jmteb_on_duplicates_and_ties(tiny):
    # 60 documents, pairs of identical texts; candidate lists of 12 (ties keep list order in JMTEB) and 20
    # (argsort permutes them), listed in reverse id order so that list order and id order disagree.
    rng = np.random.default_rng(11)
    base = rng.integers(-2, 3, size=(30, 4)).astype(np.float32)
    ids = [f"r{i:02d}" for i in range(60)]
    vectors = {f"rdoc {i // 2}": base[i // 2].tolist() for i in range(60)}
    queries = rng.integers(-2, 3, size=(16, 4)).astype(np.float32)
    vectors.update({f"rq {i}": queries[i].tolist() for i in range(16)})
    rows = []
    for i in range(16):
        n = 12 if i % 2 else 20
        docs = [ids[(5 * i + j) % 60] for j in range(n)][::-1]
        rows.append({"query": f"rq {i}", "retrieved_docs": docs,
                     "relevance_scores": [int(g) for g in rng.integers(0, 4, size=n - 1)] + [3]})
    corpus = [{"docid": ids[i], "text": f"rdoc {i // 2}"} for i in range(60)]
    task = tiny.make("tie_reranking", "reranking", "Reranking", {"validation": rows, "test": rows,
                                                                  "corpus": corpus}, splits=SPLITS,
                     protocols={"jmteb": {"similarities": ["dot"]}, "card": {"similarities": ["dot"]}})
    emb = {doc: np.asarray(vectors[f"rdoc {int(doc[1:]) // 2}"], np.float32) for doc in ids}
    reranked = []
    for i, row in enumerate(rows):
        candidates = np.stack([emb[d] for d in row["retrieved_docs"]])
        order = jmteb_rerank_order(queries[i], candidates, "dot")
        assert jmteb_rerank(queries[i], candidates, "dot").tolist() == order
        reranked.append([row["retrieved_docs"][j] for j in order])
    out = tiny.run(task, vectors)
    expected = {f"ndcg@{k}": jmteb_rerank_ndcg([r["retrieved_docs"] for r in rows],
                                               [r["relevance_scores"] for r in rows], reranked, k)
                for k in (10, 20, 40)}
    assert out.details["test_scores"]["dot_score"] == expected
    # the card protocol keeps its own rule (ties by document id), which orders these lists otherwise
    card = tiny.run(task, vectors, protocol="card").details["test_scores"]["dot"]["ndcg@10"]
    assert card != expected["ndcg@10"]


def test_sentence_transformers_and_trec_keep_their_tie_rules(tiny):
    queries, docs, ids, relevant = tied_corpus()
    # sentence-transformers (nanobeir, card, the extras): score descending, then document id ascending
    idx, scores = top_k(queries, docs, 10, "dot", chunk_size=7, tie_rank=np.arange(120), device="cpu")
    full = queries @ docs.T
    for row in range(len(queries)):
        assert idx[row].tolist() == sorted(range(120), key=lambda j: (-full[row, j], ids[j]))[:10]
    assert rerank(queries[0], docs[:6], "dot", np.arange(6)).tolist() == \
        sorted(range(6), key=lambda j: (-full[0, j], j))
    # MTEB: pytrec_eval orders the run itself (score, then document id descending), whatever our order
    texts = {f"doc text {i // 3}": docs[i].tolist() for i in range(120)}
    texts.update({f"query {i}": queries[i].tolist() for i in range(30)})
    task = tiny.make("tie_trec", "retrieval", "Retrieval", {
        "test": [{"qid": f"q{i}", "query": f"query {i}", "relevant_docs": relevant[i]} for i in range(30)],
        "corpus": [{"docid": ids[i], "text": f"doc text {i // 3}"} for i in range(120)]},
        splits={"test": "test"}, protocols={"mteb": {"similarity": "dot", "k_values": [1, 3, 5, 10, 20, 100, 120]}})
    out = tiny.run(task, texts, protocol="mteb")
    run = {f"q{i}": {ids[j]: float(full[i, j]) for j in range(120)} for i in range(30)}
    qrels = {f"q{i}": {relevant[i][0]: 1} for i in range(30)}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10"}).evaluate(run)
    expected = round(sum(per_query[f"q{i}"]["ndcg_cut_10"] for i in range(30)) / 30, 5)
    assert out.details["test_scores"]["dot"]["ndcg_at_10"] == expected


@pytest.mark.parametrize("with_qid", [True, False])
def test_mteb_ignore_identical_ids_only_where_query_ids_are_real(tiny, with_qid):
    # The document "0" is the query itself (same vector, rank 1); the relevant document ranks 2nd.
    vectors = {"query zero": [1, 0], "the query's twin": [1, 0], "the answer": [0.9, 0.1], "noise": [0, 1]}
    query = {"query": "query zero", "relevant_docs": ["a"], **({"qid": "0"} if with_qid else {})}
    corpus = [{"docid": "0", "text": "the query's twin"}, {"docid": "a", "text": "the answer"},
              {"docid": "n", "text": "noise"}]
    task = tiny.make(f"ignore_ids_{with_qid}", "retrieval", "Retrieval", {"test": [query], "corpus": corpus},
                     splits={"test": "test"}, protocols={"mteb": {"ignore_identical_ids": True}})
    out = tiny.run(task, vectors, protocol="mteb")
    if with_qid:  # MTEB pops the hit whose id is the query's: the answer is first
        assert out.details["ignore_identical_ids"] == "applied"
        assert out.metric_value == 1.0
    else:  # the query id is its row number "0": it names no document, nothing is popped
        assert out.details["ignore_identical_ids"] == "not applied: the query ids are row numbers"
        assert out.metric_value == round(1 / np.log2(3), 5)
