"""Every documented `harness run` option fed an invalid value (issue 14): exit 2 in one line naming the option,
before the model is loaded or anything encoded.

The cases are generated from the option schemas themselves (harness.config's field specs and vocabularies), so
an option added there is covered here without a new test: a value of a type the field does not accept, and for
integer and named-choice fields values out of range.
"""

from __future__ import annotations

import pytest

from harness.config import _ENCODE_FIELDS, _MODEL_FIELDS, _TOP_FIELDS
from tests.faults.conftest import fails_cleanly, run_args

GROUPS = {"model", "suite", "encode"}  # whole config groups, chosen by name (their own tests: unknown names)
# Values as Hydra parses them: a field gets the first whose type it does not accept.
WRONG_TYPE = (("abc", str), ("[1]", list), ("5", int))
# Out of range for the fields that are integers with a lower bound, or one of a set of names.
OUT_OF_RANGE = {
    "encode.batch_size": ("0", "-1"), "encode.max_length": ("0", "-5"), "encode.token_budget": ("0", "-1"),
    "encode.workers": ("0", "-2"), "model.max_length": ("0", "-5"), "seed": ("-1",), "cache_chunk": ("0", "-3"),
    "encode.truncate_dims": ("[0]", "[-8]", "[8,8]", "[a]"), "model.truncate_dims": ("[0]",),
    "encode.dtype": ("float8",), "encode.storage_dtype": ("int8",), "encode.batching": ("fastest",),
    "encode.autocast": ("float64",), "encode.attention": ("flash",), "model.dtype": ("float8",),
    "model.backend": ("onnx",), "model.pooling": ("median",), "model.similarity": ("jaccard",),
    "device": ("foo", "cuda:x", "cuda:99", "gpu"), "protocol": ("nope",), "tasks": ("[nope]",),
}


def _type_cases():
    for prefix, spec in (("", _TOP_FIELDS), ("encode.", _ENCODE_FIELDS), ("model.", _MODEL_FIELDS)):
        for field, (types, _) in spec.items():
            if prefix == "" and field in GROUPS:
                continue
            accepted = types if isinstance(types, tuple) else (types,)
            wrong = next(v for v, t in WRONG_TYPE if t not in accepted)
            yield f"{prefix}{field}", wrong


CASES = [*_type_cases(), *((option, value) for option, values in OUT_OF_RANGE.items() for value in values)]


@pytest.mark.parametrize("option, value", CASES, ids=[f"{o}={v}" for o, v in CASES])
def test_faults_every_run_option_refuses_an_invalid_value(tmp_path, tiny_model, data_dir, capsys, monkeypatch,
                                                         option, value):
    def never(*args, **kwargs):
        raise AssertionError("the model was built for a run that should have been refused")

    monkeypatch.setattr("harness.runner.build_encoder", never)
    line = fails_cleanly(capsys, run_args(tmp_path, tiny_model, f"++{option}={value}"),
                         clean=(tmp_path / "out", tmp_path / "cache"))
    assert option.rpartition(".")[2] in line, line


def test_faults_cuda_on_a_build_without_cuda(tmp_path, tiny_model, data_dir, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this torch sees a GPU")
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "device=cuda"), "field 'device'", "no CUDA GPU",
                  clean=(tmp_path / "out", tmp_path / "cache"))


def test_faults_unknown_option(tmp_path, tiny_model, data_dir, capsys):
    fails_cleanly(capsys, run_args(tmp_path, tiny_model, "++encode.batchsize=8"), "unknown field 'encode.batchsize'",
                  clean=(tmp_path / "out", tmp_path / "cache"))
