"""Every model config composes and validates; bad ones stop at start with one line (exit 2); listing is complete."""

from __future__ import annotations

import pytest
import yaml

from harness.cli import main
from harness.config import compose, group_names, plan, prompt_profile_names
from harness.listing import model_prompts
from harness.paths import CONF_DIR
from harness.prompts import check_prompt_keys, prompt_for
from harness.taskspec import load_task, task_names

CARD_MODELS = {  # every model of the five cards' tables, by config name
    "rosetta-base-ja", "glucose-base-ja", "glucose-base-ja-v2", "sarashina-embedding-v1-1b",
    "sarashina-embedding-v2-1b", "sse-retrieval-mrl-ja", "sse-retrieval-mrl-ja-quantized",
    "static-embedding-japanese", "ruri-small", "ruri-base", "ruri-large", "ruri-v3-30m", "ruri-v3-70m",
    "ruri-v3-130m", "ruri-v3-310m", "multilingual-e5-small", "multilingual-e5-base", "multilingual-e5-large",
    "openai-text-embedding-3-small", "openai-text-embedding-3-large", "openai-text-embedding-ada-002",
    "all-minilm-l6-v2",
}


def test_every_card_model_is_configured():
    assert CARD_MODELS <= set(group_names("model"))


@pytest.mark.parametrize("name", sorted(CARD_MODELS))
def test_model_config_plans_and_listing_agrees_with_hydra(name):
    encoder = plan(compose([f"model={name}"])).encoder
    raw = yaml.safe_load((CONF_DIR / "model" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert model_prompts(raw)[1] == encoder.prompts  # `harness list` shows what a run uses


def test_prompt_profiles_are_valid_and_give_the_cards_prefixes():
    """The `default` profiles hold the cards' prefixes (what a card protocol run uses); the benchmark profiles
    are checked in tests/core/test_prompts.py."""
    for path in (CONF_DIR / "model" / "prompts").glob("*.yaml"):
        check_prompt_keys(yaml.safe_load(path.read_text(encoding="utf-8")), task_names(), str(path),
                          prompt_profile_names())
    jsts, jaquad = "jsts", "jaquad_retrieval"
    cases = {  # (model, task, role) -> the literal prefix of its card
        ("rosetta-base-ja", jaquad, "document"): "passage: ",
        ("rosetta-base-ja", jsts, "query"): "query: ",
        ("multilingual-e5-large", jaquad, "query"): "query: ",
        ("ruri-base", jaquad, "document"): "文章: ",
        ("ruri-v3-310m", jaquad, "query"): "検索クエリ: ",
        ("ruri-v3-310m", jsts, "query"): "",
        ("sarashina-embedding-v2-1b", jaquad, "document"): "text: ",
        ("sarashina-embedding-v2-1b", jaquad, "query"):
            "task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\nquery: ",
        ("sarashina-embedding-v1-1b", jaquad, "query"): None,
        ("glucose-base-ja", jsts, "query"): None,
    }
    for (model, name, role), expected in cases.items():
        task = load_task(name)
        prompts = plan(compose([f"model={model}"])).encoder.prompts
        assert prompt_for(prompts, task, "card", role) == expected, (model, name, role)


@pytest.mark.parametrize("override, needle", [
    ("model.pooling=weighted", "all-minilm-l6-v2.yaml: field 'pooling': unknown pooling 'weighted'; valid: cls,"),
    ("+model.prompts.Retreival-query=x", "all-minilm-l6-v2.yaml: field 'prompts.Retreival-query': unknown task type"),
    ("+model.prompts.nosuchtask=x", "all-minilm-l6-v2.yaml: field 'prompts.nosuchtask': unknown task type"),
    ("+model.truncate_dims=[64,0]", "all-minilm-l6-v2.yaml: field 'truncate_dims' must list distinct positive"),
    ("+model.api.retries=3", "all-minilm-l6-v2.yaml: unknown field 'api.retries'"),
])
def test_bad_model_config_stops_at_start_with_one_line(override, needle, capsys):
    assert main(["run", override, "tasks=[jsts]"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_list_models_shows_prompts_per_task_type(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    for name in CARD_MODELS:
        assert f"\n{name}: " in "\n" + out
    block = out.split("sarashina-embedding-v2-1b: ", 1)[1].split("\nsse-retrieval", 1)[0]
    assert "prompts (file sarashina-v2):" in block
    assert "Retrieval: query 'task: 質問を与えるので、その質問に答えるのに役立つ関連文書を検索してください。\\nquery: ' | document 'text: '" in block
    assert "PairClassification: none" in block
    assert "profile jmteb_v2:" in block and "+ 44 task-specific keys" in block
    assert "profile nanobeir: empty (the model's own behaviour)" in block
    ruri = out.split("ruri-v3-30m: ", 1)[1].split("\nruri-v3-310m", 1)[0]
    assert "STS: ''" in ruri and "Classification: 'トピック: '" in ruri
    e5 = out.split("multilingual-e5-base: ", 1)[1].split("\nmultilingual-e5-large", 1)[0]
    assert "profile jmteb_v1: empty" in e5 and "Retrieval: query 'query: ' | document 'passage: '" in e5
