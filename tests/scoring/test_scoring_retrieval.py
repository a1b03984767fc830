from __future__ import annotations

import json
import math

import numpy as np
import pytest
import pytrec_eval
import torch

try:  # sentence-transformers 6
    from sentence_transformers.sentence_transformer.evaluation.information_retrieval import (
        InformationRetrievalEvaluator,
    )
except ImportError:  # 5.x (the lock, constraints.txt)
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

from harness.scoring import retrieval as R

# 1/log2(r+1) for r = 1..13
D = [1 / math.log2(r + 1) for r in range(1, 14)]


# ------------------------------------------------------------------ helpers ----
def make_case(seed: int, n_q: int = 40, n_d: int = 300, ties: bool = False, graded: bool = False):
    """Random queries with 0..25 relevant docs (many > 10), some grade-0 qrels rows.

    Returns (ids, score matrix, qrels). Scores put relevant docs higher on
    average; with ties=True they are rounded to 1 decimal so many tie.
    """
    rng = np.random.default_rng(seed)
    ids = [f"d{i:04d}" for i in rng.permutation(n_d)]  # id order != index order
    scores = rng.normal(size=(n_q, n_d))
    qrels = []
    for q in range(n_q):
        n_rel = int(rng.integers(1, 26))
        docs = rng.choice(n_d, size=n_rel, replace=False)
        grades = rng.integers(1, 4, size=n_rel) if graded else np.ones(n_rel, dtype=int)
        rel = {ids[j]: int(g) for j, g in zip(docs, grades)}
        scores[q, docs] += 1.5 * grades
        for j in rng.choice(n_d, size=3, replace=False):  # judged non-relevant rows
            rel.setdefault(ids[j], 0)
        qrels.append(rel)
    scores = np.round(scores, 1) if ties else scores
    return ids, scores, qrels


def rankings(ids, scores, depth):
    return [[ids[j] for j in R.rank_ties(row, ids, depth)] for row in scores]


def positives_only(qrels):
    return [{d: g for d, g in rel.items() if g > 0} for rel in qrels]


def trec_per_query(run_lists, scores_lists, qrels, measures):
    qrel_d = {f"q{i}": {d: int(g) for d, g in rel.items()} for i, rel in enumerate(qrels)}
    run_d = {f"q{i}": dict(zip(docs, map(float, sc))) for i, (docs, sc) in enumerate(zip(run_lists, scores_lists))}
    res = pytrec_eval.RelevanceEvaluator(qrel_d, measures).evaluate(run_d)
    return [res[f"q{i}"] for i in range(len(qrels))]


def descending_scores(n):
    # strictly decreasing, so pytrec_eval keeps exactly our order (no ties)
    return [float(n - r) for r in range(n)]


def st_reference(ranked, relevant_sets, scores=None, **ks):
    """sentence-transformers' own compute_metrics on our rankings, flattened."""
    queries = {f"q{i}": "q" for i in range(len(ranked))}
    corpus = {d: "d" for docs in ranked for d in docs} or {"dummy": "d"}
    rel = {f"q{i}": set(r) for i, r in enumerate(relevant_sets)}
    ev = InformationRetrievalEvaluator(queries, corpus, rel, **ks)
    results = []
    for i, docs in enumerate(ranked):
        sc = descending_scores(len(docs)) if scores is None else scores[i]
        results.append([{"corpus_id": d, "score": s} for d, s in zip(docs, sc)])
    raw = ev.compute_metrics(results)
    return {name.replace("@k", f"@{k}"): float(v) for name, per_k in raw.items() for k, v in per_k.items()}


ST_KS = dict(accuracy_at=(1, 3, 5, 10), precision_recall_at=(1, 3, 5, 10), mrr_at=(10,), ndcg_at=(10, 20), map_at=(10, 100))
ST_REF_KS = dict(accuracy_at_k=[1, 3, 5, 10], precision_recall_at_k=[1, 3, 5, 10], mrr_at_k=[10], ndcg_at_k=[10, 20], map_at_k=[10, 100])


# -------------------------------------------------------------- hand values ----
def test_perfect_top10_with_12_relevant():
    relevant = [{f"r{i}": 1 for i in range(12)}]
    ranked = [[f"r{i}" for i in range(10)]]
    # JMTEB: IDCG over all 12 relevant, not truncated at 10
    # sum_{r=1..10} 1/log2(r+1) = 4.543641 ; + 1/log2(12) + 1/log2(13) = 5.092824 -> 0.892164
    expected = sum(D[:10]) / sum(D[:12])
    assert math.isclose(expected, 0.892164, abs_tol=1e-6)
    out = R.jmteb_metrics(ranked, relevant)
    assert math.isclose(out["ndcg@10"], expected, rel_tol=1e-12)
    assert out["accuracy@1"] == 1.0 and out["mrr@10"] == 1.0
    # ST and trec cap the ideal ranking at k=10 -> perfect score 1.0
    assert math.isclose(R.st_metrics(ranked, relevant)["ndcg@10"], 1.0, rel_tol=1e-12)
    run = {"q": {d: s for d, s in zip(ranked[0], descending_scores(10))}}
    assert R.trec_metrics(run, {"q": relevant[0]}, k_values=(10,))["ndcg_at_10"] == 1.0
    # recall@10 = 10/12 everywhere
    assert math.isclose(R.extra_metrics(ranked, relevant, recall_at=(10,))["recall@10"], 10 / 12)


def test_small_ranking_all_conventions():
    ranked = [["a", "x", "b", "y"]]
    relevant = [{"a": 1, "b": 1, "c": 1}]
    # hits at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5 ; IDCG(3 relevant) = 1 + 0.630930 + 0.5 = 2.130930
    ndcg = 1.5 / (1 + 1 / math.log2(3) + 0.5)  # 0.703918
    j = R.jmteb_metrics(ranked, relevant, ndcg_at=(4,), accuracy_at=(1, 2), mrr_at=4)
    assert math.isclose(j["ndcg@4"], ndcg, rel_tol=1e-12)
    assert j["accuracy@1"] == 1.0 and j["mrr@4"] == 1.0
    st = R.st_metrics(ranked, relevant, accuracy_at=(1,), precision_recall_at=(4,), mrr_at=(4,), ndcg_at=(4,), map_at=(2, 4))
    assert math.isclose(st["ndcg@4"], ndcg, rel_tol=1e-12)  # min(|R|=3, k=4) = 3, same IDCG
    assert st["precision@4"] == 2 / 4 and math.isclose(st["recall@4"], 2 / 3)
    # AP@4: precisions at hits 1/1 and 2/3 -> (1 + 0.6667) / min(4, 3) = 0.555556
    assert math.isclose(st["map@4"], (1 + 2 / 3) / 3)
    # AP@2: only the rank-1 hit (1/1); ST divides by min(2, 3) = 2 -> 0.5, trec by |R| = 3 -> 0.3333
    assert math.isclose(st["map@2"], 0.5)
    ex = R.extra_metrics(ranked, relevant, recall_at=(2,), map_at=(2, 4))
    assert math.isclose(ex["map@2"], 1 / 3) and math.isclose(ex["map@4"], (1 + 2 / 3) / 3)
    assert math.isclose(ex["recall@2"], 1 / 3)
    assert math.isclose(R.average_precision_at(ranked, relevant, 2, "min_k_r"), 0.5)
    assert math.isclose(R.average_precision_at(ranked, relevant, 2, "r"), 1 / 3)
    # first relevant at rank 3 of ["x","y","b"] -> rr = 1/3
    assert math.isclose(R.mrr([["x", "y", "b"]], relevant, 10), 1 / 3)
    assert R.mrr([["x", "y", "b"]], relevant, 2) == 0.0


def test_query_without_positives_stays_in_jmteb_denominator():
    # q0 perfect (ndcg 1), q1 has only a grade-0 judgement -> contributes 0: mean = (1 + 0) / 2
    out = R.jmteb_metrics([["a"], ["b"]], [{"a": 1}, {"b": 0}], ndcg_at=(10,), accuracy_at=(1,))
    assert out == {"ndcg@10": 0.5, "accuracy@1": 0.5, "mrr@10": 0.5}
    # st_metrics never crashes on |R| = 0 and gives that query 0
    st = R.st_metrics([["a"], ["b"]], [{"a": 1}, {}])
    assert st["ndcg@10"] == 0.5 and st["map@100"] == 0.5


def test_st_counts_grade_zero_rows_as_relevant():
    # ST's loader ignores the qrels score: 'b' (grade 0) at rank 1 is a hit for ST, not for JMTEB
    ranked, relevant = [["b", "a"]], [{"a": 1, "b": 0}]
    assert R.st_metrics(ranked, relevant)["accuracy@1"] == 1.0
    assert R.jmteb_metrics(ranked, relevant)["accuracy@1"] == 0.0


def test_graded_ndcg_hand_value_and_trec():
    # run b > a with grades a:2, b:1. DCG = 1/1 + 2/log2(3) = 2.261860 ; IDCG = 2/1 + 1/log2(3) = 2.630930
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))  # 0.859719 (linear gain, not 2^rel - 1)
    assert math.isclose(R.graded_ndcg([["b", "a"]], [{"a": 2, "b": 1}], 10), expected, rel_tol=1e-12)
    trec = pytrec_eval.RelevanceEvaluator({"q": {"a": 2, "b": 1}}, {"ndcg_cut.10"}).evaluate({"q": {"b": 2.0, "a": 1.0}})
    assert math.isclose(trec["q"]["ndcg_cut_10"], expected, rel_tol=1e-12)


# --------------------------------------------------- random vs pytrec_eval ----
def test_random_st_and_jmteb_vs_pytrec_binary_tie_free():
    ids, scores, qrels = make_case(seed=1)
    ranked = rankings(ids, scores, 100)
    pos = positives_only(qrels)
    assert max(len(p) for p in pos) > 10  # the case the notes single out
    run_scores = [descending_scores(len(r)) for r in ranked]
    measures = {"ndcg_cut.10", "map_cut.10,100", "recall.1,3,5,10", "P.1,3,5,10", "success.1,3,5,10", "recip_rank"}
    trec = trec_per_query(ranked, run_scores, pos, measures)
    trec10 = trec_per_query([r[:10] for r in ranked], run_scores, pos, {"recip_rank"})
    mean = lambda key, rows=trec: float(np.mean([row[key] for row in rows]))  # noqa: E731

    # ST on positives-only qrels equals trec where the notes say they agree
    st = R.st_metrics(ranked, pos, **ST_KS)
    assert math.isclose(st["ndcg@10"], mean("ndcg_cut_10"), rel_tol=1e-12)
    assert math.isclose(st["map@100"], mean("map_cut_100"), rel_tol=1e-12)  # |R| <= 100
    for k in (1, 3, 5, 10):
        assert math.isclose(st[f"recall@{k}"], mean(f"recall_{k}"), rel_tol=1e-12)
        assert math.isclose(st[f"precision@{k}"], mean(f"P_{k}"), rel_tol=1e-12)
        assert math.isclose(st[f"accuracy@{k}"], mean(f"success_{k}"), rel_tol=1e-12)
    assert math.isclose(st["mrr@10"], mean("recip_rank", trec10), rel_tol=1e-12)
    # ...and disagrees on MAP@10 when |R| > 10 (÷ min(10, |R|) vs ÷ |R|)
    assert st["map@10"] > mean("map_cut_10") + 1e-3

    # extras are exactly trec's recall / map_cut
    ex = R.extra_metrics(ranked, qrels, recall_at=(1, 3, 5, 10), map_at=(10, 100))
    assert math.isclose(ex["map@10"], mean("map_cut_10"), rel_tol=1e-12)
    assert math.isclose(ex["map@100"], mean("map_cut_100"), rel_tol=1e-12)
    for k in (1, 3, 5, 10):
        assert math.isclose(ex[f"recall@{k}"], mean(f"recall_{k}"), rel_tol=1e-12)

    # JMTEB: per query equal to trec ndcg_cut_10 iff |R| <= 10, otherwise scaled by IDCG_10 / IDCG_|R|
    big = 0
    for r, rel, row in zip(ranked, qrels, trec):
        n_rel = sum(g > 0 for g in rel.values())
        j = R.jmteb_metrics([r], [rel])
        scale = sum(D[: min(n_rel, 10)]) / sum(1 / math.log2(i + 1) for i in range(1, n_rel + 1))
        assert math.isclose(j["ndcg@10"], row["ndcg_cut_10"] * scale, rel_tol=1e-12, abs_tol=1e-15)
        if n_rel > 10 and row["ndcg_cut_10"] > 0:
            big += 1
            assert j["ndcg@10"] < row["ndcg_cut_10"]
    assert big > 0
    j = R.jmteb_metrics(ranked, qrels)
    for k in (1, 3, 5, 10):
        assert math.isclose(j[f"accuracy@{k}"], mean(f"success_{k}"), rel_tol=1e-12)
    assert math.isclose(j["mrr@10"], mean("recip_rank", trec10), rel_tol=1e-12)
    assert math.isclose(R.mrr(ranked, qrels, 10), j["mrr@10"], rel_tol=1e-12)


def test_random_graded_ndcg_vs_pytrec():
    ids, scores, qrels = make_case(seed=2, graded=True)
    ranked = rankings(ids, scores, 100)
    run_scores = [descending_scores(len(r)) for r in ranked]
    trec = trec_per_query(ranked, run_scores, qrels, {"ndcg_cut.5,10,20,100"})
    for k in (5, 10, 20, 100):
        ref = float(np.mean([row[f"ndcg_cut_{k}"] for row in trec]))
        assert math.isclose(R.graded_ndcg(ranked, qrels, k), ref, rel_tol=1e-12)
    # graded trec differs from ST's binarised nDCG (notes 2.2, divergence 1)
    assert abs(R.st_metrics(ranked, positives_only(qrels))["ndcg@10"] - R.graded_ndcg(ranked, qrels, 10)) > 1e-4


def test_trec_metrics_matches_pytrec_and_mteb_rounding():
    ids, scores, qrels = make_case(seed=3, graded=True)
    run = {f"q{i}": {ids[j]: float(scores[i, j]) for j in np.argsort(-scores[i])[:100]} for i in range(len(qrels))}
    qrel_d = {f"q{i}": rel for i, rel in enumerate(qrels)}
    qrel_d["q_none"] = {"d0000": 0}  # no positives: excluded
    run["q_extra"] = {"d0001": 1.0}  # not in qrels: excluded
    ks = (1, 5, 10, 100)
    full = R.trec_metrics(run, qrel_d, k_values=ks, round_to=None)
    rounded = R.trec_metrics(run, qrel_d, k_values=ks)
    ref = pytrec_eval.RelevanceEvaluator(
        {f"q{i}": rel for i, rel in enumerate(qrels)}, {"ndcg_cut.1,5,10,100", "map_cut.1,5,10,100", "recall.1,5,10,100", "P.1,5,10,100", "recip_rank"}
    ).evaluate({f"q{i}": run[f"q{i}"] for i in range(len(qrels))})
    mapping = {"ndcg_at": "ndcg_cut", "map_at": "map_cut", "recall_at": "recall", "precision_at": "P"}
    for key, trec_name in mapping.items():
        for k in ks:
            expected = float(np.mean([ref[q][f"{trec_name}_{k}"] for q in ref]))
            assert math.isclose(full[f"{key}_{k}"], expected, rel_tol=1e-12)
            assert rounded[f"{key}_{k}"] == round(full[f"{key}_{k}"], 5)
    assert math.isclose(full["mrr"], float(np.mean([ref[q]["recip_rank"] for q in ref])), rel_tol=1e-12)
    assert set(full) == {f"{a}_{k}" for a in mapping for k in ks} | {"mrr"}
    # a query with positives but no run counts as 0 instead of disappearing
    run_missing = {q: v for q, v in run.items() if q != "q0"}
    n = len(qrels)
    expected = (full["ndcg_at_10"] * n - ref["q0"]["ndcg_cut_10"]) / n
    assert math.isclose(R.trec_metrics(run_missing, qrel_d, k_values=(10,), round_to=None)["ndcg_at_10"], expected, rel_tol=1e-9)
    with pytest.raises(ValueError):
        R.trec_metrics(run, {"q": {"d": 0}})


def test_trec_metrics_equals_st_on_binary_tie_free_runs():
    ids, scores, qrels = make_case(seed=4)
    pos = positives_only(qrels)
    ranked = rankings(ids, scores, 100)
    run = {f"q{i}": {ids[j]: float(scores[i, j]) for j in R.rank_ties(scores[i], ids, 100)} for i in range(len(pos))}
    trec = R.trec_metrics(run, {f"q{i}": p for i, p in enumerate(pos)}, k_values=(5, 10, 100))
    st = R.st_metrics(ranked, pos, precision_recall_at=(5, 10), ndcg_at=(10,), map_at=(100,))
    assert trec["ndcg_at_10"] == round(st["ndcg@10"], 5)
    assert trec["map_at_100"] == round(st["map@100"], 5)
    assert trec["recall_at_5"] == round(st["recall@5"], 5)
    assert trec["precision_at_10"] == round(st["precision@10"], 5)


# ------------------------------------------- random vs sentence-transformers ----
@pytest.mark.parametrize("ties", [False, True])
def test_st_metrics_vs_sentence_transformers_compute_metrics(ties):
    ids, scores, qrels = make_case(seed=5, ties=ties)
    ranked = rankings(ids, scores, 100)
    # ST relevance = every listed id, grade-0 rows included
    rel_sets = [set(rel) for rel in qrels]
    real_scores = [[float(scores[i, ids.index(d)]) for d in docs] for i, docs in enumerate(ranked)]
    ref = st_reference(ranked, rel_sets, scores=real_scores, **ST_REF_KS)
    ours = R.st_metrics(ranked, qrels, **ST_KS)
    assert set(ours) == set(ref)
    for key in ref:
        assert math.isclose(ours[key], ref[key], rel_tol=1e-12, abs_tol=1e-15), key
    if ties:  # ST re-sorts by (-score, id asc); our rank_ties order must already be that order
        for i, docs in enumerate(ranked):
            assert docs == [d for _, d in sorted(zip((-s for s in real_scores[i]), docs))]


class _OneHotQueries:
    """Stands in for a model: query i embeds to e_i, so a dot score with corpus
    embeddings S.T returns exactly the score matrix S."""

    def __init__(self, n_q):
        self.q = torch.eye(n_q, dtype=torch.float32)

    def encode_query(self, sentences, **kwargs):
        return self.q


def test_rank_ties_matches_sentence_transformers_retrieval_with_boundary_ties(tmp_path):
    import sentence_transformers

    if int(sentence_transformers.__version__.split(".")[0]) < 6:
        pytest.skip("sentence-transformers 5.x leaves results tied at the cut-off in no fixed order (it keeps the "
                    "larger ids first, then sorts unstably); the nanobeir protocol uses 6.x's deterministic rule, "
                    "score descending then id ascending")
    n_q, n_d = 12, 230
    ids, scores, qrels = make_case(seed=6, n_q=n_q, n_d=n_d, ties=True)
    scores = scores.astype(np.float32)
    ks = dict(accuracy_at_k=[1, 3], precision_recall_at_k=[1, 3, 5], mrr_at_k=[5], ndcg_at_k=[5], map_at_k=[7])
    ev = InformationRetrievalEvaluator(
        {f"q{i}": "q" for i in range(n_q)},
        dict.fromkeys(ids, "d"),
        {f"q{i}": set(rel) for i, rel in enumerate(qrels)},
        corpus_chunk_size=50,  # top-7 per 50-doc chunk: boundary ties get reselected by id
        score_functions={"dot": lambda a, b: a @ b.T},
        write_predictions=True,
        **ks,
    )
    compute = getattr(ev, "compute_all_metrics", None) or ev.compute_metrices  # 6.x name, else 5.x's
    ref = compute(_OneHotQueries(n_q), corpus_embeddings=torch.from_numpy(scores.T.copy()), output_path=str(tmp_path))
    with open(tmp_path / "Information-Retrieval_evaluation_predictions_dot.jsonl", encoding="utf-8") as f:
        st_ranked = [[hit["corpus_id"] for hit in json.loads(line)["results"]] for line in f]
    ranked = rankings(ids, scores, 7)
    assert ranked == st_ranked
    # at least one query really has a tie across the 7th position
    assert any(np.sort(row)[::-1][6] == np.sort(row)[::-1][7] for row in scores)
    ours = R.st_metrics(ranked, qrels, accuracy_at=(1, 3), precision_recall_at=(1, 3, 5), mrr_at=(5,), ndcg_at=(5,), map_at=(7,))
    for name, per_k in ref["dot"].items():
        for k, v in per_k.items():
            assert math.isclose(ours[name.replace("@k", f"@{k}")], float(v), rel_tol=1e-12, abs_tol=1e-15)


# ------------------------------------------------------------------- ties ----
def test_rank_ties_hand_boundary():
    scores = np.array([1.0, 0.5, 0.5, 0.5, 0.2])
    ids = ["e", "d", "c", "b", "a"]
    # 1.0 first, then among the three 0.5s the smallest id ('b', index 3), then 'c' (index 2)
    assert R.rank_ties(scores, ids, 2) == [0, 3]
    assert R.rank_ties(scores, ids, 3) == [0, 3, 2]
    assert R.rank_ties(scores, ids, 10) == [0, 3, 2, 1, 4]
    assert R.rank_ties(scores, ids, 0) == []
    with pytest.raises(ValueError):
        R.rank_ties(np.array([np.nan, 1.0]), ["a", "b"], 1)


def test_rank_ties_vs_full_sort_random():
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(1, 60))
        scores = rng.integers(0, 4, size=n).astype(np.float32)  # very tie-heavy
        ids = [f"x{v}" for v in rng.permutation(1000)[:n]]
        k = int(rng.integers(1, n + 3))
        full = sorted(range(n), key=lambda i: (-float(scores[i]), ids[i]))
        assert R.rank_ties(scores, ids, k) == full[:k]


def test_pytrec_orders_ties_by_docid_descending():
    # d1 (relevant) and d2 tie: trec puts d2 first -> rr 0.5; ST's id-ascending order gives 1.0
    run, qrels = {"q": {"d1": 1.0, "d2": 1.0}}, {"q": {"d1": 1}}
    assert R.trec_metrics(run, qrels, k_values=(1,))["mrr"] == 0.5
    ranked = [["d1", "d2"][i] for i in R.rank_ties(np.array([1.0, 1.0]), ["d1", "d2"], 2)]
    assert R.st_metrics([ranked], [qrels["q"]], mrr_at=(10,))["mrr@10"] == 1.0
    # on a tie-heavy random run trec == our metrics on the (-score, id desc) order, != id asc order
    ids, scores, qrels_list = make_case(seed=8, ties=True)
    pos = positives_only(qrels_list)
    run = {f"q{i}": {d: float(s) for d, s in zip(ids, scores[i])} for i in range(len(pos))}
    trec = R.trec_metrics(run, {f"q{i}": p for i, p in enumerate(pos)}, k_values=(10,), round_to=None)
    desc = [sorted(ids, key=lambda d, i=i: (run[f"q{i}"][d], d), reverse=True) for i in range(len(pos))]
    asc = rankings(ids, scores, len(ids))
    assert math.isclose(trec["ndcg_at_10"], R.st_metrics(desc, pos)["ndcg@10"], rel_tol=1e-12)
    assert not math.isclose(trec["ndcg_at_10"], R.st_metrics(asc, pos)["ndcg@10"], rel_tol=1e-9)


def test_misaligned_inputs_raise():
    with pytest.raises(ValueError):
        R.jmteb_metrics([["a"]], [])
    with pytest.raises(ValueError):
        R.average_precision_at([["a"]], [{"a": 1}], 10, denominator="k")
