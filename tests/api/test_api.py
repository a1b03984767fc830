"""harness.evaluate: an in-memory model, its saved directory on the CLI, and an encode function give the same
score files byte for byte (provenance naming the model aside)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import harness
from harness.cli import main
from harness.errors import HarnessError

TASKS = ["jsts", "scifact", "paws_x_ja"]
COMMON = {"protocol": "mteb", "encode": {"show_progress": False}}


def _files(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.glob("*/scores_*.json"))}


def _without_model_name(data: bytes) -> dict:
    """A score file with the fields that name the model taken out: its name and where it is, and the identity
    they make with its content (an in-memory model's identity hashes its tensors, a directory's its files)."""
    record = json.loads(data)
    model = record["provenance"]["model"]
    provenance = {k: v for k, v in record["provenance"].items() if k != "run_identity"}
    return {**record, "provenance": {**provenance, "model": {k: v for k, v in model.items()
                                                             if k not in ("name", "path", "weights_sha256")}}}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_model, tiny_data):
    out = tmp_path_factory.mktemp("cli")
    assert main(["run", f"model={tiny_model}", "suite=offline_real", f"tasks=[{','.join(TASKS)}]",
                 "protocol=mteb", f"data_dir={tiny_data}", f"output_dir={out}", "cache=false",
                 "encode.show_progress=false"]) == 0
    return out


def test_in_memory_model_writes_the_cli_files(tmp_path, cli_run, tiny_model, tiny_data, capsys):
    model = SentenceTransformer(str(tiny_model), device="cpu")
    out = tmp_path / "api"
    result = harness.evaluate(model, suite="offline_real", tasks=TASKS, output_dir=out, data_dir=str(tiny_data),
                              cache=False, **COMMON)
    cli, api = _files(cli_run), _files(out)
    assert list(api) == list(cli) == ["PairClassification/scores_paws_x_ja.json", "Retrieval/scores_scifact.json",
                                      "STS/scores_jsts.json"]
    for name in cli:
        a, c = json.loads(api[name]), json.loads(cli[name])
        # what differs is only what names the model: its name and where it is (its weights' hash in memory)
        assert a["provenance"]["model"]["name"] == "in-memory" and c["provenance"]["model"]["name"] == tiny_model.name
        assert a["provenance"]["model"]["path"].startswith("memory:sha256:")
        assert c["provenance"]["model"]["path"] == str(tiny_model.resolve())
        assert _without_model_name(api[name]) == _without_model_name(cli[name])
        # and byte for byte once those two strings are swapped back
        swapped = api[name].replace(a["provenance"]["model"]["path"].encode(), str(tiny_model.resolve()).encode()) \
            .replace(b'"name": "in-memory"', f'"name": "{tiny_model.name}"'.encode())
        for key in ("weights_sha256", "run_identity"):  # the model's identity: its tensors', or its files' hash
            mine, theirs = (d["provenance"]["model"].get(key) or d["provenance"].get(key) for d in (a, c))
            assert mine and theirs
            swapped = swapped.replace(mine.encode(), theirs.encode())
        assert swapped == cli[name]
    assert (out / "summary.json").read_bytes() == (cli_run / "summary.json").read_bytes()
    # the typed records are the files' content
    for record in result.results:
        path = out / record.category / f"scores_{record.task}.json"
        assert json.loads(path.read_text()) == record.to_json()
    assert result.summary == json.loads((out / "summary.json").read_text())
    assert result.main["jsts"][0] == "cosine_spearman"
    assert result["scifact"].metric_value == json.loads(cli[ "Retrieval/scores_scifact.json"])["metric_value"]
    st = result["jsts"].provenance["model"]["st_config"]
    assert st == {"modules": ["Transformer", "Pooling"], "pooling": "mean", "include_prompt": True,
                  "normalize": False, "max_seq_length": 64, "prompts": {}, "default_prompt_name": None,
                  "similarity_fn_name": "cosine"}


def test_encode_function_gives_the_same_scores(cli_run, tiny_model, tiny_data, tmp_path):
    model = SentenceTransformer(str(tiny_model), device="cpu")
    seen = []

    def encode(texts, role, task):
        seen.append((task, role, len(texts)))
        return model.encode(texts, batch_size=32)

    out = tmp_path / "fn"
    result = harness.evaluate(encode, suite="offline_real", tasks=TASKS, output_dir=out, data_dir=str(tiny_data),
                              **COMMON)
    cli = _files(cli_run)
    for name, data in _files(out).items():
        got, want = _without_model_name(data), _without_model_name(cli[name])
        assert got["provenance"]["model"].pop("backend") == "callable"
        assert want["provenance"]["model"].pop("backend") == "sentence_transformers"
        want["provenance"]["model"].pop("st_config")
        assert got["provenance"]["model"].pop("max_length") is None
        assert want["provenance"]["model"].pop("max_length") == 64
        assert got == want
    assert result["jsts"].provenance["model"]["path"].endswith("test_encode_function_gives_the_same_scores"
                                                               ".<locals>.encode")
    assert ("scifact", "document", 50) in seen and ("scifact", "query", 12) in seen
    # no identity was vouched for: nothing cached
    assert json.loads((out / "run.json").read_text())["cache"] is None


def test_without_output_dir_nothing_is_written_and_results_come_back(tiny_model, tiny_data, tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = SentenceTransformer(str(tiny_model), device="cpu")
    result = harness.evaluate(model, tasks=["jsts"], data_dir=str(tiny_data), cache_dir=str(tmp_path / "cache"),
                              **COMMON)
    assert result.output_dir is None and list(tmp_path.iterdir()) == [tmp_path / "cache"]
    printed = capsys.readouterr().out
    assert "jsts: cosine_spearman" in printed and "results written" not in printed
    assert result.metrics() == {"jsts_cosine_spearman": result["jsts"].metric_value}


def test_cache_is_keyed_by_the_weights(tiny_model, tiny_data, tmp_path, capsys):
    """The same in-memory model is served from the cache; after a change of its weights, nothing is."""
    import torch

    model = SentenceTransformer(str(tiny_model), device="cpu")
    cache = str(tmp_path / "cache")
    run = lambda: harness.evaluate(model, tasks=["jsts"], data_dir=str(tiny_data), cache_dir=cache,
                                   output_dir=tmp_path / "out", overwrite=True, **COMMON)
    first = run()
    capsys.readouterr()
    again = run()
    assert "0 encoded" in capsys.readouterr().out and again["jsts"].metric_value == first["jsts"].metric_value
    with torch.no_grad():
        next(model.parameters()).mul_(1.5)
    changed = run()
    assert " 0 texts from cache" in capsys.readouterr().out
    assert changed["jsts"].provenance["model"]["path"] != first["jsts"].provenance["model"]["path"]
    fresh = harness.evaluate(model, tasks=["jsts"], data_dir=str(tiny_data), cache=False, **COMMON)
    assert changed["jsts"].metric_value == fresh["jsts"].metric_value != first["jsts"].metric_value


def test_bad_arguments_are_one_line_errors(tiny_data):
    with pytest.raises(HarnessError, match="give suite="):
        harness.evaluate(lambda t, r, k: np.zeros((len(t), 2), np.float32))
    with pytest.raises(HarnessError, match="unknown model 'no-such-model'"):
        harness.evaluate("no-such-model", tasks=["jsts"])
    with pytest.raises(HarnessError, match="cached only under an identity"):
        harness.evaluate(lambda t, r, k: np.zeros((len(t), 2), np.float32), tasks=["jsts"], cache=True)
    with pytest.raises(HarnessError, match="NaN or infinite"):
        harness.evaluate(lambda t, r, k: np.full((len(t), 2), np.nan, np.float32), tasks=["jsts"],
                         data_dir=str(tiny_data), **COMMON)
