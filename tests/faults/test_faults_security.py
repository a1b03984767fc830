"""Security: custom model code runs only when the model config allows it; API keys appear in no file, log or
message a run writes; a run does not write over another model's results unless told to."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.provenance import REDACTED, scrub
from tests.conftest import resave_with_other_weights
from tests.faults.conftest import fails_cleanly, files_under, run_args

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-secretmarker0123456789abcdef"

CUSTOM_CODE = """
from pathlib import Path
from transformers import BertConfig, BertModel

Path({marker!r}).write_text("custom code ran")


class CustomConfig(BertConfig):
    pass


class CustomModel(BertModel):
    config_class = CustomConfig
"""


@pytest.fixture
def remote_code_model(tmp_path, tiny_model) -> tuple[Path, Path]:
    """The tiny model with `auto_map` pointing at a module that leaves a marker file when it is imported."""
    model = tmp_path / "remote-model"
    shutil.copytree(tiny_model, model)
    marker = tmp_path / "marker"
    (model / "custom_bert.py").write_text(CUSTOM_CODE.format(marker=str(marker)))
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "custom_bert.CustomConfig", "AutoModel": "custom_bert.CustomModel"}
    (model / "config.json").write_text(json.dumps(config))
    return model, marker


def test_faults_remote_code_refused_without_trust(tmp_path, remote_code_model, data_dir, capsys):
    model, marker = remote_code_model
    fails_cleanly(capsys, run_args(tmp_path, model, "model.trust_remote_code=false"), str(model / "config.json"),
                  "auto_map", "custom_bert.CustomModel", "trust_remote_code: false",
                  clean=(tmp_path / "out", tmp_path / "cache"))
    assert not marker.exists()


def test_faults_loader_never_runs_untrusted_code(remote_code_model):
    """Behind the harness's own check, the backend's loader does not import the module either: it refuses or
    (transformers 5, local dir) loads the model's standard architecture."""
    from harness.config import compose, plan
    from harness.encoders.st_backend import load_model_checked

    model, marker = remote_code_model
    encoder = plan(compose([f"model.path={model}", "tasks=[jsts]"])).encoder
    assert encoder.trust_remote_code is False
    try:
        load_model_checked(encoder)
    except HarnessError as exc:
        assert "trust_remote_code" in str(exc)
    assert not marker.exists()


def test_faults_custom_modules_json_refused(tmp_path, tiny_model, data_dir, capsys):
    model = tmp_path / "custom-modules"
    shutil.copytree(tiny_model, model)
    modules = json.loads((model / "modules.json").read_text())
    modules[-1]["type"] = "evil_pkg.Pooling"
    (model / "modules.json").write_text(json.dumps(modules))
    fails_cleanly(capsys, run_args(tmp_path, model), str(model / "modules.json"), "evil_pkg.Pooling",
                  "trust_remote_code", clean=(tmp_path / "out", tmp_path / "cache"))


def test_faults_remote_code_runs_when_the_model_config_allows_it(tmp_path, remote_code_model, data_dir):
    """The gate is the config: the same directory with trust_remote_code=true runs the model's code."""
    model, marker = remote_code_model
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_MODULES_CACHE": str(tmp_path / "modules")}
    proc = subprocess.run([sys.executable, "-m", "harness", *run_args(tmp_path, model, "model.trust_remote_code=true")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "custom code ran"
    assert json.loads((tmp_path / "out" / "STS" / "scores_jsts.json").read_text()
                      )["provenance"]["model"]["trust_remote_code"] is True


def test_faults_api_keys_never_written_or_printed(tmp_path, tiny_model, data_dir, capsys, monkeypatch):
    secrets = {"OPENAI_API_KEY": SECRET, "HARNESS_API_KEY": SECRET + "h", "HF_TOKEN": "hf_" + "s3cretmarker" * 3}
    markers = [SECRET, "s3cretmarker"]
    # A full run in a real process with logging on (--debug), so its stdout/stderr are what a user sees.
    proc = subprocess.run([sys.executable, "-m", "harness", "--debug",
                           *run_args(tmp_path, tiny_model, tasks="[jsts,jaquad_retrieval]")],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **secrets}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "ndcg@10" in proc.stdout, proc.stderr
    outputs = [proc.stdout + proc.stderr]
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    # A failing run whose message would echo the value it rejects, and a prompt that holds a key.
    assert main(run_args(tmp_path, tiny_model, f"encode.batch_size={SECRET}")) == 2
    assert main(run_args(tmp_path, tiny_model, f"+model.prompts.query={SECRET}", "overwrite=true")) == 0
    captured = capsys.readouterr()
    outputs.append(captured.out + captured.err)
    assert f"encode.batch_size' must be an integer, got str '{REDACTED}'" in captured.err
    written = files_under(tmp_path / "out") + files_under(tmp_path / "cache")
    assert any(p.name == "run.json" for p in written) and any(p.suffix == ".emb" for p in written)
    for blob in [*outputs, *(p.read_bytes().decode("latin-1") for p in written)]:
        for marker in markers:
            assert marker not in blob
    assert json.loads((tmp_path / "out" / "STS" / "scores_jsts.json").read_text()
                      )["provenance"]["prompts"]["query"] == REDACTED


def test_faults_scrub_redacts_secret_fields_and_key_shaped_strings(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "plain-but-secret-value")
    data = {"model": {"api_key": "anything", "max_tokens": 512, "path": "/m"},
            "note": "called with sk-abcdefghijklmnopqrstuvwx", "env": ["x plain-but-secret-value y"]}
    assert scrub(data) == {"model": {"api_key": REDACTED, "max_tokens": 512, "path": "/m"},
                           "note": f"called with {REDACTED}", "env": [f"x {REDACTED} y"]}


def test_faults_refuses_to_mix_two_models_in_one_output_dir(tmp_path, tiny_model, broken_models, data_dir, capsys):
    other = tmp_path / "other-model"  # the same model name and architecture, other weights: another run
    shutil.copytree(tiny_model, other)
    resave_with_other_weights(other)
    assert main(run_args(tmp_path, tiny_model)) == 0
    before = {p: p.read_bytes() for p in files_under(tmp_path / "out")}
    fails_cleanly(capsys, run_args(tmp_path, other), str(tmp_path / "out" / "run.json"),
                  "holds results of run", str(tiny_model), "overwrite=true")
    assert {p: p.read_bytes() for p in files_under(tmp_path / "out")} == before
    assert main(run_args(tmp_path, other, "overwrite=true")) == 0
    assert json.loads((tmp_path / "out" / "run.json").read_text())["model"]["path"] == str(other)
