"""Protocols as named, typed units, checked at plan time.

A mistyped vocabulary name anywhere (task YAML, model YAML, command-line override) stops the run in one line
before any text is encoded; the device reaches the search; a `task@protocol` suite entry resolves prompts on
the task's own name.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from harness import taskspec
from harness.cli import main
from harness.families import FAMILIES
from harness.params import Params
from harness.paths import TASKS_DIR
from tests.faults.conftest import make_data

ENCODED: list[tuple[str, str]] = []


class CountingEncoder:
    """Records every encode call; vectors from the text length (retrieval needs something to rank)."""

    def __init__(self, config):
        self.config = config

    def encode(self, texts, side):
        ENCODED.append((side.task, side.role, side.prompt))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


@pytest.fixture
def counting(monkeypatch):
    ENCODED.clear()
    monkeypatch.setattr("harness.runner.build_encoder", CountingEncoder)
    return ENCODED


@pytest.fixture
def tasks_dir(tmp_path, monkeypatch):
    """A copy of tasks/ the test may edit, read instead of the repository's."""
    copy = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, copy)
    monkeypatch.setattr(taskspec, "TASKS_DIR", copy)
    taskspec.load_task.cache_clear()
    yield copy
    taskspec.load_task.cache_clear()


def _edit_task(directory, name: str, protocol: str, field: str, value) -> None:
    file = directory / f"{name}.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    data["protocols"][protocol] = {**(data["protocols"][protocol] or {}), field: value}
    file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _argv(tmp_path, *extra: str, tasks: str = "[jsts,jaquad_retrieval]") -> list[str]:
    make_data(tmp_path / "data")
    return ["run", "model.path=counting", f"data_dir={tmp_path / 'data'}", f"tasks={tasks}",
            f"output_dir={tmp_path / 'out'}", "cache=false", "encode.show_progress=false", *extra]


def _refused(capsys, argv, *needles) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("task, protocol, field, value, needle", [
    ("jsts", "jmteb", "similarities", ["cosine", "manhatan"], "unknown similarity 'manhatan'"),
    ("jaquad_retrieval", "jmteb", "similarities", ["cosin"], "unknown similarity 'cosin'"),
    ("jaquad_retrieval", "mteb", "similarity", "manhattn", "unknown similarity 'manhattn'"),
    ("sib200_japanese_classification", "jmteb", "classifiers", ["svm"], "unknown classifier 'svm'"),
    ("sib200_japanese_clustering", "jmteb", "algorithms", ["KMeans"], "unknown clustering algorithm 'KMeans'"),
    ("paws_x_ja", "jmteb", "distances", ["cosin"], "unknown distance 'cosin'"),
    ("jqara", "jmteb", "similarities", ["dott"], "unknown similarity 'dott'"),
    ("jqara", "jmteb", "candidates", "rows", "unknown candidates 'rows'"),
    ("jaquad_retrieval", "jmteb", "doc_text", "body", "unknown doc_text 'body'"),
    ("jsts", "jmteb", "main_metric", "kendall", "unknown main metric 'kendall'"),
    ("jaquad_retrieval", "mteb", "k_values", [0, 10], "field 'k_values' must hold positive integers"),
])
def test_a_mistyped_name_in_a_task_file_stops_before_encoding(tmp_path, capsys, counting, tasks_dir, task, protocol,
                                                               field, value, needle):
    _edit_task(tasks_dir, task, protocol, field, value)
    suite = "jmteb_v2" if task == "jqara" else "offline_real"
    line = _refused(capsys, _argv(tmp_path, f"protocol={protocol}", f"suite={suite}", tasks=f"[{task}]"), needle)
    assert f"{task}.yaml" in line
    assert counting == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("override, needle", [
    ("model.similarity=manhatan", "unknown similarity 'manhatan'"),
    ("model.pooling=avg", "unknown pooling 'avg'"),
    ("model.backend=onnx", "unknown backend 'onnx'"),
    ("model.dtype=fp8", "unknown dtype 'fp8'"),
    ("device=gpu", "unknown device 'gpu'"),
    ("device=cuda:x", "unknown device 'cuda:x'"),
    ("protocol=mtb", "unknown protocol 'mtb'"),
    ("encode.dtype=float8", "unknown dtype 'float8'"),
    ("encode.attention=flash", "unknown attention 'flash'"),
    ("encode.batch_size=0", "field 'encode.batch_size' must be a positive integer"),
    ("model.max_length=0", "field 'max_length' must be a positive integer"),
    ("seed=-1", "field 'seed' must be an integer >= 0"),
])
def test_a_mistyped_model_field_or_override_stops_before_encoding(tmp_path, capsys, counting, override, needle):
    _refused(capsys, _argv(tmp_path, override), needle)
    assert counting == [] and not (tmp_path / "out").exists()


def test_a_gpu_device_without_a_gpu_is_refused_at_plan_time(tmp_path, capsys, counting, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    _refused(capsys, _argv(tmp_path, "device=cuda"), "device 'cuda'", "sees no CUDA GPU")
    assert counting == []


def test_device_cpu_keeps_the_search_on_the_cpu(tmp_path, capsys, counting, monkeypatch):
    from harness.families import retrieval

    seen = []
    search = retrieval.top_k

    def spy(*args, device="auto", **kwargs):
        seen.append(device)
        return search(*args, device=device, **kwargs)

    monkeypatch.setattr(retrieval, "top_k", spy)
    assert main(_argv(tmp_path, "device=cpu", tasks="[jaquad_retrieval]")) == 0, capsys.readouterr().err
    assert seen and set(seen) == {"cpu"}


def test_task_at_protocol_resolves_prompts_on_the_tasks_own_name(tmp_path, capsys, counting, shared_data):
    argv = ["run", "model.path=counting", f"data_dir={shared_data}", "suite=offline_real",
            "tasks=[scifact,scifact@nanobeir]", f"output_dir={tmp_path / 'out'}", "cache=false",
            "encode.show_progress=false", '+model.prompts={scifact-query: "Q: "}']
    assert main(argv) == 0, capsys.readouterr().err
    prompts = {(task, role): prompt for task, role, prompt in counting}
    assert prompts[("scifact", "query")] == "Q: " and prompts[("scifact_nanobeir", "query")] == "Q: "
    # the side the profile leaves open: sentence-transformers' encode_document prompt, the model's own ("" here,
    # a stand-in model configures none); the same under mteb, where a non-empty profile replaces the model's own
    assert prompts[("scifact_nanobeir", "document")] == "" and prompts[("scifact", "document")] == ""
    # a prompt keyed by the result key names no task, and is refused
    bad = [*argv[:-1], '+model.prompts={scifact_nanobeir-query: "Q: "}']
    _refused(capsys, bad, "prompts.scifact_nanobeir-query")


def test_every_protocol_is_a_typed_unit():
    for family in FAMILIES.values():
        for name, unit in family.protocols.items():
            assert unit.name == name and issubclass(unit.params, Params) and callable(unit.run)
            defaults = unit.params()
            defaults.validate("defaults")  # the declared defaults are themselves valid
            assert "main_metric" in defaults.field_names()
