"""Content identity: the embedding cache and the run identity follow the model's files, not its path, and the
batch plan; a cached run writes the bytes of a fresh one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cache import key_material
from harness.cli import main
from harness import weights as weights_module
from harness.encoders.base import EncoderConfig
from harness.weights import INDEX, Weights, WeightsIndex, directory_sha256, model_files
from tests.conftest import resave_with_other_weights
from tests.faults.conftest import make_data

SCORE = "STS/scores_jsts.json"


def _args(tmp_path: Path, model: Path, out: str, cache: str, *extra: str) -> list[str]:
    return ["run", f"model.path={model}", f"data_dir={tmp_path / 'data'}", "tasks=[jsts]",
            f"output_dir={tmp_path / out}", f"cache_dir={tmp_path / cache}", "encode.show_progress=false",
            "encode.batch_size=8", *extra]


def test_new_weights_at_the_same_path_are_encoded_anew(tmp_path, tiny_model, capsys):
    make_data(tmp_path / "data", sts_rows=40)
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    assert main(_args(tmp_path, model, "out", "cache")) == 0
    old = json.loads((tmp_path / "out" / SCORE).read_text())
    old_run = json.loads((tmp_path / "out" / "run.json").read_text())

    resave_with_other_weights(model)
    # The same output_dir now names another run (other weights): refused in one line, nothing encoded
    capsys.readouterr()
    assert main(_args(tmp_path, model, "out", "cache")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds results of run all-minilm-l6-v2 [jmteb]" in err[0] and "overwrite=true" in err[0]
    assert main(_args(tmp_path, model, "out", "cache", "overwrite=true")) == 0
    new_run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert new_run["cache"]["hit_texts"] == 0 and new_run["cache"]["miss_texts"] == old_run["cache"]["miss_texts"]
    assert new_run["model"]["weights_sha256"] != old_run["model"]["weights_sha256"]
    assert new_run["identity_key"] != old_run["identity_key"]
    new = json.loads((tmp_path / "out" / SCORE).read_text())
    assert new["metric_value"] != old["metric_value"]
    assert new["provenance"]["model"]["weights_sha256"] == new_run["model"]["weights_sha256"]
    assert new["provenance"]["model"]["revision"] is None  # a local directory: the YAML's hub revision is moot

    # Byte for byte what a run on a fresh cache writes
    assert main(_args(tmp_path, model, "fresh", "fresh-cache")) == 0
    for name in (SCORE, "summary.json"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
    # the files were hashed once and remembered by stat in the cache's index
    index = json.loads((tmp_path / "cache" / INDEX).read_text())
    assert str((model / "model.safetensors").resolve()) in index


def test_same_config_after_another_batch_size_is_byte_identical_to_a_fresh_run(tmp_path, tiny_model, capsys):
    make_data(tmp_path / "data", sts_rows=40)
    assert main(_args(tmp_path, tiny_model, "bs3", "cache", "encode.batch_size=3")) == 0
    assert main(_args(tmp_path, tiny_model, "bs8", "cache")) == 0
    run = json.loads((tmp_path / "bs8" / "run.json").read_text())
    assert run["cache"]["hit_texts"] == 0  # the other batch plan's vectors are never served
    assert main(_args(tmp_path, tiny_model, "fresh", "fresh-cache")) == 0
    for name in (SCORE, "summary.json"):
        assert (tmp_path / "bs8" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
    score = json.loads((tmp_path / "bs8" / SCORE).read_text())
    assert score["provenance"]["encode"]["batch_size"] == 8 and score["provenance"]["encode"]["batching"] == "reference"


def test_cache_key_covers_content_and_batch_plan_not_the_path():
    base = dict(name="m", path="/a", backend="sentence_transformers")
    weights = Weights("f" * 64)

    def key(config=None, w=weights):
        return json.dumps(key_material(config or EncoderConfig(**base), w), sort_keys=True)

    assert key() == key(EncoderConfig(**{**base, "path": "/elsewhere", "revision": "x"}))  # same content
    assert key() != key(w=Weights("e" * 64))
    assert key(w=None) != key(EncoderConfig(**{**base, "path": "/elsewhere"}), w=None)  # unknown content: path
    for change in ({"batch_size": 16}, {"batching": "token_budget"}, {"dtype": "bfloat16"}, {"max_length": 8},
                   {"normalize": True}, {"pooling": "cls"}, {"autocast": "bfloat16"}, {"attention": "eager"},
                   {"add_eos": True}):
        assert key(EncoderConfig(**base, **change)) != key(), change
    budget = EncoderConfig(**base, batching="token_budget")
    assert key(budget) != key(EncoderConfig(**base, batching="token_budget", token_budget=64))
    assert key(EncoderConfig(**base, workers=4)) == key()  # vectors are bit-identical for any worker count


def test_weights_hash_files_by_content_and_remembers_them_by_stat(tmp_path, monkeypatch):
    model = tmp_path / "m"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "1_Pooling" / "config.json").write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    (model / "README.md").write_text("card")
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref")
    (model / "onnx").mkdir()
    (model / "onnx" / "model.onnx").write_bytes(b"export")
    assert [p.relative_to(model).as_posix() for p in model_files(model)] == \
        ["1_Pooling/config.json", "model.safetensors", "tokenizer.json"]

    reads = []
    real = weights_module._file_sha256
    monkeypatch.setattr(weights_module, "_file_sha256", lambda p: reads.append(p.name) or real(p))
    def hashed(directory: Path) -> str:
        index = WeightsIndex(tmp_path / "cache")
        sha, count = directory_sha256(directory, index)
        index.save()
        assert count == 3
        return sha

    first = hashed(model)
    assert len(reads) == 3
    assert hashed(model) == first and len(reads) == 3  # from the index
    (model / "README.md").write_text("another card")  # not a file a backend reads
    assert hashed(model) == first
    (model / "model.safetensors").write_bytes(b"WEIGHTS")  # same size, new content
    second = hashed(model)
    assert second != first and reads[3:] == ["model.safetensors"]
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    assert directory_sha256(copy)[0] == second  # content, not place
    (tmp_path / "cache" / INDEX).write_text("not json")  # a broken index is rebuilt, not fatal
    assert hashed(model) == second


@pytest.mark.parametrize("backend", ["openai"])
def test_api_models_have_no_files_to_hash(backend):
    assert weights_module.model_weights(EncoderConfig(name="m", path="text-embedding-3-small", backend=backend)) is None
