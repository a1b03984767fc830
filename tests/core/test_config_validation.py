"""Task and model configs: typos and wrong types fail at start, naming the file and the field."""

from __future__ import annotations

import pytest

from harness.config import compose, plan
from harness.errors import HarnessError
from harness.families import FAMILIES
from harness.prompts import check_prompt_keys, resolve_prompt
from harness.taskspec import load_task, parse_task

GOOD = """name: {name}
family: sts
category: STS
source: {{local: jsts}}
splits: {{validation: train, test: test}}
default_protocol: jmteb
protocols:
  jmteb: {{}}
"""


def write(tmp_path, text, name="t1"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_task_parses(tmp_path):
    task = parse_task(write(tmp_path, GOOD.format(name="t1")))
    params = FAMILIES["sts"].protocol_params(task, "jmteb")
    assert params["main_metric"] == "spearman" and params["select_on"] == "validation"


@pytest.mark.parametrize("mutate, needle", [
    (lambda t: t.replace("family: sts", "family: nope"), "unknown family 'nope'"),
    (lambda t: t.replace("category: STS", "category: Sts"), "unknown category 'Sts'"),
    (lambda t: t + "main_metrc: x\n", "unknown field 'main_metrc'"),
    (lambda t: t.replace("jmteb: {}", "jmteb: {similarities: cosine}"), "protocols.jmteb.similarities"),
    (lambda t: t.replace("jmteb: {}", "jmteb: {nope: 1}"), "unknown field 'protocols.jmteb.nope'"),
    (lambda t: t.replace("jmteb: {}", "nanobeir: {}"), "unknown protocol 'nanobeir'"),
    (lambda t: t.replace("family: sts", "family: [sts"), "malformed YAML"),
    (lambda t: t.replace("name: t1", "name: other"), "field 'name'"),
])
def test_bad_task_files_name_file_and_field(tmp_path, mutate, needle):
    path = write(tmp_path, mutate(GOOD.format(name="t1")))
    with pytest.raises(HarnessError) as err:
        parse_task(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_every_shipped_task_parses():
    from harness.taskspec import task_names

    for name in task_names():
        task = load_task(name)
        for protocol in task.protocols:
            assert "main_metric" in FAMILIES[task.family].protocol_params(task, protocol)


def test_prompt_precedence():
    prompts = {"query": "q: ", "document": "d: ", "Retrieval-query": "rq: ", "jsts": "sts: ", "jsts-document": "x"}
    assert resolve_prompt(prompts, "jsts", "STS", "query") == "sts: "
    assert resolve_prompt(prompts, "jsts", "STS", "document") == "x"
    assert resolve_prompt(prompts, "scifact", "Retrieval", "query") == "rq: "
    assert resolve_prompt(prompts, "scifact", "Retrieval", "document") == "d: "
    assert resolve_prompt({}, "scifact", "Retrieval", "document") is None


def test_prompt_for_unknown_task_type_is_rejected():
    with pytest.raises(HarnessError, match="prompts.Retreival-query"):
        check_prompt_keys({"Retreival-query": "x"}, ["jsts"], "conf/model/m.yaml")


def test_model_override_reaches_encoder_config(tmp_path):
    p = plan(compose(["model.path=/some/dir", "encode.dtype=bfloat16", "tasks=[jsts]", "protocol=mteb",
                      f"output_dir={tmp_path}"]))
    assert p.encoder.path == "/some/dir" and p.encoder.dtype == "bfloat16"
    assert [(t.key, t.protocol) for t in p.tasks] == [("jsts", "mteb")]


def test_bad_dtype_and_model_field_rejected():
    with pytest.raises(HarnessError, match="dtype"):
        plan(compose(["encode.dtype=float8"]))
    with pytest.raises(HarnessError, match="unknown field 'poolin'"):
        plan(compose(["+model.poolin=mean"]))


def test_data_dir_defaults_to_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    assert plan(compose([])).data_dir == tmp_path


def test_fast_encode_options_are_checked_against_the_backend():
    fast = plan(compose(["encode=fast", "tasks=[jsts]"]))
    from harness.encoders.base import resolve_device
    from harness.encoders.fast_kernel import pick_kernel

    assert (fast.encoder.autocast, fast.encoder.attention, fast.encoder.workers) == (None, "sdpa", 2)
    assert fast.encoder.kernel == pick_kernel(resolve_device(fast.encoder.device))  # auto, resolved
    with pytest.raises(HarnessError, match="field 'encode.attention'"):
        plan(compose(["encode.attention=flash", "tasks=[jsts]"]))
    # a setting the backend cannot apply would label (and cache) embeddings with something never done
    for override in ("encode.autocast=bfloat16", "encode.attention=eager", "encode.batching=token_budget",
                     "encode.kernel=auto"):
        with pytest.raises(HarnessError, match=r"field 'encode\.\w+': applies to backends .* not static"):
            plan(compose(["model=static-embedding-japanese", override, "tasks=[jsts]"]))
    # both torch backends plan token-budget batches (encode=fast uses them)
    assert plan(compose(["model=ruri-v3-30m", "model.backend=transformers", "encode=fast",
                         "tasks=[jsts]"])).encoder.batching == "token_budget"
    # a kernel loads the weights in its own dtype: a model's other dtype would be recorded, never applied
    with pytest.raises(HarnessError, match="field 'encode.kernel' sets the weights' dtype itself"):
        plan(compose(["encode=fast", "model.dtype=bfloat16", "tasks=[jsts]"]))
    with pytest.raises(HarnessError, match="leave encode.autocast null"):
        plan(compose(["encode=fast", "encode.autocast=bfloat16", "tasks=[jsts]"]))
    from harness.encoders.fast_kernel import resolve_kernel

    # int8 is torch.ao's CPU-only dynamic quantisation (no GPU here: the resolution itself, as EncoderConfig
    # calls it); a unit the machine would not run as named is refused, not recorded
    with pytest.raises(HarnessError, match="no unit for int8 on device cuda"):
        resolve_kernel("int8", "cuda")
    with pytest.raises(HarnessError, match=r"bf16/amx_bf16 is not what this machine runs \(bf16/avx512_bf16"):
        resolve_kernel("bf16/amx_bf16", "cpu", frozenset({"avx512_bf16", "avx512_vnni"}))
    with pytest.raises(HarnessError, match="field 'encode.kernel': bf16/cuda is not what this machine runs"):
        plan(compose(["encode.kernel=bf16/cuda", "device=cpu", "tasks=[jsts]"]))
