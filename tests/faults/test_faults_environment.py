"""The run's environment (issue 14): a model path that is no model, a cache directory that cannot be written (a
file, read-only, full) and a full output disk are refused in one line before anything is encoded, with nothing
written."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.faults.conftest import files_under, fails_cleanly, fill, run_args, tmpfs


@pytest.fixture
def clean(tmp_path):
    return (tmp_path / "out", tmp_path / "cache")


def without_cache_dir(argv: list[str]) -> list[str]:
    return [a for a in argv if not a.startswith("cache_dir=")]


def test_faults_model_path_is_a_file(tmp_path, data_dir, capsys, clean):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\0" * 64)
    fails_cleanly(capsys, run_args(tmp_path, weights), "field 'model.path'", str(weights), "is a file", clean=clean)


def test_faults_model_path_is_a_directory_without_a_model(tmp_path, data_dir, capsys, clean):
    fails_cleanly(capsys, run_args(tmp_path, data_dir), "field 'model.path'", str(data_dir),
                  "not a model directory", clean=clean)


@pytest.mark.parametrize("damage", ["config_without_model_type", "weights_removed"])
def test_faults_model_directory_the_libraries_cannot_load(tmp_path, tiny_model, data_dir, capsys, clean, damage):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    if damage == "config_without_model_type":
        (model / "config.json").write_text(json.dumps({"hidden_size": 32}))
    else:
        (model / "model.safetensors").unlink()
    fails_cleanly(capsys, run_args(tmp_path, model), "field 'model.path'", str(model),
                  "cannot be loaded as a model", clean=clean)


def test_faults_cache_dir_env_points_at_a_file(tmp_path, tiny_model, data_dir, capsys, monkeypatch):
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(blocker))
    fails_cleanly(capsys, without_cache_dir(run_args(tmp_path, tiny_model)), "field 'cache_dir'", str(blocker),
                  "not a directory", clean=(tmp_path / "out",))
    assert blocker.read_text() == "not a directory\n"


def test_faults_read_only_cache_dir(tmp_path, tiny_model, data_dir, capsys):
    with tmpfs(tmp_path / "ro", "ro,size=64k") as read_only:
        fails_cleanly(capsys, run_args(tmp_path, tiny_model, f"cache_dir={read_only / 'cache'}"), "field 'cache_dir'",
                      str(read_only / "cache"), "Read-only file system", clean=(tmp_path / "out", read_only))


def test_faults_full_cache_disk(tmp_path, tiny_model, data_dir, capsys, small_disk):
    fill(small_disk, 0)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, f"cache_dir={small_disk / 'cache'}"), "field 'cache_dir'",
                  "No space left on device", "nothing was written", clean=(tmp_path / "out",))
    assert [p.name for p in files_under(small_disk)] == ["filler"]


def test_faults_full_output_disk(tmp_path, tiny_model, data_dir, capsys, small_disk):
    fill(small_disk, 0)
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, f"output_dir={small_disk / 'out'}"), "field 'output_dir'",
                  "No space left on device", clean=(tmp_path / "cache",))
    assert [p.name for p in files_under(small_disk)] == ["filler"]


def test_faults_list_form_auto_map(tmp_path, tiny_model, data_dir, capsys, clean):
    """`auto_map` as a list (an old export) asks for remote code as a mapping does."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "auto_map": ["modeling_custom.CustomModel"]}))
    fails_cleanly(capsys, run_args(tmp_path, model), str(model / "config.json"), "auto_map",
                  "modeling_custom.CustomModel", "trust_remote_code: false", clean=clean)


def test_faults_default_output_dir_cannot_be_created_before_the_model_loads(tmp_path, tiny_model, data_dir, capsys,
                                                                          clean, monkeypatch):
    # output_dir null: the run writes under results/runs/<model>/<suite>/<identity>, probed before the model loads
    blocker = tmp_path / "results"
    blocker.write_text("a file where the runs directory would go")
    monkeypatch.setattr("harness.paths.RUNS_DIR", blocker / "runs")
    loaded = []
    monkeypatch.setattr("harness.runner.build_encoder", lambda config: loaded.append(config))
    argv = [a for a in run_args(tmp_path, tiny_model) if not a.startswith("output_dir=")]
    fails_cleanly(capsys, argv, "field 'output_dir'", "cannot be created", "is not a directory", clean=clean)
    assert loaded == []
