"""encode=fast's kernel: picked from the processor's flags, resolved once, recorded in provenance, keying the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.cache import key_material
from harness.cli import main
from harness.encoders.base import EncoderConfig, build_encoder
from harness.encoders import fast_kernel
from harness.encoders.fast_kernel import KERNELS, cpu_flags, pick_kernel
from harness.errors import HarnessError
from tests.conftest import CORPUS, write_jsonl


@pytest.mark.parametrize("flags, kernel", [
    ({"avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni"}, "bf16/amx_bf16"),  # Intel Sapphire Rapids+
    ({"avx512f", "avx512_bf16", "avx512_vnni"}, "bf16/avx512_bf16"),  # AMD Zen 4/5, Intel Cooper Lake
    ({"avx512f", "avx512_vnni"}, "float32/cpu"),  # Intel Cascade/Ice Lake: int8 only by name (not exact enough)
    ({"avx2", "avx_vnni"}, "float32/cpu"),  # Intel Alder Lake
    ({"avx2"}, "float32/cpu"),
    (set(), "float32/cpu"),
])
def test_the_kernel_follows_the_processor(flags, kernel):
    assert pick_kernel("cpu", frozenset(flags)) == kernel
    assert kernel in KERNELS
    # a precision or the machine's own concrete name resolves to it; another unit's name is refused
    assert fast_kernel.resolve_kernel(kernel.partition("/")[0], "cpu", frozenset(flags)) == kernel
    assert fast_kernel.resolve_kernel(kernel, "cpu", frozenset(flags)) == kernel
    with pytest.raises(HarnessError, match="encode.kernel"):
        fast_kernel.resolve_kernel("bf16/amx_bf16" if kernel != "bf16/amx_bf16" else "bf16/avx512_bf16", "cpu",
                                   frozenset(flags))


def _config(path="p", **fields):
    return EncoderConfig(name="m", path=str(path), backend="sentence_transformers", device="cpu",
                         show_progress=False, **fields)


def test_auto_is_resolved_at_construction_and_keys_the_cache(monkeypatch):
    resolved = _config(kernel="auto")
    assert resolved.kernel == pick_kernel("cpu", cpu_flags()) != "auto"
    assert resolved.identity()["kernel"] == resolved.kernel
    def key(**extra):
        return json.dumps(key_material(_config(**extra), None), sort_keys=True)

    # every machine class apart: the flags decide the unit (what torch's kernels run), so they are faked here
    machines = ({"amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni"}, {"avx512_bf16", "avx512_vnni"}, set())
    keys = set()
    for flags in machines:
        monkeypatch.setattr(fast_kernel, "cpu_flags", lambda flags=flags: frozenset(flags))
        keys |= {key(kernel=precision) for precision in ("bf16", "int8", "float32")
                 if fast_kernel.machine_kernel(precision, "cpu") is not None}
    assert len({key(), *keys}) == 1 + 2 + 2 + 1  # the reference; bf16 and int8 on two unit sets; float32
    monkeypatch.undo()
    assert key(kernel="auto") == key(kernel=resolved.kernel)  # auto = what it chose
    assert "kernel" not in _config().identity()  # reference cache keys are unchanged


def test_kernels_stay_close_to_float32(tiny_model):
    from harness.prompts import encode_for
    from harness.taskspec import load_task

    texts = [t * (1 + i % 3) for i, t in enumerate(CORPUS * 3)]
    task = load_task("jsts")
    reference = encode_for(build_encoder(_config(tiny_model)), texts, role="query", task=task)
    kernels = [k for k in ("bf16", "int8") if fast_kernel.machine_kernel(k, "cpu") is not None]
    assert kernels or not fast_kernel.cpu_flags() & {"avx512_bf16", "avx_vnni", "avx512_vnni"}
    for kernel in kernels:  # what this machine has units for
        fast = encode_for(build_encoder(_config(tiny_model, kernel=kernel)), texts, role="query", task=task)
        cos = (fast * reference).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(reference, axis=1)
        assert cos.min() > 0.99, kernel


def test_encode_fast_records_the_machines_kernel_in_provenance(tmp_path, tiny_model):
    data = tmp_path / "data"
    rows = [{"sentence1": CORPUS[i % 10], "sentence2": CORPUS[(i * 3) % 10], "label": float(i % 5)} for i in range(20)]
    write_jsonl(data / "jsts" / "train.jsonl", rows)
    write_jsonl(data / "jsts" / "test.jsonl", rows)
    runs = {}
    for name, extra in (("fast", ["encode=fast"]), ("reference", [])):
        out = tmp_path / name
        assert main(["run", f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jsts]", f"output_dir={out}",
                     f"cache_dir={tmp_path}/cache", "encode.show_progress=false", "device=cpu", *extra]) == 0
        runs[name] = json.loads((out / "STS" / "scores_jsts.json").read_text())["provenance"]["encode"]
    assert runs["fast"]["kernel"] == pick_kernel("cpu")
    assert "kernel" not in runs["reference"]
    # and the batch plan it ran (conf/encode/fast.yaml), which also keys the cache
    assert (runs["fast"]["batching"], runs["fast"]["token_budget"], runs["fast"]["batch_size"]) == (
        "token_budget", 4096, 64)
    assert (runs["reference"]["batching"], runs["reference"]["token_budget"]) == ("reference", None)


def test_kernel_excludes_autocast_and_dtype():
    from harness.config import compose, plan

    with pytest.raises(HarnessError, match="encode.kernel"):
        plan(compose(["encode.kernel=auto", "encode.autocast=bfloat16"]))
