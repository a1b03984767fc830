"""Remote code runs only when the model config allows it; otherwise one clear line, before anything loads."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.encoders.base import build_encoder
from harness.encoders.model_files import check_remote_code
from harness.errors import HarnessError
from harness.prompts import encode_for
from harness.taskspec import load_task
from tests.encoders.test_backend_parity import config


@pytest.fixture()
def remote_model(tiny_models, tmp_path):
    """A copy of a tiny BERT whose config.json points at code in the repository (as RoSEtta's does)."""
    path = tmp_path / "remote"
    shutil.copytree(tiny_models("bert", pooling="mean"), path)
    data = json.loads((path / "config.json").read_text())
    data["auto_map"] = {"AutoModel": "modeling_custom.CustomModel"}
    (path / "config.json").write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("backend", ["transformers", "sentence_transformers"])
def test_remote_code_refused_unless_allowed(remote_model, backend):
    encoder = build_encoder(config(remote_model, backend))
    with pytest.raises(HarnessError) as err:
        encode_for(encoder, ["a"], role="query", task=load_task("jsts"))
    message = str(err.value)
    assert "\n" not in message
    assert "config.json (auto_map) asks to run code" in message and "trust_remote_code: false" in message


def test_custom_module_in_modules_json_is_remote_code(tiny_models, tmp_path):
    path = tmp_path / "custom"
    shutil.copytree(tiny_models("static"), path)
    (path / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "sse.SSE"}]))
    with pytest.raises(HarnessError, match=r"modules.json \(sse.SSE\) asks to run code"):
        check_remote_code(path, config(path, "static"))
    check_remote_code(path, config(path, "static", trust_remote_code=True))  # allowed: no error
