"""Prompts resolved from (model, suite, protocol, task, side): the table of every card model's prompts.

Data in the test: every row cites the file (and commit) it comes from; the research behind each value, with its
confidence, is in the issue-16 notes (issue16_prompts.md). Keys:
- columns: `jmteb_v1` / `jmteb_v2` = the suite's published runs (protocol jmteb, suite profile), `mteb` =
  protocol mteb (MTEB's model registry), `nanobeir` = sentence-transformers' NanoBEIREvaluator on nanobeir_ja;
- None = no prompt given (JMTEB's `prefix=None`, MTEB's untyped encode); OWN_Q / OWN_D = the model's own
  `query` / `document` prompt, which the test sets to sentinel strings so that "the model's own" cannot pass
  for "" (an API model has none: "").
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
import yaml

from harness.cli import main
from harness.config import compose, plan, suite_prompt_profile
from harness.encoders.base import ST_DEFAULT_PROMPTS
from harness.errors import HarnessError
from harness.families import PROTOCOLS
from harness.paths import CONF_DIR
from harness.prompts import PROTOCOL_PROMPTS, check_prompt_keys, prompt_for, select_profile
from harness.taskspec import load_task, task_names

N = None
OWN_Q, OWN_D = "<the model's own query prompt>", "<the model's own document prompt>"
OWN = {"query": OWN_Q, "document": OWN_D, "passage": "<never reached: document comes first>"}

E5 = ("multilingual-e5-small", "multilingual-e5-base", "multilingual-e5-large")
RURI = ("ruri-small", "ruri-base", "ruri-large")
RURI_V3 = ("ruri-v3-30m", "ruri-v3-70m", "ruri-v3-130m", "ruri-v3-310m")
PKSHA = ("rosetta-base-ja", "glucose-base-ja-v2")
NO_PROMPTS = ("glucose-base-ja", "sarashina-embedding-v1-1b", "static-embedding-japanese", "sse-retrieval-mrl-ja",
              "sse-retrieval-mrl-ja-quantized", "all-minilm-l6-v2")
OPENAI = ("openai-text-embedding-3-small", "openai-text-embedding-3-large", "openai-text-embedding-ada-002")
SARASHINA_V2 = ("sarashina-embedding-v2-1b",)

# One task per type, from each column's suite.
TASKS = {"Classification": "amazon_review_classification", "Clustering": "livedoor_news", "STS": "jsts",
         "PairClassification": "paws_x_ja", "Retrieval": "jagovfaqs_22k", "Reranking": "esci"}
NANO_TASK = "nano_scifact_ja"

Q, P = "query: ", "passage: "
CQ, BUN = "クエリ: ", "文章: "
TOPIC, RQ, RD = "トピック: ", "検索クエリ: ", "検索文書: "
SV2_CARD_RETRIEVAL = "task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\nquery: "
SV2_CARD_CLASSIFICATION = "task: 与えられたレビューを適切な評価カテゴリに分類してください。\nquery: "
SV2_CARD_CLUSTERING = "task: 与えられたドキュメントのトピックまたはテーマを特定してください。\nquery: "
SV2_CARD_STS = "task: クエリを与えるので\uff0cもっともクエリに意味が似ている一節を探してください。\nquery: "
SV2_PAIR_FALLBACK = "task: Retrieve text that are semantically similar to the given text.\nquery: "


def per_type(c, k, s, p, r, rr) -> dict:
    return {"Classification": c, "Clustering": k, "STS": s, "PairClassification": p, "Retrieval": r, "Reranking": rr}


def v2(c, k, s, r, rr) -> dict:  # JMTEB v2 has no pair classification
    return {"Classification": c, "Clustering": k, "STS": s, "Retrieval": r, "Reranking": rr}


# Sources.
J133 = "sbintuitions/JMTEB v1.3.3 b9adab9ed007619a1f6b2767aae81e687e78b76d src/jmteb/configs/tasks/*.jsonnet (no prefix set)"
OZ = "oshizo/JapaneseEmbeddingEval issue 3 (mE5 JSTS unprefixed 0.7839 = v1 row, 'query: ' 0.7965 = v2 row)"
JP2_E5 = "sbintuitions/JMTEB src/jmteb/configs/prompts/e5.yaml @ d8b8533cb6621aa5e73fb767892336045eed626f"
JP2_RURI_V3 = "sbintuitions/JMTEB src/jmteb/configs/prompts/ruri-v3.yaml @ a7819e760d88ea0a92294ec74f8f334eb804566a"
JP2_SV2 = "sbintuitions/JMTEB src/jmteb/configs/prompts/sarashina-v2.yaml @ a7819e760d88ea0a92294ec74f8f334eb804566a"
MTEB = "embeddings-benchmark/mteb a905523d0111f999360b312bd4a601a0a97a0e1c mteb/models/model_implementations/{}"
MTEB_TYPES = ("embeddings-benchmark/mteb a905523d0111f999360b312bd4a601a0a97a0e1c mteb/abstasks/{sts,"
              "pair_classification,classification,clustering}.py (no prompt type) + abs_encoder.py get_prompt_name")
ST = ("sentence-transformers 6.2.0 sentence_transformer/evaluation/information_retrieval.py embed_inputs "
      "(encode_query / encode_document), sentence_transformer/model.py l.367, l.530-534")
RURI_HUB = ("cl-nagoya/ruri-base jmteb_config/tasks/*.jsonnet sizes (hub commit 7f4ecf1); "
            "sbintuitions/JMTEB f913ee5a5b92323266cfccf0691292d541bc58ac (rows)")
PKSHA_SRC = ("sbintuitions/JMTEB issues 71/72; rows 5242d370be95bfd753c60a821538e79d90bfc84e, "
             "76fd77a346ac9af565463464750619961180b901; RoSEtta card (/work/shared/seeds/000)")
OPENAI_SRC = "sbintuitions/JMTEB v1.3.3 b9adab9 / v1.4.0 da3756b src/jmteb/embedders/openai_embedder.py (prefix ignored)"
CARDS = "the models' cards (/work/shared/seeds/001, 002; static-embedding-japanese: hub config 205 B, no prompts)"
SV2_CARD = "sbintuitions/sarashina-embedding-v2-1b card (/work/shared/seeds/004), STS comma as " + JP2_SV2

NONE_ALL = per_type(N, N, N, N, (N, N), (N, N))
NONE_V2 = v2(N, N, N, (N, N), (N, N))

TABLE = [
    # (models, column, expected by task type, source)
    (E5, "jmteb_v1", NONE_ALL, f"{J133}; {OZ}"),
    (E5, "jmteb_v2", v2(Q, Q, Q, (Q, P), (Q, P)), f"{JP2_E5}; {OZ}"),
    (E5, "mteb", per_type(N, N, N, N, (Q, P), (Q, P)), f"{MTEB.format('e5_models.py')}; {MTEB_TYPES}"),
    (E5, "nanobeir", {"Retrieval": (OWN_Q, OWN_D)}, ST),
    (RURI, "jmteb_v1", per_type(CQ, CQ, CQ, CQ, (CQ, BUN), (CQ, BUN)), RURI_HUB),
    (RURI, "jmteb_v2", v2(CQ, CQ, CQ, (CQ, BUN), (CQ, BUN)), f"{RURI_HUB}; v2 rows unchanged (JSTS 1e-4)"),
    (RURI, "mteb", per_type(N, N, N, N, (CQ, BUN), (CQ, BUN)), MTEB.format("ruri_models.py RURI_V1_V2_PROMPTS")),
    (RURI, "nanobeir", {"Retrieval": (OWN_Q, OWN_D)}, f"{ST}; hub config 201 B"),
    (RURI_V3, "jmteb_v1", per_type(TOPIC, TOPIC, "", "", (RQ, RD), (RQ, RD)), f"not on v1: {JP2_RURI_V3} scheme"),
    (RURI_V3, "jmteb_v2", v2(TOPIC, TOPIC, "", (RQ, RD), (RQ, RD)), JP2_RURI_V3),
    (RURI_V3, "mteb", per_type(TOPIC, TOPIC, N, N, (RQ, RD), (RQ, RD)), MTEB.format("ruri_models.py RURI_V3_PROMPTS")),
    (RURI_V3, "nanobeir", {"Retrieval": (OWN_Q, OWN_D)}, ST),
    (PKSHA, "jmteb_v1", per_type(Q, Q, Q, Q, (Q, P), (Q, P)), PKSHA_SRC),
    (PKSHA, "jmteb_v2", v2(Q, Q, Q, (Q, P), (Q, P)), f"{PKSHA_SRC}; v2 rows unchanged"),
    (PKSHA, "mteb", per_type(N, N, N, N, (OWN_Q, OWN_D), (OWN_Q, OWN_D)),
     f"not in MTEB's registry: {MTEB.format('../sentence_transformer_wrapper.py')} (built-in prompts)"),
    (PKSHA, "nanobeir", {"Retrieval": (OWN_Q, OWN_D)}, ST),
    (NO_PROMPTS, "jmteb_v1", NONE_ALL, f"{J133}; {CARDS}"),
    (NO_PROMPTS, "jmteb_v2", NONE_V2, f"{CARDS}; hotchpotch/static-embedding-japanese JMTEB/summary.json = v2 row"),
    (NO_PROMPTS, "mteb", per_type(N, N, N, N, (OWN_Q, OWN_D), (OWN_Q, OWN_D)),
     f"{MTEB.format('{sb_intuitions,sse,sentence_transformers}_models.py')} (no model_prompts: built-in prompts)"),
    (NO_PROMPTS, "nanobeir", {"Retrieval": (OWN_Q, OWN_D)}, ST),
    (OPENAI, "jmteb_v1", NONE_ALL, OPENAI_SRC),
    (OPENAI, "jmteb_v2", NONE_V2, OPENAI_SRC),
    (OPENAI, "mteb", per_type(N, N, N, N, ("", ""), ("", "")), f"{MTEB.format('openai_models.py')} (no prompt)"),
    (OPENAI, "nanobeir", {"Retrieval": ("", "")}, "an API model has no sentence-transformers prompts"),
    (SARASHINA_V2, "jmteb_v1", per_type(SV2_CARD_CLASSIFICATION, SV2_CARD_CLUSTERING, SV2_CARD_STS, N,
                                        (SV2_CARD_RETRIEVAL, "text: "), (SV2_CARD_RETRIEVAL, "text: ")),
     f"not on v1: {SV2_CARD}"),
    # jmteb_v2: every dataset, below (SARASHINA_V2_PER_DATASET)
    (SARASHINA_V2, "mteb", per_type(
        "task: 与えられたAmazonレビューを適切な評価カテゴリに分類してください。\nquery: ",
        "task: 与えられたニュース記事のトピックを特定してください。\nquery: ", SV2_CARD_STS, SV2_PAIR_FALLBACK,
        ("task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\nquery: ", "text: "),
        ("task: クエリを与えるので、与えられたWeb検索クエリに答える関連文章を検索してください。\nquery: ", "text: ")),
     MTEB.format("sarashina_embedding_models.py SARASHINA_V2_INSTRUCTIONS") + " + abstasks/pair_classification.py"),
    (SARASHINA_V2, "nanobeir", {"Retrieval": (OWN_Q, OWN_D)}, ST),
]

# sarashina-embedding-v2-1b under JMTEB v2 and MTEB: JMTEB's per-dataset instructions (task, MTEB task, query or
# single text, document). Source: JP2_SV2 = mteb SARASHINA_V2_INSTRUCTIONS (db74fc5ee2ea0b1ccfe3f666f4580b05b4fb260e).
SARASHINA_V2_PER_DATASET = [
    ('livedoor_news', 'LivedoorNewsClustering.v2', 'task: 与えられたニュース記事のトピックを特定してください。\nquery: ', None),
    ('mewsc16', 'MewsC16JaClustering', 'task: 与えられたニュース記事のトピックを特定してください。\nquery: ', None),
    ('sib200_japanese_clustering', 'SIB200ClusteringS2S', 'task: 与えられたテキストのトピックを特定してください。\nquery: ', None),
    ('amazon_review_classification', 'AmazonReviewsClassification', 'task: 与えられたAmazonレビューを適切な評価カテゴリに分類してください。\nquery: ', None),
    ('amazon_counterfactual_classification', 'AmazonCounterfactualClassification', 'task: 与えられたAmazonのカスタマーレビューのテキストを反事実か反事実でないかに分類してください。\nquery: ', None),
    ('massive_intent_classification', 'MassiveIntentClassification', 'task: ユーザーの発話をクエリとして与えるので、ユーザーの意図を見つけてください。\nquery: ', None),
    ('massive_scenario_classification', 'MassiveScenarioClassification', 'task: ユーザーの発話をクエリとして与えるので、ユーザーシナリオを見つけてください。\nquery: ', None),
    ('japanese_sentiment_classification', 'JapaneseSentimentClassification', 'task: 与えられたテキストの感情極性をポジティブ(1)かネガティブか(0)に分類してください。\nquery: ', None),
    ('sib200_japanese_classification', 'SIB200Classification', 'task: 与えられたテキストのトピックを特定してください。\nquery: ', None),
    ('wrime_classification', 'WRIMEClassification', 'task: 与えられたテキストの感情極性（-2:強いネガティブ、-1:ネガティブ、0:ニュートラル、1:ポジティブ、2:強いポジティブ）を分類してください。\nquery: ', None),
    ('jsts', 'JSTS', 'task: クエリを与えるので\uff0cもっともクエリに意味が似ている一節を探してください。\nquery: ', None),
    ('jsick', 'JSICK', 'task: クエリを与えるので\uff0cもっともクエリに意味が似ている一節を探してください。\nquery: ', None),
    ('jaqket', 'JaqketRetrieval', 'task: 質問を与えるので、その質問に答えるのに役立つWikipediaの文章を検索してください。\nquery: ', 'text: '),
    ('mrtydi', 'MrTidyRetrieval', 'task: 質問を与えるので、その質問に答えるWikipediaの文章を検索するしてください。\nquery: ', 'text: '),
    ('jagovfaqs_22k', 'JaGovFaqsRetrieval', 'task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\nquery: ', 'text: '),
    ('nlp_journal_title_abs', 'NLPJournalTitleAbsRetrieval.V2', 'task: 論文のタイトルを与えるので、タイトルに対応する要約を検索してください。\nquery: ', 'text: '),
    ('nlp_journal_title_intro', 'NLPJournalTitleIntroRetrieval.V2', 'task: 論文のタイトルを与えるので、タイトルに対応する要約を検索してください。\nquery: ', 'text: '),
    ('nlp_journal_abs_intro', 'NLPJournalAbsIntroRetrieval.V2', 'task: 論文の序論を与えるので、序論に対応する全文を検索してください。\nquery: ', 'text: '),
    ('nlp_journal_abs_article', 'NLPJournalAbsArticleRetrieval.V2', 'task: 論文の序論を与えるので、序論に対応する全文を検索してください。\nquery: ', 'text: '),
    ('jacwir_retrieval', 'JaCWIRRetrieval', 'task: 記事のタイトルを与えるので、そのタイトルと合っている記事の中身を検索してください。\nquery: ', 'text: '),
    ('miracl_retrieval', 'MIRACLRetrieval', 'task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\nquery: ', 'text: '),
    ('mintaka_retrieval', 'MintakaRetrieval', 'task: 質問を与えるので、その質問に答えられるテキストを検索してください。\nquery: ', 'text: '),
    ('mldr_retrieval', 'MultiLongDocRetrieval', 'task: 質問を与えるので、その質問に答えるのに役立つWikipediaの文章を検索してください。\nquery: ', 'text: '),
    ('esci', 'ESCIReranking', 'task: クエリを与えるので、与えられたWeb検索クエリに答える関連文章を検索してください。\nquery: ', 'text: '),
    ('jqara', 'JQaRAReranking', 'task: 質問を与えるので、その質問に答えるのに役立つWikipediaの文章を検索してください。\nquery: ', 'text: '),
    ('jacwir_reranking', 'JaCWIRReranking', 'task: 記事のタイトルを与えるので、そのタイトルと合っている記事の中身を検索してください。\nquery: ', 'text: '),
    ('miracl_reranking', 'MIRACLReranking', 'task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\nquery: ', 'text: '),
    ('mldr_reranking', 'MultiLongDocReranking', 'task: 質問を与えるので、その質問に答えるのに役立つWikipediaの文章を検索してください。\nquery: ', 'text: '),
]

COLUMNS = ("jmteb_v1", "jmteb_v2", "mteb", "nanobeir")


def _suite(name: str) -> dict:
    return yaml.safe_load((CONF_DIR / "suite" / f"{name}.yaml").read_text(encoding="utf-8"))


def column_scope(column: str) -> tuple[str, str | None]:
    """(protocol, suite profile) of a column, as a run of that suite plans it."""
    if column in ("jmteb_v1", "jmteb_v2"):
        return "jmteb", suite_prompt_profile(_suite(column), "jmteb")
    if column == "nanobeir":
        return "nanobeir", suite_prompt_profile(_suite("nanobeir_ja"), "nanobeir")
    return "mteb", suite_prompt_profile(_suite("offline_real"), "mteb")


@cache
def model_config(name: str):
    return plan(compose([f"model={name}"])).encoder


def resolved(model: str, column: str, task_name: str, role: str) -> str | None:
    config = model_config(model)
    protocol, suite_profile = column_scope(column)
    own = (lambda: ST_DEFAULT_PROMPTS) if config.backend == "openai" else (lambda: OWN)
    return prompt_for(config.prompts, load_task(task_name), protocol, role, suite_profile=suite_profile, own=own)


def test_the_table_covers_every_card_model_and_column():
    from tests.encoders.test_model_configs import CARD_MODELS

    covered = {(model, column) for models, column, _, _ in TABLE for model in models}
    covered |= {(model, "jmteb_v2") for model in SARASHINA_V2}
    assert covered == {(model, column) for model in CARD_MODELS for column in COLUMNS}


@pytest.mark.parametrize("models, column, expected, source", TABLE,
                         ids=[f"{models[0]}-{column}" for models, column, _, _ in TABLE])
def test_resolved_prompt_per_model_benchmark_and_task_type(models, column, expected, source):
    for model in models:
        for task_type, value in expected.items():
            task = NANO_TASK if column == "nanobeir" else TASKS[task_type]
            if isinstance(value, tuple):
                got = (resolved(model, column, task, "query"), resolved(model, column, task, "document"))
            else:  # single texts (both STS / pair sentences) are encoded as queries
                got = resolved(model, column, task, "query")
            assert got == value, f"{model} {column} {task_type}: {got!r} != {value!r} ({source})"


@pytest.mark.parametrize("task, mteb_task, query, document", SARASHINA_V2_PER_DATASET,
                         ids=[row[0] for row in SARASHINA_V2_PER_DATASET])
@pytest.mark.parametrize("column", ["jmteb_v2", "mteb"])
def test_sarashina_v2_per_dataset_instructions(column, task, mteb_task, query, document):
    assert resolved("sarashina-embedding-v2-1b", column, task, "query") == query, mteb_task
    if document is not None:
        assert resolved("sarashina-embedding-v2-1b", column, task, "document") == document, mteb_task


def test_sarashina_v2_characters_are_jmtebs():
    rows = {task: query for task, _, query, _ in SARASHINA_V2_PER_DATASET}
    assert "\uff0c" in rows["jsts"] and "," not in rows["jsts"]  # FULLWIDTH COMMA, not ASCII
    assert rows["jsts"] == rows["jsick"]
    assert "検索するしてください" in rows["mrtydi"]  # JMTEB's typo, reproduced
    assert "\uff08" in rows["wrime_classification"] and "(1)" in rows["japanese_sentiment_classification"]
    # JMTEB-lite's suite names the v2 profile: the same strings
    config = model_config("sarashina-embedding-v2-1b")
    lite = suite_prompt_profile(_suite("jmteb_lite"), "jmteb")
    assert prompt_for(config.prompts, load_task("mrtydi"), "jmteb", "query", suite_profile=lite) == rows["mrtydi"]


def test_ruri_v1_abs_intro_query_prefix_in_jmteb_only():
    # inferred from the authors' nlp_journal_abs_intro.jsonnet size (+62 B = '文章: ' on both sides), RURI_HUB
    for column in ("jmteb_v1", "jmteb_v2"):
        assert (resolved("ruri-base", column, "nlp_journal_abs_intro", "query"),
                resolved("ruri-base", column, "nlp_journal_abs_intro", "document")) == (BUN, BUN)
    assert resolved("ruri-base", "mteb", "nlp_journal_abs_intro", "query") == CQ  # MTEB's registry has no exception


def test_sarashina_v2_mteb_fallbacks_for_tasks_outside_its_dict():
    # MTEB: SARASHINA_V2_INSTRUCTIONS' task-type keys, then AbsTaskSTS.abstask_prompt (sarashina_embedding_models.py)
    assert (resolved("sarashina-embedding-v2-1b", "mteb", "jaquad_retrieval", "query"),
            resolved("sarashina-embedding-v2-1b", "mteb", "jaquad_retrieval", "document")) == (
        "task: クエリを与えるので、もっともクエリに意味が似ている一節を探してください。\nquery: ", "text: ")
    assert resolved("sarashina-embedding-v2-1b", "mteb", "jsts_valid", "query") == \
        "task: Retrieve semantically similar text.\nquery: "


def test_every_protocol_defines_how_it_applies_prompts():
    assert set(PROTOCOL_PROMPTS) == set(PROTOCOLS)


def test_protocol_semantics_on_one_profile():
    """The same query/document-only profile under each protocol (e5's), and the model's own prompts."""
    profile = {"query": "query: ", "document": "passage: "}
    jsts, scifact = load_task("jsts"), load_task("scifact")
    own = lambda: {"query": "own q: ", "document": "own d: ", "passage": "own p: "}  # noqa: E731
    # jmteb / card: every side as configured (single texts are queries)
    assert prompt_for(profile, jsts, "jmteb", "query") == "query: "
    # mteb: STS has no prompt type: nothing applies; a task-type key would
    assert prompt_for(profile, jsts, "mteb", "query") is None
    assert prompt_for({**profile, "STS": "sts: "}, jsts, "mteb", "query") == "sts: "
    assert prompt_for({"jsts-query": "x"}, jsts, "mteb", "query") is None  # needs a prompt type
    assert prompt_for(profile, scifact, "mteb", "document") == "passage: "
    # mteb, typed side the profile leaves open: "" (registry prompts replace the model's), or the model's own
    assert prompt_for({"Retrieval-query": "rq: "}, scifact, "mteb", "document", own=own) == ""
    assert prompt_for({}, scifact, "mteb", "document", own=own) == "own d: "
    # nanobeir: the model's own query / document prompts (document before passage), unless the profile says
    assert prompt_for({}, scifact, "nanobeir", "query", own=own) == "own q: "
    assert prompt_for({}, scifact, "nanobeir", "document", own=own) == "own d: "
    assert prompt_for({"default": {"query": "x: "}, "nanobeir": {}}, scifact, "nanobeir", "query", own=own) == \
        "own q: "
    assert prompt_for({"nanobeir": {"query": "x: "}}, scifact, "nanobeir", "query", own=own) == "x: "
    assert prompt_for({"nanobeir": {"query": "x: "}}, scifact, "nanobeir", "document", own=own) == "own d: "
    own_passage = lambda: {"query": "", "passage": "own p: "}  # noqa: E731  (no "document": ST < 5 configs)
    assert prompt_for({}, scifact, "nanobeir", "document", own=own_passage) == "own p: "


def test_profile_order_suite_then_protocol_then_default():
    prompts = {"default": {"query": "d"}, "jmteb": {"query": "j"}, "jmteb_v2": {"query": "v2"}}
    assert select_profile(prompts, "jmteb", "jmteb_v2") == ("jmteb_v2", {"query": "v2"})
    assert select_profile(prompts, "jmteb", "jmteb_v1") == ("jmteb", {"query": "j"})
    assert select_profile(prompts, "mteb", None) == ("default", {"query": "d"})
    assert select_profile({"query": "flat"}, "mteb") == ("default", {"query": "flat"})
    assert select_profile({}, "mteb") == (None, {})
    # a suite's profile describes its own protocol: jmteb_v2 run under protocol=mteb takes the mteb profile
    assert suite_prompt_profile(_suite("jmteb_v2"), "jmteb") == "jmteb_v2"
    assert suite_prompt_profile(_suite("jmteb_v2"), "mteb") is None
    assert suite_prompt_profile(_suite("offline_real"), "nanobeir") == "offline_real"  # protocol null: any


@pytest.mark.parametrize("prompts, needle", [
    ({"jmteb_v9": {"query": "x"}}, "field 'prompts.jmteb_v9': unknown prompt profile"),
    ({"default": {"query": "x"}, "query": "y"}, "field 'prompts.query': prompts are either prompt keys or named"),
    ({"default": {"Retreival-query": "x"}}, "field 'prompts.default.Retreival-query': unknown task type"),
])
def test_bad_profiles_are_one_line(prompts, needle):
    with pytest.raises(HarnessError, match="^m.yaml: ") as caught:
        check_prompt_keys(prompts, task_names(), "m.yaml", ("default", "jmteb", "jmteb_v1"))
    assert needle in str(caught.value)


def test_bad_profile_in_a_model_override_stops_the_run(capsys):
    assert main(["run", "+model.prompts={jmteb_v3: {query: x}}", "tasks=[jsts]"]) == 2
    err = capsys.readouterr().err
    assert "field 'prompts.jmteb_v3': unknown prompt profile" in err and err.count("\n") == 1


def test_list_prompts_prints_each_tasks_exact_strings(capsys):
    assert main(["list", "prompts", "model=sarashina-embedding-v2-1b", "suite=jmteb_v2"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("jsts "))
    assert line == ("jsts (STS, protocol jmteb, profile jmteb_v2): sentence1+sentence2 "
                    "'task: クエリを与えるので，もっともクエリに意味が似ている一節を探してください。\\nquery: '")
    line = next(line for line in out.splitlines() if line.startswith("mrtydi "))
    assert "検索するしてください。\\nquery: ' | document 'text: '" in line
    assert main(["list", "prompts", "model=multilingual-e5-base", "suite=jmteb_v1"]) == 0
    out = capsys.readouterr().out
    assert "jagovfaqs_22k (Retrieval, protocol jmteb, profile jmteb_v1): query None | document None" in out
    assert main(["list", "prompts", "model=sarashina-embedding-v2-1b"]) == 2
    assert "usage: harness list prompts model=M suite=S" in capsys.readouterr().err


def test_list_prompts_reads_the_models_own_prompts(tmp_path, capsys, tiny_model_with_prompts):
    assert main(["list", "prompts", "model=all-minilm-l6-v2", f"model.path={tiny_model_with_prompts}",
                 "suite=nanobeir_ja", "tasks=[nano_scifact_ja]"]) == 0
    out = capsys.readouterr().out
    assert "nano_scifact_ja (Retrieval, protocol nanobeir, profile none): query '犬が ' | document '猫が '" in out


class Recording:
    """A model-free encoder that records the prompt of every side it is asked to encode."""

    calls: list[tuple[str, str, str | None]] = []

    def __init__(self, config):
        self.config = config

    def encode(self, texts, side):
        Recording.calls.append((side.task, side.role, side.prompt))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


@pytest.mark.parametrize("protocol, sts_prompt", [("jmteb", "query: "), ("mteb", None)])
def test_a_run_applies_and_records_the_strings(tmp_path, monkeypatch, capsys, protocol, sts_prompt):
    from tests.faults.conftest import make_data

    monkeypatch.setattr("harness.runner.build_encoder", Recording)
    Recording.calls = []
    out = tmp_path / "out"
    argv = ["run", "model=multilingual-e5-base", "model.path=counting", f"data_dir={make_data(tmp_path / 'data')}",
            "tasks=[jsts,jaquad_retrieval]", f"protocol={protocol}", f"output_dir={out}", "cache=false",
            "encode.show_progress=false"]
    assert main(argv) == 0, capsys.readouterr().err
    assert {(t, r, p) for t, r, p in Recording.calls} == {
        ("jsts", "query", sts_prompt), ("jaquad_retrieval", "query", "query: "),
        ("jaquad_retrieval", "document", "passage: ")}
    sts = json.loads((out / "STS" / "scores_jsts.json").read_text())["provenance"]
    retrieval = json.loads((out / "Retrieval" / "scores_jaquad_retrieval.json").read_text())["provenance"]
    assert (sts["prompts"], sts["prompt_profile"]) == ({"query": sts_prompt}, "default")
    assert retrieval["prompts"] == {"query": "query: ", "document": "passage: "}
