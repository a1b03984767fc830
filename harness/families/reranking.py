"""Reranking: order each query's own candidate list by embedding similarity.

Schema (JMTEB hub): query rows `query`, `retrieved_docs` (candidate doc ids), `relevance_scores` (int
grade per candidate, same length); corpus rows `docid`, `text` (optional `title`).

Protocol `jmteb` (JMTEB 1.4 `evaluators/reranking`): cosine, dot and 100/(L2+1e-4) on validation queries,
the best by nDCG@10 (first wins ties) reported on test; graded linear-gain nDCG@{10,20,40} with an IDCG
from the grades sorted descending and truncated at k; map@10 and mrr@10 (binary, grade > 0) are harness
extras. Each candidate list is ordered as JMTEB orders it (harness.search.jmteb_rerank: the similarity in
float32, torch.argsort descending, unstable: ties keep list order in lists of up to 16, not beyond).
Protocol `card` breaks ties by document id (sorted order), not by list position.
Other candidate layouts (field `candidates`), for the model cards' original protocols:
- `positive_negatives` (JaCWIR `eval`): query rows `query`, `positive` (one doc id), `negatives` (doc ids);
  the candidates are the positive (grade 1) and the negatives (grade 0), documents from the corpus;
- `grouped_rows` (JQaRA): one row per (question, passage) with `q_id`, `question`, `passage_row_id`,
  `title`, `text`, `label`; the rows of one `q_id` are its candidates and there is no corpus file.
Protocol `card`: cosine only, one split, nDCG@10 / MAP@10 / MRR@10 with binary labels (the cards' ranx runs).
Differences from JMTEB, all explicit:
- only documents that occur in some candidate list are embedded (JMTEB embeds the whole corpus; the
  scores are the same);
- queries whose candidates are all irrelevant (IDCG = 0, where JMTEB divides by zero) are dropped and
  counted in details; JMTEB's published datasets already removed them;
- a candidate listed twice in one query is bad input here (JMTEB would score both copies with the grade
  of the first), as is a candidate id missing from the corpus or a duplicate corpus id.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.data import Rows, numbered
from harness.errors import HarnessError
from harness.families.base import Context, Outcome, Protocol, family, pick_best, variant_details, with_per_item
from harness.families.checks import grade, texts_of
from harness.families.corpus import DOC_TEXT, Corpus, doc_text, load_corpus, rank_ids
from harness.params import Params
from harness.scoring.reranking import jmteb_rerank_metrics
from harness.search import SIMILARITIES, jmteb_rerank, rerank
from harness.spec import TaskSpec
from harness.vocab import Vocab

COLUMNS = ("query", "retrieved_docs", "relevance_scores")
LAYOUT = Vocab.of("candidates", ("lists", "positive_negatives", "grouped_rows"))
SELECTION = "optimal_distance_metric"
JMTEB_NAMES = {"cosine": "cosine_similarity", "dot": "dot_score", "euclidean_jmteb_retrieval": "euclidean_distance"}


@dataclass(frozen=True)
class SelectedParams(Params):
    """JMTEB: each similarity on validation queries, the best by `main_metric` reported on test."""

    protocol: ClassVar[str] = "jmteb"
    variant_names: ClassVar[dict[str, str]] = JMTEB_NAMES  # how score files name the similarities
    main_metric: str = "ndcg@10"
    select_on: str | None = "validation"  # null: choose on the reported split itself
    split: str = "test"
    similarities: tuple[str, ...] = ("cosine", "dot", "euclidean_jmteb_retrieval")
    ndcg_at: tuple[int, ...] = (10, 20, 40)
    doc_text: str = "text"
    candidates: str = "lists"

    def metric_names(self) -> tuple[str, ...]:
        """JMTEB reports nDCG only (MAP@10 and MRR@10 go to `extra_scores`)."""
        return tuple(f"ndcg@{k}" for k in self.ndcg_at)

    def validate(self, where: str) -> None:
        SIMILARITIES.check_all(self.similarities, f"{where}: field 'similarities'")
        LAYOUT.check(self.candidates, f"{where}: field 'candidates'")
        DOC_TEXT.check(self.doc_text, f"{where}: field 'doc_text'")
        if any(k < 1 for k in self.ndcg_at) or not self.ndcg_at:
            raise HarnessError(f"{where}: field 'ndcg_at' must hold positive integers, got {list(self.ndcg_at)}")
        if self.candidates == "grouped_rows" and self.select_on not in (None, self.split):
            raise HarnessError(f"{where}: 'grouped_rows' scores one split; set select_on: null")
        super().validate(where)


@dataclass(frozen=True)
class CardParams(SelectedParams):
    """The cards' ranx runs: cosine only, one split, binary-label nDCG@10 / MAP@10 / MRR@10."""

    protocol: ClassVar[str] = "card"
    variant_names: ClassVar[dict[str, str]] = {}
    select_on: str | None = None
    similarities: tuple[str, ...] = ("cosine",)
    ndcg_at: tuple[int, ...] = (10,)
    doc_text: str = "title_text"

    def metric_names(self) -> tuple[str, ...]:
        return (*super().metric_names(), "map@10", "mrr@10")


@dataclass
class Queries:
    texts: list[str]
    candidates: list[list[str]]
    grades: list[dict[str, int]]
    dropped: int  # queries without any relevant candidate, removed


def _candidate_lists(task: TaskSpec, role: str, ctx: Context, layout: str) -> tuple[list[dict], list, list, str]:
    """Rows, candidate id lists and grade lists of one split, in the JMTEB or the JaCWIR layout."""
    if layout == "lists":
        rows = ctx.data.rows(task, role, COLUMNS)
        where = ctx.data.where(task, role)
        docs_col, grades_col = task.column("retrieved_docs"), task.column("relevance_scores")
        return rows, [row[docs_col] for row in rows], [row[grades_col] for row in rows], where
    rows = ctx.data.rows(task, role, ("query", "positive", "negatives"))
    where = ctx.data.where(task, role)
    docs, grades = [], []
    for number, row in numbered(rows):
        negatives = row[task.column("negatives")]
        if not isinstance(negatives, list):
            raise HarnessError(f"{where}:{number}: column '{task.column('negatives')}' must be a list of ids")
        docs.append([row[task.column("positive")], *negatives])
        grades.append([1] + [0] * len(negatives))
    return rows, docs, grades, where


def load_queries(task: TaskSpec, role: str, ctx: Context, known: dict[str, int], layout: str = "lists") -> Queries:
    rows, all_docs, all_grades, where = _candidate_lists(task, role, ctx, layout)
    texts = texts_of(rows, task.column("query"), where)
    docs_col = task.column("retrieved_docs" if layout == "lists" else "negatives")
    grades_col = task.column("relevance_scores" if layout == "lists" else "negatives")
    kept = Queries([], [], [], 0)
    for (number, _), docs, grades, text in zip(numbered(rows), all_docs, all_grades, texts):
        if not isinstance(docs, list) or not docs:
            raise HarnessError(f"{where}:{number}: column '{docs_col}' must be a non-empty list of document ids")
        if not isinstance(grades, list) or len(grades) != len(docs):
            raise HarnessError(f"{where}:{number}: column '{grades_col}' must be a list of {len(docs)} ints "
                               f"(one per entry of '{docs_col}')")
        ids = [str(d) for d in docs]
        for value in grades:
            grade(value, where, number, grades_col)
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


def load_grouped(task: TaskSpec, role: str, ctx: Context, mode: str) -> tuple[Queries, Corpus]:
    """JQaRA's flat layout: each row is one (question, candidate passage, label); rows grouped by `q_id`."""
    columns = ("q_id", "question", "passage_row_id", "text", "label")
    rows = ctx.data.rows(task, role, columns)
    where = ctx.data.where(task, role)
    groups: dict[str, dict[str, Any]] = {}
    doc_ids, doc_texts = [], []
    for number, row in numbered(rows):
        qid = str(row[task.column("q_id")])
        doc = f"{qid}/{row[task.column('passage_row_id')]}"
        label = grade(row[task.column("label")], where, number, task.column("label"))
        group = groups.setdefault(qid, {"question": row[task.column("question")], "number": number,
                                        "grades": {}})
        if doc in group["grades"]:
            raise HarnessError(f"{where}:{number}: passage '{doc}' is listed twice for question '{qid}'")
        group["grades"][doc] = label
        doc_ids.append(doc)
        doc_texts.append(doc_text(row, task, mode))
    kept = Queries([], [], [], 0)
    column = task.column("question")
    questions = texts_of(Rows((g["number"], {column: g["question"]}) for g in groups.values()), column, where)
    for text, group in zip(questions, groups.values()):
        if not any(g > 0 for g in group["grades"].values()):
            kept.dropped += 1
            continue
        kept.texts.append(text)
        kept.candidates.append(list(group["grades"]))
        kept.grades.append(group["grades"])
    if not kept.texts:
        raise HarnessError(f"{where}: no question of task {task.name} has a relevant passage")
    return kept, Corpus(doc_ids, doc_texts, rank_ids(doc_ids)[0], [line for line, _ in numbered(rows)])


def _rank(q_emb: np.ndarray, queries: Queries, doc_emb: np.ndarray, row_of: dict[str, int],
          corpus: Corpus, corpus_pos: dict[str, int], similarity: str, jmteb_order: bool) -> list[list[str]]:
    ranked = []
    for i, candidates in enumerate(queries.candidates):
        rows = [row_of[c] for c in candidates]
        if jmteb_order:
            order = jmteb_rerank(q_emb[i], doc_emb[rows], similarity)
        else:
            order = rerank(q_emb[i], doc_emb[rows], similarity, corpus.id_rank[[corpus_pos[c] for c in candidates]])
        ranked.append([candidates[j] for j in order])
    return ranked


def evaluate(task: TaskSpec, params: SelectedParams, ctx: Context) -> Outcome:
    main = params.main_metric
    layout = params.candidates
    roles = list(dict.fromkeys(r for r in (params.select_on, params.split) if r))
    if layout == "grouped_rows":
        queries_one, corpus = load_grouped(task, roles[0], ctx, params.doc_text)
        queries = {roles[0]: queries_one}
        corpus_pos = {doc: i for i, doc in enumerate(corpus.ids)}
    else:
        corpus, _ = load_corpus(task, ctx, params.doc_text)  # duplicate ids and an empty corpus fail here
        corpus_pos = {doc: i for i, doc in enumerate(corpus.ids)}
        queries = {role: load_queries(task, role, ctx, corpus_pos, layout) for role in roles}

    # Embed each candidate document once, in corpus order.
    wanted = {c for q in queries.values() for cands in q.candidates for c in cands}
    used = [i for i, doc in enumerate(corpus.ids) if doc in wanted]
    texts = [corpus.texts[i] for i in used]
    where = ctx.data.where(task, "corpus")
    for i in used:
        if not corpus.texts[i].strip():
            raise HarnessError(f"{where}:{corpus.lines[i]}: document '{corpus.ids[i]}' has no text")
    doc_emb = ctx.encode(texts, "document")
    row_of = {corpus.ids[i]: r for r, i in enumerate(used)}
    q_emb = {role: ctx.encode(q.texts, "query") for role, q in queries.items()}

    reported = params.metric_names()

    @functools.cache  # the chosen split is ranked for its metrics and again for the per-query values
    def ranking(role: str, similarity: str) -> list[list[str]]:
        return _rank(q_emb[role], queries[role], doc_emb, row_of, corpus, corpus_pos, similarity,
                     jmteb_order=params.protocol == "jmteb")

    def metrics(role: str, similarity: str) -> tuple[dict[str, float], dict[str, float]]:
        """(the protocol's metrics, the harness's extras) of one split under one similarity."""
        scores = jmteb_rerank_metrics(ranking(role, similarity), queries[role].grades, ndcg_at=params.ndcg_at)
        return ({k: v for k, v in scores.items() if k in reported},
                {k: v for k, v in scores.items() if k not in reported})

    select = params.select_on or params.split
    val = {sim: metrics(select, sim) for sim in params.similarities}
    val_scores = {sim: scores for sim, (scores, _) in val.items()}
    chosen = pick_best(val_scores, main)
    test, extras = val[chosen] if select == params.split else metrics(params.split, chosen)
    # the main metric per query (its mean is the score), for bootstrap intervals in reports
    per_query = [jmteb_rerank_metrics([r], [g], ndcg_at=params.ndcg_at)[main]
                 for r, g in zip(ranking(params.split, chosen), queries[params.split].grades)]
    details = variant_details(SELECTION, chosen, val_scores, {chosen: test}, params.variant_names,
                              extra_scores={chosen: extras} if extras else {},
                              queries={role: len(q.texts) for role, q in queries.items()},
                              dropped_all_irrelevant_queries={role: q.dropped for role, q in queries.items()},
                              documents_embedded=len(used))
    return Outcome(main, test[main], with_per_item(details, "mean", values=per_query))


RERANKING = family("reranking",
                   Protocol("jmteb", SelectedParams, evaluate),
                   Protocol("card", CardParams, evaluate))
