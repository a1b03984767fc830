"""`harness run model=<hub id>` and `model=<directory>` without a YAML: the model's own sentence-transformers
config, printed at start and recorded in provenance; the hub id read at the commit its revision resolves to
(the Hub stand-in on loopback, tests/hub)."""

from __future__ import annotations

import json

import pytest

from tests.hub.conftest import hub_env, one_error_line, run
from tests.hub.repos import Fixture, add_model_repo
from tests.hub.server import HubStandIn

HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
PRINTED = (f"model {HUB_ID}: from its sentence-transformers config: modules Transformer, Pooling, Normalize; "
           f"pooling mean; normalize yes (Normalize module); max_seq_length 256; similarity cosine; prompts none")
ST_CONFIG = {"modules": ["Transformer", "Pooling", "Normalize"], "pooling": "mean", "include_prompt": True,
             "normalize": True, "max_seq_length": 256, "prompts": {}, "default_prompt_name": None,
             "similarity_fn_name": "cosine"}


@pytest.fixture(scope="module")
def model_hub():
    hub, fixture = HubStandIn(), Fixture()
    add_model_repo(hub, fixture)
    with hub:
        yield hub, fixture
    assert not hub.stray


def _scores(out):
    return json.loads((out / "STS" / "scores_jsts.json").read_text())


def test_hub_id_runs_with_its_own_config_at_the_resolved_commit(model_hub, tmp_path, tiny_data, minilm_path):
    hub, fixture = model_hub
    env = hub_env(hub.url, tmp_path / "hf")
    common = ["tasks=[jsts]", "protocol=mteb", f"data_dir={tiny_data}", "cache=false", "encode.show_progress=false"]
    pinned = run(["harness", "run", f"model={HUB_ID}", f"model.revision={fixture.shas['model']}", *common,
                  f"output_dir={tmp_path / 'pinned'}"], env)
    assert pinned.returncode == 0, pinned.stderr[-3000:]
    assert pinned.stdout.splitlines()[0] == PRINTED
    model = _scores(tmp_path / "pinned")["provenance"]["model"]
    assert (model["name"], model["path"], model["revision"], model["resolved"]) == \
        (HUB_ID, HUB_ID, fixture.shas["model"], fixture.shas["model"])
    assert model["st_config"] == ST_CONFIG and model["max_length"] == 256 and model["pooling"] is None
    latest = run(["harness", "run", f"model={HUB_ID}", *common, f"output_dir={tmp_path / 'main'}"], env)
    assert latest.returncode == 0, latest.stderr[-3000:]
    assert _scores(tmp_path / "main")["provenance"]["model"]["resolved"] == fixture.shas["model_main"]
    # the same weights from a directory: the same config read from the same files, the same score
    local = run(["harness", "run", f"model={minilm_path}", *common, f"output_dir={tmp_path / 'dir'}"], env)
    assert local.returncode == 0, local.stderr[-3000:]
    assert local.stdout.splitlines()[0] == PRINTED.replace(HUB_ID, minilm_path)
    assert _scores(tmp_path / "dir")["provenance"]["model"]["st_config"] == ST_CONFIG
    assert _scores(tmp_path / "dir")["metric_value"] == _scores(tmp_path / "pinned")["metric_value"]


def test_unknown_hub_id_is_one_line(model_hub, tmp_path):
    hub, _ = model_hub
    result = run(["harness", "run", "model=nobody/nothing", "tasks=[jsts]"], hub_env(hub.url, tmp_path / "hf"))
    assert f"model repository nobody/nothing does not exist on the Hub ({hub.url})" in one_error_line(result)


def test_prompts_map_to_harness_keys(tmp_path, tiny_model):
    """config_sentence_transformers.json prompts: query, the first of document/passage/corpus, harness keys
    kept, others reported; default_prompt_name fills the roles left without one."""
    import shutil

    from harness.config import compose, plan

    model = tmp_path / "prompted"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config_sentence_transformers.json").read_text())
    config["prompts"] = {"query": "query: ", "passage": "passage: ", "corpus": "corpus: ", "Retrieval-query": "R: ",
                         "classification": "C: ", "nli": "nli: "}
    config["default_prompt_name"] = "classification"
    (model / "config_sentence_transformers.json").write_text(json.dumps(config))
    encoder = plan(compose([f"model={model}", "tasks=[jsts]"])).encoder
    assert encoder.prompts == {"query": "query: ", "document": "passage: ", "Retrieval-query": "R: "}
    assert encoder.max_length == 64 and encoder.name == "prompted"
    config["prompts"], config["default_prompt_name"] = {"query": "q: ", "classification": "C: "}, "classification"
    (model / "config_sentence_transformers.json").write_text(json.dumps(config))
    encoder = plan(compose([f"model={model}", "tasks=[jsts]", "model.max_length=32"])).encoder
    assert encoder.prompts == {"query": "q: ", "document": "C: "} and encoder.max_length == 32
