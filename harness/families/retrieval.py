"""Retrieval: rank a whole corpus for each query.

Protocol `jmteb`: cosine, dot and 100/(L2+1e-4) scored on validation queries, the best by nDCG@10 reported
on test; nDCG with binary gains and an IDCG over *all* relevant documents; accuracy@k (hit rate), MRR@max_top_k;
ranked with JMTEB's own torch operations to its max_top_k = max(accuracy_at + ndcg_at) (harness.search:
ties fall as JMTEB's topk/argsort put them, so `chunk_size` = JMTEB's doc_chunk_size matters); recall@k and
MAP@k extras from a separate ranking (ties by id), named in `extra_scores_ranking`.
Protocol `mteb`: the model's similarity, pytrec_eval measures rounded to 5 decimals as MTEB does;
`ignore_identical_ids` (MTEB sets it for JaGovFaqs, JaCWIR, NLPJournalAbsArticle) drops a hit whose document id
equals the query id, and only where query ids come from the data (a row number is no id).
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
from typing import ClassVar

import numpy as np

from harness.data import kept, numbered
from harness.errors import HarnessError
from harness.families.base import (Context, Outcome, Protocol, family, main_value, pick_best, variant_details,
                                   with_per_item)
from harness.families.checks import grade, texts_of, unique_ids, warn_once
from harness.families.corpus import DOC_TEXT, Corpus, StreamedCorpus, load_corpus, stream_corpus
from harness.params import Params
from harness.scoring.retrieval import (answer_accuracy, extra_metrics, graded_ndcg, jmteb_metrics, st_metrics,
                                       trec_means, trec_per_query)
from harness.search import MODEL_SIMILARITIES, SIMILARITIES, jmteb_top_k, rerank, top_k
from harness.spec import TaskSpec
from harness.store import encode_to_disk
from harness.vocab import Vocab

RELEVANCE = Vocab.of("relevance", ("qrels", "answer_match"))
SELECTION = "optimal_distance_metric"
# JMTEB 1.4's names in score files (its "euclidean_distance" is 100 / (L2 + 1e-4))
JMTEB_NAMES = {"cosine": "cosine_similarity", "dot": "dot_score", "euclidean_jmteb_retrieval": "euclidean_distance"}
# Under protocol jmteb, where `extra_scores` come from (score files say it: they are not JMTEB's ranking).
EXTRAS_RANKING = "harness ranking: score descending, then document id ascending, to max(recall_at, map_at)"


def _positive(params: Params, where: str, *names: str) -> None:
    for name in names:
        values = params[name] if isinstance(params[name], tuple) else (params[name],)
        if not values or any(v < 1 for v in values):
            raise HarnessError(f"{where}: field '{name}' must hold positive integers, got {params.as_dict()[name]}")


@dataclass(frozen=True)
class _Shared(Params):
    doc_text: str = "text"  # text | title_text (title + " " + text, as MTEB, BEIR and most cards embed documents)
    chunk_size: int = 1_000_000  # documents scored at once: JMTEB's doc_chunk_size. Under protocol jmteb exactly
    # that (JMTEB's tie order depends on it); elsewhere bounded by memory, and it never changes a score
    split: str = "test"

    def validate(self, where: str) -> None:
        DOC_TEXT.check(self.doc_text, f"{where}: field 'doc_text'")
        _positive(self, where, "chunk_size")
        super().validate(where)


@dataclass(frozen=True)
class _OneSimilarity(_Shared):
    """Protocols that rank with one similarity: `similarity`, or the model's own when null."""

    def validate(self, where: str) -> None:
        if self["similarity"] is not None:
            MODEL_SIMILARITIES.check(self["similarity"], f"{where}: field 'similarity'")
        super().validate(where)


@dataclass(frozen=True)
class SelectedParams(_Shared):
    """JMTEB: each similarity ranked on validation queries, the best by `main_metric` reported on test. Ranked
    as JMTEB ranks (harness.search.jmteb_top_k) to JMTEB's max_top_k = max(accuracy_at + ndcg_at), which is
    also its MRR cut-off (mrr@10 in v1.3.3, mrr@50 with 1.4's accuracy_at: suites set it)."""

    protocol: ClassVar[str] = "jmteb"
    main_metric: str = "ndcg@10"
    select_on: str = "validation"
    similarities: tuple[str, ...] = ("cosine", "dot", "euclidean_jmteb_retrieval")
    ndcg_at: tuple[int, ...] = (10,)
    accuracy_at: tuple[int, ...] = (1, 3, 5, 10)
    recall_at: tuple[int, ...] = (1, 5, 10, 100)  # extras, from a ranking of their own (evaluate_selected)
    map_at: tuple[int, ...] = (10, 100)

    @property
    def max_top_k(self) -> int:
        return max((*self.accuracy_at, *self.ndcg_at))

    def metric_names(self) -> tuple[str, ...]:
        return (*(f"accuracy@{k}" for k in self.accuracy_at), *(f"ndcg@{k}" for k in self.ndcg_at),
                f"mrr@{self.max_top_k}")

    def validate(self, where: str) -> None:
        SIMILARITIES.check_all(self.similarities, f"{where}: field 'similarities'")
        _positive(self, where, "ndcg_at", "accuracy_at", "recall_at", "map_at")
        super().validate(where)


@dataclass(frozen=True)
class TrecParams(_OneSimilarity):
    """MTEB: pytrec_eval measures at `k_values`, means rounded to `round_to` decimals."""

    protocol: ClassVar[str] = "mteb"
    chunk_size: int = 50_000
    main_metric: str = "ndcg_at_10"
    select_on: None = None
    similarity: str | None = None
    k_values: tuple[int, ...] = (1, 3, 5, 10, 20, 100, 1000)
    ignore_identical_ids: bool = False
    round_to: int = 5

    def metric_names(self) -> tuple[str, ...]:
        return (*(f"{m}_at_{k}" for m in ("ndcg", "map", "recall", "precision") for k in self.k_values), "mrr")

    def validate(self, where: str) -> None:
        _positive(self, where, "k_values")
        super().validate(where)


@dataclass(frozen=True)
class EvaluatorParams(_OneSimilarity):
    """sentence-transformers' InformationRetrievalEvaluator (NanoBEIR)."""

    protocol: ClassVar[str] = "nanobeir"
    chunk_size: int = 50_000
    main_metric: str = "ndcg@10"
    select_on: None = None
    similarity: str | None = None
    drop_empty: bool = True
    accuracy_at: tuple[int, ...] = (1, 3, 5, 10)
    precision_recall_at: tuple[int, ...] = (1, 3, 5, 10)
    mrr_at: tuple[int, ...] = (10,)
    ndcg_at: tuple[int, ...] = (10,)
    map_at: tuple[int, ...] = (100,)
    name: str | None = None  # the dataset's name in NanoBEIREvaluator's keys (NanoSciFact, ...)

    def metric_names(self) -> tuple[str, ...]:
        return (*(f"accuracy@{k}" for k in self.accuracy_at), *(f"precision@{k}" for k in self.precision_recall_at),
                *(f"recall@{k}" for k in self.precision_recall_at), *(f"mrr@{k}" for k in self.mrr_at),
                *(f"ndcg@{k}" for k in self.ndcg_at), *(f"map@{k}" for k in self.map_at))

    def validate(self, where: str) -> None:
        _positive(self, where, "accuracy_at", "precision_recall_at", "mrr_at", "ndcg_at", "map_at")
        super().validate(where)


@dataclass(frozen=True)
class CardParams(_OneSimilarity):
    """The model cards' own retrieval evaluations (see the module docstring)."""

    protocol: ClassVar[str] = "card"
    chunk_size: int = 50_000
    main_metric: str = "ndcg@10"
    select_on: None = None
    similarity: str | None = None
    relevance: str = "qrels"
    min_grade: int = 1
    pool: str | None = None
    approximate: bool = False
    ndcg_at: tuple[int, ...] = (10,)
    recall_at: tuple[int, ...] = (1, 5, 10, 100)
    accuracy_at: tuple[int, ...] = (1, 5, 10, 50)
    mrr_at: int = 10
    map_at: tuple[int, ...] = (10, 100)

    def metric_names(self) -> tuple[str, ...]:
        accuracy = tuple(f"accuracy@{k}" for k in self.accuracy_at)
        if self.relevance == "answer_match":
            return accuracy
        return (*(f"ndcg@{k}" for k in self.ndcg_at), *accuracy, f"mrr@{self.mrr_at}",
                *(f"recall@{k}" for k in self.recall_at), *(f"map@{k}" for k in self.map_at))

    def validate(self, where: str) -> None:
        RELEVANCE.check(self.relevance, f"{where}: field 'relevance'")
        _positive(self, where, "ndcg_at", "recall_at", "accuracy_at", "mrr_at", "map_at")
        super().validate(where)


@dataclass
class Queries:
    ids: list[str]
    texts: list[str]
    relevant: list[dict[str, int]]
    ids_are_rows: bool = False  # the data has no query id column: ids are row numbers, never equal to a doc id


AnyCorpus = Corpus | StreamedCorpus  # both have ids, id_rank and texts_at


def corpus_for(task: TaskSpec, ctx: Context, mode: str, drop_empty: bool = False) -> tuple[AnyCorpus, set[str]]:
    """Streamed in the large-corpus mode (`encode.storage_dtype`), else in memory; and the dropped ids."""
    if ctx.storage_dtype:
        return stream_corpus(task, ctx, mode, drop_empty)
    return load_corpus(task, ctx, mode, drop_empty)


def load_queries(task: TaskSpec, role: str, ctx: Context, drop_empty: bool = False) -> Queries:
    if task.schema == "beir":
        return _beir_queries(task, ctx, drop_empty)
    rows = ctx.data.rows(task, role, ("query", "relevant_docs"))
    where = ctx.data.where(task, role)
    if drop_empty:
        rows = kept(rows, lambda row: row[task.column("query")] != "")
    texts = texts_of(rows, task.column("query"), where)
    relevant = []
    column = task.column("relevant_docs")
    for line, row in numbered(rows):
        docs = row[column]
        if isinstance(docs, dict):
            relevant.append({str(k): grade(v, where, line, column) for k, v in docs.items()})
        elif isinstance(docs, list):
            unique_ids(((line, str(d)) for d in docs), where, column, "document")  # JMTEB's IDCG counts the list
            relevant.append({str(d): 1 for d in docs})
        else:
            raise HarnessError(f"{where}:{line}: column '{column}' must be a list of document ids")
    qid = task.column("qid")
    ids_are_rows = any(qid not in row for row in rows)
    if ids_are_rows and any(qid in row for row in rows):  # a row position could equal another row's qid
        line = next(line for line, row in numbered(rows) if qid not in row)
        raise HarnessError(f"{where}:{line}: column '{qid}' is missing here but present in other rows")
    ids = [str(row.get(qid, n)) for n, row in enumerate(rows)]
    if not ids_are_rows:
        _unique_query_ids(rows, qid, where)
    return Queries(ids, texts, relevant, ids_are_rows=ids_are_rows)


def _unique_query_ids(rows: list[dict], column: str, where: str) -> None:
    unique_ids(((line, str(row[column])) for line, row in numbered(rows)), where, column, "query")


def _beir_queries(task: TaskSpec, ctx: Context, drop_empty: bool) -> Queries:
    qrels = _qrels(task, ctx)
    rows = ctx.data.rows(task, "queries", ("_id", "text"))
    where = ctx.data.where(task, "queries")
    _unique_query_ids(rows, task.column("_id"), where)
    rows = kept(rows, lambda row: str(row[task.column("_id")]) in qrels)  # BEIR evaluates judged queries
    if drop_empty:
        rows = kept(rows, lambda row: row[task.column("text")] != "")
    texts = texts_of(rows, task.column("text"), where)
    ids = [str(row[task.column("_id")]) for row in rows]
    return Queries(ids, texts, [qrels[i] for i in ids])


def _qrels(task: TaskSpec, ctx: Context) -> dict[str, dict[str, int]]:
    """{query id: {document id: grade}}; without a score column every row is relevant (grade 1). A pair judged
    twice is refused: the references keep one of the two grades, which one depends on the reader."""
    rows = ctx.data.rows(task, "qrels", ("query-id", "corpus-id"))
    where = ctx.data.where(task, "qrels")
    score, qid, doc = task.column("score"), task.column("query-id"), task.column("corpus-id")
    qrels: dict[str, dict[str, int]] = {}
    for line, row in numbered(rows):
        judged = qrels.setdefault(str(row[qid]), {})
        if str(row[doc]) in judged:
            raise HarnessError(f"{where}:{line}: query '{row[qid]}' judges document '{row[doc]}' a second time")
        judged[str(row[doc])] = grade(row[score], where, line, score) if score in row else 1
    return qrels


def check_relevant(task: TaskSpec, queries: Queries, corpus: AnyCorpus, ctx: Context, role: str,
                   dropped: set[str] = frozenset()) -> None:
    known = set(corpus.ids) | dropped
    for qid, rel in zip(queries.ids, queries.relevant):
        missing = [d for d in rel if d not in known]
        if missing:
            part = "qrels" if task.schema == "beir" else role
            raise HarnessError(f"{ctx.data.where(task, part)}: query '{qid}' names relevant document "
                               f"'{missing[0]}' that is not in the corpus ({ctx.data.where(task, 'corpus')})")


def encode_corpus(ctx: Context, corpus: AnyCorpus) -> np.ndarray:
    """In memory, or with `encode.storage_dtype` set, block by block from the streamed corpus into a disk
    memmap (harness.store)."""
    if ctx.storage_dtype is None:
        return ctx.encode(corpus.texts, "document")
    return encode_to_disk(lambda block: ctx.encode(block, "document"), corpus.stream_texts(), ctx.storage_dtype,
                          total=len(corpus.ids))


@dataclass
class Encoded:
    """A retrieval task read, checked and encoded: the corpus, each split's queries, and their vectors."""

    corpus: AnyCorpus
    queries: dict[str, Queries]
    doc_emb: np.ndarray
    q_emb: dict[str, np.ndarray]


def loaded(task: TaskSpec, params: _Shared, ctx: Context, roles: tuple[str | None, ...],
           drop_empty: bool = False) -> tuple[AnyCorpus, dict[str, Queries]]:
    """Corpus and the queries of `roles`, every relevant document checked against the corpus."""
    corpus, dropped = corpus_for(task, ctx, params.doc_text, drop_empty)
    queries = {role: load_queries(task, role, ctx, drop_empty) for role in dict.fromkeys(r for r in roles if r)}
    for role, q in queries.items():
        check_relevant(task, q, corpus, ctx, role, dropped)
        _some_relevant(task, q, ctx.data.where(task, "qrels" if task.schema == "beir" else role))
    return corpus, queries


def _some_relevant(task: TaskSpec, queries: Queries, where: str) -> None:
    """A split without any relevant judgement (grade > 0) scores 0 or NaN under every protocol: refused. Single
    queries without one are handled as each reference does (kept in JMTEB's mean, dropped by MTEB and the
    cards, relevant under nanobeir, which counts every qrels row) and counted in a warning."""
    empty = sum(1 for rel in queries.relevant if not any(g > 0 for g in rel.values()))
    if empty == len(queries.relevant):
        raise HarnessError(f"{where}: no query of task {task.name} has a relevant document (a grade > 0)")
    if empty:
        warn_once(f"{where}: {empty} of {len(queries.relevant)} queries of task {task.name} have no relevant "
                  f"document (a grade > 0)")


def encoded(task: TaskSpec, params: _Shared, ctx: Context, roles: tuple[str | None, ...],
            drop_empty: bool = False) -> Encoded:
    """`loaded` (everything read and checked before anything is encoded), then encoded."""
    return encode_loaded(ctx, *loaded(task, params, ctx, roles, drop_empty))


def encode_loaded(ctx: Context, corpus: AnyCorpus, queries: dict[str, Queries]) -> Encoded:
    doc_emb = encode_corpus(ctx, corpus)
    return Encoded(corpus, queries, doc_emb, {role: ctx.encode(q.texts, "query") for role, q in queries.items()})


def _search(ctx: Context, q_emb: np.ndarray, doc_emb: np.ndarray, corpus: AnyCorpus, depth: int, similarity: str,
            chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    return top_k(q_emb, doc_emb, depth, similarity, chunk_size=chunk_size, tie_rank=corpus.id_rank,
                 device=ctx.device)


def evaluate_selected(task: TaskSpec, params: SelectedParams, ctx: Context) -> Outcome:
    data = encoded(task, params, ctx, (params.select_on, params.split))
    top = params.max_top_k

    def metrics(role: str, similarity: str) -> tuple[dict[str, float], list[list[str]]]:
        # JMTEB's own ranking (its tie order included), always on CPU: harness.search
        idx, _ = jmteb_top_k(data.q_emb[role], data.doc_emb, top, similarity, chunk_size=params.chunk_size)
        ranked = [[data.corpus.ids[i] for i in row] for row in idx]
        scores = jmteb_metrics(ranked, data.queries[role].relevant, ndcg_at=params.ndcg_at,
                               accuracy_at=params.accuracy_at, mrr_at=top)
        return scores, ranked

    val_scores = {sim: metrics(params.select_on, sim)[0] for sim in params.similarities}
    chosen = pick_best(val_scores, params.main_metric)
    test, ranked = metrics(params.split, chosen)
    split = data.queries[params.split]
    # Recall and MAP are the harness's extras (JMTEB has neither) and reach deeper than JMTEB ranks (recall@100
    # with max_top_k 10): they come from a ranking of their own, ties by document id, so JMTEB's ranking above
    # is exactly JMTEB's whatever the extras ask for.
    depth = max((*params.recall_at, *params.map_at))
    deep, _ = _search(ctx, data.q_emb[params.split], data.doc_emb, data.corpus, depth, chosen, params.chunk_size)
    extras = extra_metrics([[data.corpus.ids[i] for i in row] for row in deep], split.relevant,
                           recall_at=params.recall_at, map_at=params.map_at)
    details = variant_details(SELECTION, chosen, val_scores, {chosen: test}, JMTEB_NAMES,
                              extra_scores={chosen: extras}, extra_scores_ranking=EXTRAS_RANKING)
    # the main metric per query (its mean is the score), for bootstrap intervals in reports
    per_query = [jmteb_metrics([r], [rel], ndcg_at=params.ndcg_at, accuracy_at=params.accuracy_at,
                               mrr_at=top)[params.main_metric] for r, rel in zip(ranked, split.relevant)]
    return Outcome(params.main_metric, test[params.main_metric],
                   with_per_item(details, "mean", ids=split.ids, values=per_query))


def evaluate_trec(task: TaskSpec, params: TrecParams, ctx: Context) -> Outcome:
    data = encoded(task, params, ctx, (params.split,))
    queries, q_emb, corpus = data.queries[params.split], data.q_emb[params.split], data.corpus
    similarity = params.similarity or ctx.encoder.config.similarity
    idx, scores = _search(ctx, q_emb, data.doc_emb, corpus, max(params.k_values), similarity, params.chunk_size)
    # MTEB pops a hit whose document id equals the query id (after the search, no backfill). A query id that is
    # a row number (JMTEB-schema data without a qid column) says nothing about documents: not applied there.
    ignore = params.ignore_identical_ids and not queries.ids_are_rows
    run, qrels = {}, {}
    for qi, qid in enumerate(queries.ids):
        if not any(v > 0 for v in queries.relevant[qi].values()):
            continue  # MTEB drops queries without positives
        hits = {corpus.ids[d]: float(s) for d, s in zip(idx[qi], scores[qi])}
        if ignore:
            hits.pop(qid, None)
        run[qid], qrels[qid] = hits, queries.relevant[qi]
    evaluated, per_query = trec_per_query(run, qrels, k_values=params.k_values)
    scores_all = trec_means(evaluated, per_query, round_to=params.round_to)
    asked = {"ignore_identical_ids": "applied" if ignore else "not applied: the query ids are row numbers"} \
        if params.ignore_identical_ids else {}
    details = variant_details(SELECTION, similarity, {}, {similarity: scores_all},
                              split=task.splits.get(params.split, params.split), queries=len(run), **asked)
    # unrounded per-query values of the main metric, for bootstrap intervals in reports
    values = per_query[params.main_metric]
    return Outcome(params.main_metric, scores_all[params.main_metric],
                   with_per_item(details, "mean", ids=evaluated, values=[values[q] for q in evaluated]))


def evaluate_st(task: TaskSpec, params: EvaluatorParams, ctx: Context) -> Outcome:
    data = encoded(task, params, ctx, (params.split,), drop_empty=params.drop_empty)
    queries, q_emb, corpus = data.queries[params.split], data.q_emb[params.split], data.corpus
    similarity = params.similarity or ctx.encoder.config.similarity
    keep = [i for i, rel in enumerate(queries.relevant) if rel]  # every qrels row counts, score 0 included
    if any(0 in rel.values() for rel in queries.relevant):
        warn_once(f"task {task.name}: qrels rows of score 0 count as relevant under protocol nanobeir, as "
                  f"sentence-transformers' evaluator counts every qrels row")
    metric_k = {"accuracy_at": params.accuracy_at, "precision_recall_at": params.precision_recall_at,
                "mrr_at": params.mrr_at, "ndcg_at": params.ndcg_at, "map_at": params.map_at}
    depth = max(k for ks in metric_k.values() for k in ks)
    idx, _ = _search(ctx, q_emb[keep], data.doc_emb, corpus, depth, similarity, params.chunk_size)
    ranked = [[corpus.ids[i] for i in row] for row in idx]
    scores = st_metrics(ranked, [queries.relevant[i] for i in keep], **metric_k)
    details = variant_details(SELECTION, similarity, {}, {similarity: scores}, queries=len(keep),
                              documents=len(corpus.ids))
    per_query = [st_metrics([r], [queries.relevant[i]], **metric_k)[params.main_metric] for r, i in zip(ranked, keep)]
    # the main metric under sentence-transformers' key name: <score function>_<metric>@k
    return Outcome(f"{similarity}_{params.main_metric}", scores[params.main_metric],
                   with_per_item(details, "mean", ids=[queries.ids[i] for i in keep], values=per_query))


def _pools(task: TaskSpec, params: CardParams, ctx: Context, qids: list[str],
           corpus: AnyCorpus) -> list[list[int]] | None:
    """Each query's candidate pool as corpus positions (None: no `pool`, the whole corpus), read and checked
    before anything is encoded."""
    if not params.pool:
        return None
    where = ctx.data.where(task, params.pool)
    qid_column, docs_column = task.column("qid"), task.column("docs")
    rows = ctx.data.rows(task, params.pool, ("qid", "docs"))
    unique_ids(((line, str(row[qid_column])) for line, row in numbered(rows)), where, qid_column, "query")
    pools = {}
    for line, row in numbered(rows):
        docs = row[docs_column]
        if not isinstance(docs, list):
            raise HarnessError(f"{where}:{line}: column '{docs_column}' must be a list of document ids")
        # a document twice in a pool would be ranked twice and counted twice as a hit
        unique_ids(((line, str(d)) for d in docs), where, docs_column, "document")
        pools[str(row[qid_column])] = (line, docs)
    position = {doc: i for i, doc in enumerate(corpus.ids)}
    candidates = []
    for qid in qids:
        if qid not in pools:
            raise HarnessError(f"{where}: no candidate pool for query '{qid}'")
        line, docs = pools[qid]
        positions = [position.get(str(d)) for d in docs]
        if None in positions:
            missing = docs[positions.index(None)]
            raise HarnessError(f"{where}:{line}: pool of query '{qid}' names document '{missing}' not in the corpus")
        candidates.append(positions)
    return candidates


def _card_rankings(params: CardParams, ctx: Context, q_emb, doc_emb, corpus: AnyCorpus, depth: int,
                   pools: list[list[int]] | None) -> list[list[int]]:
    similarity = params.similarity or ctx.encoder.config.similarity
    if pools is None:
        idx, _ = _search(ctx, q_emb, doc_emb, corpus, depth, similarity, params.chunk_size)
        return [list(row) for row in idx]
    rankings = []
    for qi, rows in enumerate(pools):
        order = rerank(q_emb[qi], doc_emb[rows], similarity, corpus.id_rank[rows])
        rankings.append([rows[j] for j in order[:depth]])
    return rankings


def evaluate_card(task: TaskSpec, params: CardParams, ctx: Context) -> Outcome:
    if params.relevance == "answer_match":
        return _evaluate_answers(task, params, ctx)
    corpus, by_role = loaded(task, params, ctx, (params.split,))
    queries = by_role[params.split]
    relevant = [{d: g for d, g in rel.items() if g >= params.min_grade} for rel in queries.relevant]
    keep = [i for i, rel in enumerate(relevant) if rel]  # queries without a positive cannot be scored
    if not keep:
        raise HarnessError(f"{ctx.data.where(task, 'qrels' if task.schema == 'beir' else params.split)}: no query "
                           f"of task {task.name} has a document of grade >= min_grade {params.min_grade}")
    pools = _pools(task, params, ctx, [queries.ids[i] for i in keep], corpus)
    data = encode_loaded(ctx, corpus, by_role)
    depth = max([*params.ndcg_at, *params.recall_at, *params.accuracy_at, params.mrr_at, *params.map_at])
    rankings = _card_rankings(params, ctx, data.q_emb[params.split][keep], data.doc_emb, corpus, depth, pools)
    ranked = [[corpus.ids[d] for d in row] for row in rankings]
    rel = [relevant[i] for i in keep]
    scores = {f"ndcg@{k}": graded_ndcg(ranked, rel, k) for k in params.ndcg_at}
    scores.update(jmteb_metrics(ranked, rel, ndcg_at=(), accuracy_at=params.accuracy_at, mrr_at=params.mrr_at))
    scores.update(extra_metrics(ranked, rel, recall_at=params.recall_at, map_at=params.map_at))
    similarity = params.similarity or ctx.encoder.config.similarity
    details = variant_details(SELECTION, similarity, {}, {similarity: scores},
                              split=task.splits.get(params.split, params.split), queries=len(keep),
                              dropped_queries_without_positive=len(relevant) - len(keep), pool=params.pool,
                              max_length=ctx.encoder.config.max_length, approximate=params.approximate)
    return Outcome(params.main_metric, main_value(task, scores, params.main_metric), details)


def _evaluate_answers(task: TaskSpec, params: CardParams, ctx: Context) -> Outcome:
    corpus, _ = corpus_for(task, ctx, params.doc_text)
    rows = ctx.data.rows(task, params.split, ("query", "answers"))
    where = ctx.data.where(task, params.split)
    texts = texts_of(rows, task.column("query"), where)
    answers = []
    for line, row in numbered(rows):
        value = row[task.column("answers")]
        if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
            raise HarnessError(f"{where}:{line}: column '{task.column('answers')}' must be a non-empty list "
                               f"of answer strings")
        answers.append(value)
    qids = [str(row.get(task.column("qid"), n)) for n, row in enumerate(rows)]
    pools = _pools(task, params, ctx, qids, corpus)
    doc_emb = encode_corpus(ctx, corpus)
    q_emb = ctx.encode(texts, "query")
    rankings = _card_rankings(params, ctx, q_emb, doc_emb, corpus, max(params.accuracy_at), pools)
    texts = corpus.texts_at(sorted({d for row in rankings for d in row}))  # a streamed corpus: only these
    scores = answer_accuracy([[texts[d] for d in row] for row in rankings], answers, params.accuracy_at)
    similarity = params.similarity or ctx.encoder.config.similarity
    details = variant_details(SELECTION, similarity, {}, {similarity: scores},
                              split=task.splits.get(params.split, params.split), questions=len(rows),
                              documents=len(corpus.ids), pool=params.pool, approximate=params.approximate)
    return Outcome(params.main_metric, main_value(task, scores, params.main_metric), details)


RETRIEVAL = family("retrieval",
                   Protocol("jmteb", SelectedParams, evaluate_selected),
                   Protocol("mteb", TrecParams, evaluate_trec),
                   Protocol("nanobeir", EvaluatorParams, evaluate_st),
                   Protocol("card", CardParams, evaluate_card))
