"""Reranking: order each query's own candidate list by embedding similarity.

Schema (JMTEB hub): query rows `query`, `retrieved_docs` (candidate doc ids), `relevance_scores` (int
grade per candidate, same length); corpus rows `docid`, `text` (optional `title`).

Protocol `jmteb` (JMTEB 1.4 `evaluators/reranking`): cosine, dot and 100/(L2+1e-4) on validation queries,
the best by nDCG@10 (first wins ties) reported on test; graded linear-gain nDCG@{10,20,40} with an IDCG
from the grades sorted descending and truncated at k; map@10 and mrr@10 (binary, grade > 0) are harness
extras. Ties in a candidate list are broken by document id (sorted order), not by list position.
Differences from JMTEB, all explicit:
- only documents that occur in some candidate list are embedded (JMTEB embeds the whole corpus; the
  scores are the same);
- queries whose candidates are all irrelevant (IDCG = 0, where JMTEB divides by zero) are dropped and
  counted in details; JMTEB's published datasets already removed them;
- a candidate listed twice in one query is bad input here (JMTEB would score both copies with the grade
  of the first), as is a candidate id missing from the corpus or a duplicate corpus id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import HarnessError, one_of
from harness.families.base import Context, Family, Outcome, pick_best, texts_of
from harness.families.retrieval import Corpus, load_corpus
from harness.scoring.reranking import jmteb_rerank_metrics
from harness.search import rerank
from harness.taskspec import TaskSpec

COLUMNS = ("query", "retrieved_docs", "relevance_scores")
SIMILARITIES = ("cosine", "dot", "euclidean_jmteb_retrieval", "euclidean")


@dataclass
class Queries:
    texts: list[str]
    candidates: list[list[str]]
    grades: list[dict[str, int]]
    dropped: int  # queries without any relevant candidate, removed


def load_queries(task: TaskSpec, role: str, ctx: Context, known: dict[str, int]) -> Queries:
    rows = ctx.data.rows(task, role, COLUMNS)
    where = ctx.data.where(task, role)
    texts = texts_of(rows, task.column("query"), where)
    docs_col, grades_col = task.column("retrieved_docs"), task.column("relevance_scores")
    kept = Queries([], [], [], 0)
    for number, (row, text) in enumerate(zip(rows, texts), 1):
        docs, grades = row[docs_col], row[grades_col]
        if not isinstance(docs, list) or not docs:
            raise HarnessError(f"{where}:{number}: column '{docs_col}' must be a non-empty list of document ids")
        if not isinstance(grades, list) or len(grades) != len(docs):
            raise HarnessError(f"{where}:{number}: column '{grades_col}' must be a list of {len(docs)} ints "
                               f"(one per entry of '{docs_col}')")
        ids = [str(d) for d in docs]
        for grade in grades:
            if isinstance(grade, bool) or not isinstance(grade, int) or grade < 0:
                raise HarnessError(f"{where}:{number}: column '{grades_col}' must hold non-negative ints, "
                                   f"got {type(grade).__name__} {grade!r}")
        if len(set(ids)) != len(ids):
            dup = next(i for n, i in enumerate(ids) if i in ids[:n])
            raise HarnessError(f"{where}:{number}: document '{dup}' is listed twice in column '{docs_col}'")
        missing = next((i for i in ids if i not in known), None)
        if missing is not None:
            raise HarnessError(f"{where}:{number}: candidate document '{missing}' is not in the corpus "
                               f"({ctx.data.where(task, 'corpus')})")
        if not any(g > 0 for g in grades):
            kept.dropped += 1  # IDCG = 0: JMTEB cannot score it, its datasets drop such queries
            continue
        kept.texts.append(text)
        kept.candidates.append(ids)
        kept.grades.append(dict(zip(ids, grades)))
    if not kept.texts:
        raise HarnessError(f"{where}: no query of task {task.name} has a relevant candidate "
                           f"({kept.dropped} all-irrelevant queries dropped)")
    return kept


def _rank(q_emb: np.ndarray, queries: Queries, doc_emb: np.ndarray, row_of: dict[str, int],
          corpus: Corpus, corpus_pos: dict[str, int], similarity: str) -> list[list[str]]:
    ranked = []
    for i, candidates in enumerate(queries.candidates):
        rows = [row_of[c] for c in candidates]
        tie = corpus.id_rank[[corpus_pos[c] for c in candidates]]
        order = rerank(q_emb[i], doc_emb[rows], similarity, tie)
        ranked.append([candidates[j] for j in order])
    return ranked


def evaluate(task: TaskSpec, params: dict[str, Any], ctx: Context) -> Outcome:
    for name in params["similarities"]:
        if name not in SIMILARITIES:
            raise one_of("similarity", name, list(SIMILARITIES), where=f"{task.file}: field 'similarities'")
    main = params["main_metric"]
    valid_main = [f"ndcg@{k}" for k in params["ndcg_at"]] + ["map@10", "mrr@10"]
    if main not in valid_main:
        raise one_of("main metric", main, valid_main, where=f"{task.file}: field 'main_metric'")
    corpus = load_corpus(task, ctx, params["doc_text"])  # duplicate ids and an empty corpus fail here
    corpus_pos = {doc: i for i, doc in enumerate(corpus.ids)}
    roles = list(dict.fromkeys(r for r in (params["select_on"], params["split"]) if r))
    queries = {role: load_queries(task, role, ctx, corpus_pos) for role in roles}

    # Embed each candidate document once, in corpus order.
    wanted = {c for q in queries.values() for cands in q.candidates for c in cands}
    used = [i for i, doc in enumerate(corpus.ids) if doc in wanted]
    texts = [corpus.texts[i] for i in used]
    where = ctx.data.where(task, "corpus")
    for i in used:
        if not corpus.texts[i].strip():
            raise HarnessError(f"{where}:{i + 1}: document '{corpus.ids[i]}' has no text")
    doc_emb = ctx.encoder.encode(texts, role="document", task=task)
    row_of = {corpus.ids[i]: r for r, i in enumerate(used)}
    q_emb = {role: ctx.encoder.encode(q.texts, role="query", task=task) for role, q in queries.items()}

    def metrics(role: str, similarity: str) -> dict[str, float]:
        ranked = _rank(q_emb[role], queries[role], doc_emb, row_of, corpus, corpus_pos, similarity)
        return jmteb_rerank_metrics(ranked, queries[role].grades, ndcg_at=tuple(params["ndcg_at"]))

    select = params["select_on"] or params["split"]
    val_scores = {sim: metrics(select, sim) for sim in params["similarities"]}
    chosen = pick_best(val_scores, main)
    test = val_scores[chosen] if select == params["split"] else metrics(params["split"], chosen)
    details = {"optimal_similarity": chosen, "val_scores": val_scores, "test_scores": {chosen: test},
               "queries": {role: len(q.texts) for role, q in queries.items()},
               "dropped_all_irrelevant_queries": {role: q.dropped for role, q in queries.items()},
               "documents_embedded": len(used)}
    return Outcome(main, test[main], details)


RERANKING = Family(
    name="reranking",
    protocols={
        "jmteb": {"main_metric": "ndcg@10", "select_on": "validation", "split": "test",
                  "similarities": ["cosine", "dot", "euclidean_jmteb_retrieval"], "ndcg_at": [10, 20, 40],
                  "doc_text": "text"},
    },
    evaluate=evaluate,
)
