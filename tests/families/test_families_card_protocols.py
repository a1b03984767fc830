"""The model cards' own protocols: JaCWIR / JQaRA reranking layouts, MIRACL-style recall with a pool and a
minimum grade, AIO3 answer-string accuracy, and sentence-transformers' NanoBEIR semantics - worked by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness.aggregate import nanobeir_keys
from harness.errors import HarnessError
from harness.results import TaskResult
from harness.scoring.retrieval import answer_accuracy, normalize_answer

# 2-d unit vectors by angle: cosine order = angle order from the query at 0 degrees.
def vec(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_jacwir_positive_negatives_map_at_10(tiny):
    corpus = [{"doc_id": f"d{i}", "title": f"t{i}", "description": f"x{i}"} for i in range(4)]
    rows = [{"query": "q1", "positive": "d2", "negatives": ["d0", "d1", "d3"]},   # positive ranked 3rd
            {"query": "q2", "positive": "d0", "negatives": ["d1", "d2"]}]        # positive ranked 1st
    task = tiny.make("jacwir", "reranking", "Reranking", {"test": rows, "corpus": corpus}, splits={"test": "test"},
                     protocols={"card": {"main_metric": "map@10"}}, params={"candidates": "positive_negatives"},
                     columns={"docid": "doc_id", "text": "description"})
    vectors = {"q1": vec(0), "q2": vec(0), "t0 x0": vec(5), "t1 x1": vec(10), "t2 x2": vec(30), "t3 x3": vec(60)}
    out = tiny.run(task, vectors, protocol="card")
    # q1: d0 (5 deg), d1 (10), d2 (30): rank 3 -> AP = 1/3; q2: d0 first -> 1. MAP@10 = MRR@10 = 2/3.
    assert out.metric_name == "map@10"
    assert out.metric_value == pytest.approx(2 / 3)
    assert out.details["test_scores"]["cosine"]["mrr@10"] == pytest.approx(2 / 3)


def test_jqara_grouped_rows_ndcg_with_title(tiny):
    rows = [{"q_id": 1, "question": "Q1", "passage_row_id": p, "title": "T", "text": f"p{p}", "label": lab}
            for p, lab in ((0, 0), (1, 1), (2, 0), (3, 1))]
    rows += [{"q_id": 2, "question": "Q2", "passage_row_id": 0, "title": "T", "text": "r0", "label": 0}]  # no positive
    task = tiny.make("jqara", "reranking", "Reranking", {"test": rows}, splits={"test": "test"},
                     protocols={"card": {}}, params={"candidates": "grouped_rows", "doc_text": "title_text"})
    vectors = {"Q1": vec(0), "Q2": vec(0), "T p0": vec(1), "T p1": vec(2), "T p2": vec(3), "T p3": vec(4), "T r0": vec(1)}
    out = tiny.run(task, vectors, protocol="card")
    # Q1 order p0, p1, p2, p3: relevant at ranks 2 and 4. DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3).
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert out.metric_value == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert out.details["dropped_all_irrelevant_queries"] == {"test": 1}


def test_retrieval_card_pool_and_min_grade(tiny):
    corpus = [{"docid": f"d{i}", "text": f"d{i}"} for i in range(5)]
    queries = [{"qid": "a", "query": "qa", "relevant_docs": {"d3": 1, "d0": 0}},
               {"qid": "b", "query": "qb", "relevant_docs": {"d1": 0}}]  # only a zero grade: not scored
    pool = [{"qid": "a", "docs": ["d3", "d4"]}, {"qid": "b", "docs": ["d0", "d1"]}]
    task = tiny.make("miracl", "retrieval", "Retrieval", {"dev": queries, "corpus": corpus, "pool": pool},
                     splits={"test": "dev"}, protocols={"card": {"main_metric": "recall@1", "pool": "pool"}})
    vectors = {"qa": vec(0), "qb": vec(0), "d0": vec(1), "d1": vec(2), "d2": vec(3), "d3": vec(20), "d4": vec(10)}
    out = tiny.run(task, vectors, protocol="card")
    # Whole corpus: d3 would rank 4th. Within the pool {d3, d4}: d4 then d3 -> recall@1 = 0, recall@5 = 1.
    assert out.metric_value == 0.0
    assert out.details["test_scores"]["cosine"]["recall@5"] == 1.0
    assert out.details["test_scores"]["cosine"]["mrr@10"] == 0.5
    assert out.details["queries"] == 1 and out.details["dropped_queries_without_positive"] == 1

    no_pool = tiny.make("miracl_full", "retrieval", "Retrieval", {"dev": queries, "corpus": corpus},
                        splits={"test": "dev"}, protocols={"card": {"main_metric": "recall@1"}})
    full = tiny.run(no_pool, vectors, protocol="card")
    assert full.details["test_scores"]["cosine"]["mrr@10"] == 0.2  # d0, d1, d2, d4, d3: d3 is 5th


@pytest.mark.parametrize("pool, message", [
    ([{"qid": "a", "docs": ["d3", "d4", "d3"]}], "duplicate document id 'd3' in column 'docs'"),  # ranked twice
    ([{"qid": "a", "docs": ["d3"]}, {"qid": "a", "docs": ["d4"]}], "duplicate query id 'a' in column 'qid'"),
    ([{"qid": "a", "docs": "d3"}], "column 'docs' must be a list"),
])
def test_retrieval_card_pool_refuses_what_would_count_twice(tiny, pool, message):
    corpus = [{"docid": f"d{i}", "text": f"d{i}"} for i in range(5)]
    queries = [{"qid": "a", "query": "qa", "relevant_docs": {"d3": 1}}]
    task = tiny.make("miracl_bad", "retrieval", "Retrieval", {"dev": queries, "corpus": corpus, "pool": pool},
                     splits={"test": "dev"}, protocols={"card": {"main_metric": "recall@1", "pool": "pool"}})
    vectors = {"qa": vec(0), **{f"d{i}": vec(10 * i) for i in range(5)}}
    with pytest.raises(HarnessError, match=message):
        tiny.run(task, vectors, protocol="card")


def test_answer_match_accuracy_by_hand(tiny):
    assert normalize_answer("ＡＢＣ 1２") == "abc12"
    ranked = [["富士山は日本一高い", "エベレスト"], ["ＡＢＣ社", "x"], ["nothing", "here"]]
    answers = [["エベレスト"], ["abc"], ["missing"]]
    assert answer_accuracy(ranked, answers, (1, 2)) == {"accuracy@1": pytest.approx(1 / 3),
                                                        "accuracy@2": pytest.approx(2 / 3)}
    corpus = [{"docid": "p1", "title": "山", "text": "富士山は日本一高い"}, {"docid": "p2", "title": "山", "text": "エベレストが最高峰"}]
    questions = [{"qid": "1", "query": "世界一高い山は", "answers": ["エベレスト"]}]
    task = tiny.make("aio", "retrieval", "Retrieval", {"dev": questions, "corpus": corpus}, splits={"test": "dev"},
                     protocols={"card": {"relevance": "answer_match", "main_metric": "accuracy@1",
                                         "accuracy_at": [1, 2]}}, params={"doc_text": "title_text"})
    vectors = {"世界一高い山は": vec(0), "山 富士山は日本一高い": vec(1), "山 エベレストが最高峰": vec(5)}
    out = tiny.run(task, vectors, protocol="card")
    assert out.metric_value == 0.0 and out.details["test_scores"]["cosine"]["accuracy@2"] == 1.0
    bad = tiny.make("aio_bad", "retrieval", "Retrieval", {"dev": [{"qid": "1", "query": "q", "answers": "x"}],
                                                          "corpus": corpus}, splits={"test": "dev"},
                    protocols={"card": {"relevance": "answer_match", "main_metric": "accuracy@1"}})
    with pytest.raises(HarnessError, match="answers"):
        tiny.run(bad, vectors, protocol="card")


def test_nanobeir_drops_empty_texts_but_counts_them_relevant(tiny):
    corpus = [{"_id": "d1", "text": "one"}, {"_id": "d2", "text": ""}, {"_id": "d3", "text": "three"}]
    queries = [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": ""}, {"_id": "q3", "text": "third"}]
    qrels = [{"query-id": "q1", "corpus-id": "d1", "score": 1}, {"query-id": "q1", "corpus-id": "d2", "score": 1},
             {"query-id": "q2", "corpus-id": "d3", "score": 1}, {"query-id": "q3", "corpus-id": "d3", "score": 0}]
    task = tiny.make("nano", "retrieval", "Retrieval", {"corpus": corpus, "queries": queries, "qrels": qrels},
                     protocols={"nanobeir": {"name": "NanoTest"}}, schema="beir")
    vectors = {"first": vec(0), "third": vec(0), "one": vec(10), "three": vec(5)}
    out = tiny.run(task, vectors, protocol="nanobeir")
    scores = out.details["test_scores"]["cosine"]
    # q1: R = {d1, d2} (d2 dropped but relevant); ranking d3, d1 -> recall@1 0, recall@3 1/2, mrr@10 1/2,
    #     ndcg@10 = (1/log2 3) / (1 + 1/log2 3), map@100 = (1/2) / 2.
    # q3: score-0 qrels row still counts as relevant (sentence-transformers ignores scores): d3 first -> all 1.
    assert out.details["queries"] == 2
    assert out.metric_name == "cosine_ndcg@10"
    assert scores["recall@3"] == pytest.approx((0.5 + 1) / 2)
    assert scores["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    assert scores["ndcg@10"] == pytest.approx(((1 / math.log2(3)) / (1 + 1 / math.log2(3)) + 1) / 2)
    assert scores["map@100"] == pytest.approx((0.25 + 1) / 2)
    assert scores["precision@1"] == pytest.approx(0.5)


def _result(name: str, ndcg: float) -> tuple[str, TaskResult]:
    return name, TaskResult(task=name.lower(), category="Retrieval", family="retrieval", protocol="nanobeir",
                            metric_name="cosine_ndcg@10", metric_value=ndcg,
                            details={"test_scores": {"cosine": {"ndcg@10": ndcg, "mrr@10": ndcg / 2}}},
                            provenance={"protocol": {"params": {"name": name}}})


def test_nanobeir_mean_is_unweighted_over_datasets():
    keys = nanobeir_keys([_result("NanoA", 0.5), _result("NanoB", 0.2), _result("NanoC", 0.3)])
    assert keys["NanoA_cosine_ndcg@10"] == 0.5
    assert keys["NanoBEIR_mean_cosine_ndcg@10"] == pytest.approx(1 / 3)
    assert keys["NanoBEIR_mean_cosine_mrr@10"] == pytest.approx(1 / 6)


def test_nanobeir_mean_in_sentence_transformers_dataset_order():
    """The SSE (quantized) card's NanoBEIR_mean cosine_mrr@10, 0.5088495552066982, is np.mean over the datasets in
    sentence-transformers' own order (ArguAna 11th); the suite's alphabetical order gives ...981."""
    from harness.paths import RESULTS_DIR

    card = json.loads((RESULTS_DIR / "published" / "sse_nanobeir_ja.json").read_text(encoding="utf-8"))
    per_dataset = next(iter(card["models"].values()))["Retrieval"]
    alphabetical = sorted(per_dataset, key=str.lower)  # nanobeir_ja's task order
    results = [(name, TaskResult(task=name, category="Retrieval", family="retrieval", protocol="nanobeir",
                                 metric_name="cosine_ndcg@10", metric_value=per_dataset[name]["ndcg@10"],
                                 details={"test_scores": {"cosine": per_dataset[name]}}, provenance={}))
               for name in alphabetical]
    keys = nanobeir_keys(results)
    assert keys["NanoBEIR_mean_cosine_mrr@10"] == 0.5088495552066982  # the card's value, to the last bit
    assert keys["NanoBEIR_mean_cosine_ndcg@10"] == 0.4477327590762682
    assert float(np.mean([per_dataset[n]["mrr@10"] for n in alphabetical])) != 0.5088495552066982
    assert [k for k in keys if k.endswith("_cosine_mrr@10")][:2] == ["NanoClimateFEVER_cosine_mrr@10",
                                                                     "NanoDBPedia_cosine_mrr@10"]
