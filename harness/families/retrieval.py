"""Retrieval: rank a whole corpus for each query.

Protocol `jmteb`: cosine, dot and 100/(L2+1e-4) scored on validation queries, the best by nDCG@10 reported
on test; nDCG with binary gains and an IDCG over *all* relevant documents; accuracy@k (hit rate), MRR@k.
Protocol `mteb`: the model's similarity, pytrec_eval measures rounded to 5 decimals as MTEB does.
Protocol `nanobeir`: sentence-transformers 6.2's InformationRetrievalEvaluator (what NanoBEIREvaluator runs):
the model's similarity, top 100, ties by (score desc, id asc), binary relevance for every qrels row, empty
documents and queries dropped, queries without positives dropped; keys `<fn>_ndcg@10`, `<fn>_map@100`, ...
Protocol `card`: the model cards' own retrieval evaluations, one split and the model's similarity:
relevance from qrels (grade >= `min_grade`; nDCG with linear gain and an IDCG cut at k, recall@k, MRR@k,
MAP@k) or from answer strings (`relevance: answer_match`, AIO3: a question is answered at k when one of
the top k passages contains one of its `answers`); optionally ranked within a per-query candidate `pool`
(`<task>/<pool>.jsonl` rows `qid`, `docs`), and flagged `approximate` where the card's setting is unknown.
Recall@k and MAP@k are always reported as extras (JMTEB itself has neither).

With `encode.storage_dtype` set (large corpora) the corpus is streamed (harness.families.corpus): only its
ids stay in memory, queries and qrels are checked against them before anything is encoded, its texts go
from the file to the encoder to a disk memmap block by block, and answer matching reads back only the texts
of the ranked documents. Without it the corpus is read into memory, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.families.base import Context, Family, Outcome, pick_best, texts_of, with_per_item
from harness.families.corpus import Corpus, StreamedCorpus, load_corpus, stream_corpus
from harness.scoring.retrieval import (answer_accuracy, extra_metrics, graded_ndcg, jmteb_metrics, st_metrics,
                                       trec_means, trec_per_query)
from harness.search import rerank, top_k
from harness.store import encode_to_disk
from harness.taskspec import TaskSpec


@dataclass
class Queries:
    ids: list[str]
    texts: list[str]
    relevant: list[dict[str, int]]


AnyCorpus = Corpus | StreamedCorpus  # both have ids, id_rank and texts_at


def corpus_for(task: TaskSpec, ctx: Context, mode: str, drop_empty: bool = False) -> tuple[AnyCorpus, set[str]]:
    """Streamed in the large-corpus mode (`encode.storage_dtype`), else in memory; and the dropped ids."""
    if ctx.notes.get("storage_dtype"):
        return stream_corpus(task, ctx, mode, drop_empty)
    return load_corpus(task, ctx, mode, drop_empty)


def load_queries(task: TaskSpec, role: str, ctx: Context, drop_empty: bool = False) -> Queries:
    if task.schema == "beir":
        return _beir_queries(task, ctx, drop_empty)
    rows = ctx.data.rows(task, role, ("query", "relevant_docs"))
    where = ctx.data.where(task, role)
    if drop_empty:
        rows = [row for row in rows if row[task.column("query")] != ""]
    texts = texts_of(rows, task.column("query"), where)
    relevant = []
    for number, row in enumerate(rows, 1):
        docs = row[task.column("relevant_docs")]
        if isinstance(docs, dict):
            relevant.append({str(k): int(v) for k, v in docs.items()})
        elif isinstance(docs, list):
            relevant.append({str(d): 1 for d in docs})
        else:
            raise HarnessError(f"{where}:{number}: column 'relevant_docs' must be a list of document ids")
    ids = [str(row.get(task.column("qid"), n)) for n, row in enumerate(rows)]
    return Queries(ids, texts, relevant)


def _beir_queries(task: TaskSpec, ctx: Context, drop_empty: bool) -> Queries:
    qrels_rows = ctx.data.rows(task, "qrels", ("query-id", "corpus-id"))
    qrels: dict[str, dict[str, int]] = {}
    for row in qrels_rows:
        score = int(row.get(task.column("score"), 1))
        qrels.setdefault(str(row[task.column("query-id")]), {})[str(row[task.column("corpus-id")])] = score
    rows = ctx.data.rows(task, "queries", ("_id", "text"))
    rows = [row for row in rows if str(row[task.column("_id")]) in qrels]  # BEIR evaluates judged queries
    if drop_empty:
        rows = [row for row in rows if row[task.column("text")] != ""]
    texts = texts_of(rows, task.column("text"), ctx.data.where(task, "queries"))
    ids = [str(row[task.column("_id")]) for row in rows]
    return Queries(ids, texts, [qrels[i] for i in ids])


def check_relevant(task: TaskSpec, queries: Queries, corpus: AnyCorpus, ctx: Context, role: str,
                   dropped: set[str] = frozenset()) -> None:
    known = set(corpus.ids) | dropped
    for qid, rel in zip(queries.ids, queries.relevant):
        missing = [d for d in rel if d not in known]
        if missing:
            part = "qrels" if task.schema == "beir" else role
            raise HarnessError(f"{ctx.data.where(task, part)}: query '{qid}' names relevant document "
                               f"'{missing[0]}' that is not in the corpus ({ctx.data.where(task, 'corpus')})")


def encode_corpus(ctx: Context, corpus: AnyCorpus, task: TaskSpec) -> np.ndarray:
    """In memory, or with `encode.storage_dtype` set, block by block from the streamed corpus into a disk
    memmap (harness.store)."""
    storage = ctx.notes.get("storage_dtype")
    if storage is None:
        return ctx.encoder.encode(corpus.texts, role="document", task=task)

    def encode(block: list[str]) -> np.ndarray:
        return ctx.encoder.encode(block, role="document", task=task)

    return encode_to_disk(encode, corpus.stream_texts(), storage, total=len(corpus.ids))


def _ranked(queries_emb, corpus_emb, corpus: AnyCorpus, similarity: str, depth: int, params) -> list[list[str]]:
    idx, _ = top_k(queries_emb, corpus_emb, depth, similarity, chunk_size=params["chunk_size"],
                   tie_rank=corpus.id_rank)
    return [[corpus.ids[i] for i in row] for row in idx]


def evaluate(task: TaskSpec, params: dict[str, Any], ctx: Context) -> Outcome:
    if params.get("relevance") == "answer_match":
        return _evaluate_answers(task, params, ctx)
    drop_empty = params.get("drop_empty", False)
    corpus, dropped = corpus_for(task, ctx, params["doc_text"], drop_empty)
    roles = [r for r in (params["select_on"], params["split"]) if r]
    queries = {role: load_queries(task, role, ctx, drop_empty) for role in dict.fromkeys(roles)}
    for role, q in queries.items():
        check_relevant(task, q, corpus, ctx, role, dropped)
    doc_emb = encode_corpus(ctx, corpus, task)
    q_emb = {role: ctx.encoder.encode(q.texts, role="query", task=task) for role, q in queries.items()}
    if "k_values" in params:
        return _evaluate_mteb(task, params, ctx, queries[params["split"]], q_emb[params["split"]], doc_emb, corpus)
    if "precision_recall_at" in params:
        return _evaluate_st(params, ctx, queries[params["split"]], q_emb[params["split"]], doc_emb, corpus)
    if "relevance" in params:
        return _evaluate_card(task, params, ctx, queries[params["split"]], q_emb[params["split"]], doc_emb, corpus)
    depth = max([*params["ndcg_at"], *params["accuracy_at"], params["mrr_at"], *params["recall_at"],
                 *params["map_at"]])

    def metrics(role: str, similarity: str) -> tuple[dict[str, float], list[list[str]]]:
        ranked = _ranked(q_emb[role], doc_emb, corpus, similarity, depth, params)
        scores = jmteb_metrics(ranked, queries[role].relevant, ndcg_at=tuple(params["ndcg_at"]),
                               accuracy_at=tuple(params["accuracy_at"]), mrr_at=params["mrr_at"])
        return scores, ranked

    val_scores = {sim: metrics(params["select_on"], sim)[0] for sim in params["similarities"]}
    chosen = pick_best(val_scores, params["main_metric"])
    test, ranked = metrics(params["split"], chosen)
    extras = extra_metrics(ranked, queries[params["split"]].relevant, recall_at=tuple(params["recall_at"]),
                           map_at=tuple(params["map_at"]))
    details = {"optimal_similarity": chosen, "val_scores": val_scores, "test_scores": {chosen: test},
               "extra_scores": {chosen: extras}}
    split = queries[params["split"]]
    # the main metric per query (its mean is the score), for bootstrap intervals in reports
    per_query = [jmteb_metrics([r], [rel], ndcg_at=tuple(params["ndcg_at"]), accuracy_at=tuple(params["accuracy_at"]),
                               mrr_at=params["mrr_at"])[params["main_metric"]] for r, rel in zip(ranked, split.relevant)]
    return Outcome(params["main_metric"], test[params["main_metric"]],
                   with_per_item(details, "mean", ids=split.ids, values=per_query))


def _evaluate_mteb(task, params, ctx, queries: Queries, q_emb, doc_emb, corpus: AnyCorpus) -> Outcome:
    similarity = params["similarity"] or ctx.encoder.config.similarity
    depth = max(params["k_values"])
    idx, scores = top_k(q_emb, doc_emb, depth, similarity, chunk_size=params["chunk_size"],
                        tie_rank=corpus.id_rank)
    run, qrels = {}, {}
    for qi, qid in enumerate(queries.ids):
        if not any(v > 0 for v in queries.relevant[qi].values()):
            continue  # MTEB drops queries without positives
        hits = {corpus.ids[d]: float(s) for d, s in zip(idx[qi], scores[qi])}
        if params["ignore_identical_ids"]:
            hits.pop(qid, None)
        run[qid], qrels[qid] = hits, queries.relevant[qi]
    evaluated, per_query = trec_per_query(run, qrels, k_values=tuple(params["k_values"]))
    scores_all = trec_means(evaluated, per_query, round_to=params["round_to"])
    details = {"similarity": similarity, "split": task.splits.get(params["split"], params["split"]),
               "queries": len(run), "test_scores": scores_all}
    # unrounded per-query values of the main metric, for bootstrap intervals in reports
    values = per_query[params["main_metric"]]
    return Outcome(params["main_metric"], scores_all[params["main_metric"]],
                   with_per_item(details, "mean", ids=evaluated, values=[values[q] for q in evaluated]))


def _evaluate_st(params, ctx, queries: Queries, q_emb, doc_emb, corpus: AnyCorpus) -> Outcome:
    similarity = params["similarity"] or ctx.encoder.config.similarity
    keep = [i for i, rel in enumerate(queries.relevant) if rel]  # every qrels row counts, score 0 included
    metric_k = {"accuracy_at": params["accuracy_at"], "precision_recall_at": params["precision_recall_at"],
                "mrr_at": params["mrr_at"], "ndcg_at": params["ndcg_at"], "map_at": params["map_at"]}
    depth = max(k for ks in metric_k.values() for k in ks)
    idx, _ = top_k(q_emb[keep], doc_emb, depth, similarity, chunk_size=params["chunk_size"],
                   tie_rank=corpus.id_rank)
    ranked = [[corpus.ids[i] for i in row] for row in idx]
    scores = st_metrics(ranked, [queries.relevant[i] for i in keep], **metric_k)
    # sentence-transformers' key names: <score function>_<metric>@k
    named = {f"{similarity}_{key}": value for key, value in scores.items()}
    main = f"{similarity}_{params['main_metric']}"
    details = {"similarity": similarity, "queries": len(keep), "documents": len(corpus.ids), "test_scores": named}
    return Outcome(main, named[main], details)


def _card_rankings(task, params, ctx, qids: list[str], q_emb, doc_emb, corpus: AnyCorpus,
                   depth: int) -> list[list[int]]:
    similarity = params["similarity"] or ctx.encoder.config.similarity
    if not params["pool"]:
        idx, _ = top_k(q_emb, doc_emb, depth, similarity, chunk_size=params["chunk_size"],
                       tie_rank=corpus.id_rank)
        return [list(row) for row in idx]
    where = ctx.data.where(task, params["pool"])
    pools = {str(row[task.column("qid")]): row[task.column("docs")]
             for row in ctx.data.rows(task, params["pool"], ("qid", "docs"))}
    position = {doc: i for i, doc in enumerate(corpus.ids)}
    rankings = []
    for qi, qid in enumerate(qids):
        if qid not in pools:
            raise HarnessError(f"{where}: no candidate pool for query '{qid}'")
        rows = [position.get(str(d)) for d in pools[qid]]
        if None in rows:
            missing = pools[qid][rows.index(None)]
            raise HarnessError(f"{where}: pool of query '{qid}' names document '{missing}' not in the corpus")
        order = rerank(q_emb[qi], doc_emb[rows], similarity, corpus.id_rank[rows])
        rankings.append([rows[j] for j in order[:depth]])
    return rankings


def _evaluate_card(task, params, ctx, queries: Queries, q_emb, doc_emb, corpus: AnyCorpus) -> Outcome:
    relevant = [{d: g for d, g in rel.items() if g >= params["min_grade"]} for rel in queries.relevant]
    keep = [i for i, rel in enumerate(relevant) if rel]  # queries without a positive cannot be scored
    depth = max([*params["ndcg_at"], *params["recall_at"], *params["accuracy_at"], params["mrr_at"],
                 *params["map_at"]])
    rankings = _card_rankings(task, params, ctx, [queries.ids[i] for i in keep], q_emb[keep], doc_emb, corpus,
                              depth)
    ranked = [[corpus.ids[d] for d in row] for row in rankings]
    rel = [relevant[i] for i in keep]
    scores = {f"ndcg@{k}": graded_ndcg(ranked, rel, k) for k in params["ndcg_at"]}
    scores.update(jmteb_metrics(ranked, rel, ndcg_at=(), accuracy_at=tuple(params["accuracy_at"]),
                                mrr_at=params["mrr_at"]))
    scores.update(extra_metrics(ranked, rel, recall_at=tuple(params["recall_at"]), map_at=tuple(params["map_at"])))
    details = {"similarity": params["similarity"] or ctx.encoder.config.similarity,
               "split": task.splits.get(params["split"], params["split"]), "queries": len(keep),
               "dropped_queries_without_positive": len(relevant) - len(keep), "pool": params["pool"],
               "max_length": ctx.encoder.config.max_length, "approximate": params["approximate"],
               "test_scores": scores}
    return Outcome(params["main_metric"], scores[params["main_metric"]], details)


def _evaluate_answers(task: TaskSpec, params: dict[str, Any], ctx: Context) -> Outcome:
    corpus, _ = corpus_for(task, ctx, params["doc_text"])
    rows = ctx.data.rows(task, params["split"], ("query", "answers"))
    where = ctx.data.where(task, params["split"])
    texts = texts_of(rows, task.column("query"), where)
    answers = []
    for number, row in enumerate(rows, 1):
        value = row[task.column("answers")]
        if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
            raise HarnessError(f"{where}:{number}: column '{task.column('answers')}' must be a non-empty list "
                               f"of answer strings")
        answers.append(value)
    doc_emb = encode_corpus(ctx, corpus, task)
    q_emb = ctx.encoder.encode(texts, role="query", task=task)
    qids = [str(row.get(task.column("qid"), n)) for n, row in enumerate(rows)]
    rankings = _card_rankings(task, params, ctx, qids, q_emb, doc_emb, corpus, max(params["accuracy_at"]))
    texts = corpus.texts_at(sorted({d for row in rankings for d in row}))  # a streamed corpus: only these
    scores = answer_accuracy([[texts[d] for d in row] for row in rankings], answers, tuple(params["accuracy_at"]))
    details = {"similarity": params["similarity"] or ctx.encoder.config.similarity,
               "split": task.splits.get(params["split"], params["split"]), "questions": len(rows),
               "documents": len(corpus.ids), "pool": params["pool"], "approximate": params["approximate"],
               "test_scores": scores}
    return Outcome(params["main_metric"], scores[params["main_metric"]], details)


_SHARED = {"doc_text": "text", "chunk_size": 1_000_000, "split": "test"}
RETRIEVAL = Family(
    name="retrieval",
    protocols={
        "jmteb": {**_SHARED, "main_metric": "ndcg@10", "select_on": "validation",
                  "similarities": ["cosine", "dot", "euclidean_jmteb_retrieval"],
                  "ndcg_at": [10], "accuracy_at": [1, 3, 5, 10], "mrr_at": 10,
                  "recall_at": [1, 5, 10, 100], "map_at": [10, 100]},
        "mteb": {**_SHARED, "main_metric": "ndcg_at_10", "select_on": None, "similarity": None,
                 "k_values": [1, 3, 5, 10, 20, 100, 1000], "ignore_identical_ids": False, "round_to": 5,
                 "chunk_size": 50_000},
        "nanobeir": {**_SHARED, "main_metric": "ndcg@10", "select_on": None, "similarity": None,
                     "drop_empty": True, "accuracy_at": [1, 3, 5, 10], "precision_recall_at": [1, 3, 5, 10],
                     "mrr_at": [10], "ndcg_at": [10], "map_at": [100], "chunk_size": 50_000, "name": None},
        "card": {**_SHARED, "main_metric": "ndcg@10", "select_on": None, "similarity": None, "relevance": "qrels",
                 "min_grade": 1, "pool": None, "approximate": False, "ndcg_at": [10], "recall_at": [1, 5, 10, 100],
                 "accuracy_at": [1, 5, 10, 50], "mrr_at": 10, "map_at": [10, 100], "chunk_size": 50_000},
    },
    evaluate=evaluate,
)
