"""The Python API: `harness.evaluate(model, suite=..., tasks=..., protocol=..., output_dir=None, **overrides)`.

The same composition, plan and runner as `harness run` (harness.config, harness.runner): prompts, the
embedding cache, provenance and the score files are those of the CLI. `model` is
- a model config name (conf/model/<name>.yaml), a directory or a hub id (`org/name`: harness.st_config);
- a SentenceTransformer object: run as it is (its own modules, on its own device), described by its own
  configuration as its saved directory would be (harness.st_config), its identity the sha256 of its weights
  (harness.weights): provenance and run.json name it `memory:sha256:<hex>`, and the embedding cache is keyed by
  it, so a changed model is never served another model's vectors;
- an encode function `fn(texts, role, task) -> float32 array (len(texts), dim)`; role is query|document, task
  the result key. The prompt a run would use is put before each text, or passed as `prompt=` when `fn`
  accepts that keyword. Its vectors are cached only under an identity the caller vouches for
  (`model={"revision": "<version>"}`); without one the cache is off.

`**overrides` are the CLI's Hydra overrides as keywords (`data_dir=`, `seed=`, `cache=False`,
`encode={"batch_size": 64}`, `model={"name": "mine"}`; dotted keys through `**{"encode.dtype": "bfloat16"}`).
Without `output_dir` nothing is kept on disk; with it, the files `harness run` writes.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import RunPlan, compose, group_names, plan
from harness.encoders.base import EncoderConfig, Side, check_embeddings
from harness.errors import HarnessError, one_of
from harness.results import TaskResult, read_results
from harness.summary import Summary, summary_of
from harness.weights import MEMORY_PREFIX

GROUPS = ("model", "suite", "encode", "experiment")


@dataclass(frozen=True)
class Evaluation:
    """What a run computed: the score files' records (run order), summary.json's content, the suite's
    aggregate (e.g. nanobeir.json's keys), Matryoshka results per dimension, and where the files are."""

    results: list[TaskResult]
    summary: Summary
    aggregate: dict[str, float] = field(default_factory=dict)
    by_dim: dict[int, list[TaskResult]] = field(default_factory=dict)
    output_dir: Path | None = None
    plan: RunPlan | None = field(default=None, repr=False)

    def __getitem__(self, task: str) -> TaskResult:
        for result in self.results:
            if result.task == task:
                return result
        raise KeyError(task)

    @property
    def main(self) -> dict[str, tuple[str, float]]:
        """task -> (main metric, value)."""
        return {r.task: (r.metric_name, r.metric_value) for r in self.results}

    def metrics(self) -> dict[str, float]:
        """Flat keys: `<task>_<main metric>` for every task, then the aggregate's keys."""
        return {**{f"{r.task}_{r.metric_name}": r.metric_value for r in self.results}, **self.aggregate}


def evaluate(model: Any, suite: str | None = None, tasks: Sequence[str] | None = None, protocol: str | None = None,
             output_dir: str | Path | None = None, **overrides: Any) -> Evaluation:
    """Evaluate `model` on a suite (or a task list) exactly as `harness run` does; see the module docstring."""
    with _encoder_for(model, overrides) as (model_override, build):
        return run_composed(model_override, build, suite=suite, tasks=tasks, protocol=protocol,
                            output_dir=output_dir, overrides=overrides)


def run_composed(model_override: str, build: Callable[[RunPlan], Any] | None, *, suite, tasks, protocol,
                 output_dir, overrides: Mapping[str, Any], data=None, quiet: bool = False) -> Evaluation:
    """Compose, plan and run; `build(plan)` gives the ready encoder (None: built from the config)."""
    from harness.runner import run

    args = [model_override, *_suite_overrides(suite, tasks), *hydra_overrides(overrides)]
    if protocol is not None:
        args.append(f"protocol={protocol}")
    with contextlib.ExitStack() as stack:
        target = Path(output_dir) if output_dir is not None else \
            Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harness-evaluate-")))
        args.append(f"++output_dir={_value(str(target))}")
        the_plan = plan(compose(args))
        encoder = build(the_plan) if build is not None else None
        output = _Output(sys.stdout, quiet, None if output_dir else target)
        stack.callback(output.close)  # after stdout is restored: a last unterminated line is not lost
        stack.enter_context(contextlib.redirect_stdout(output))
        if encoder is not None:
            stack.enter_context(_max_length(encoder, the_plan.encoder))
        results = run(the_plan, encoder=encoder, data=data)
        return _collect(the_plan, results, target, keep=output_dir is not None)


def _collect(the_plan: RunPlan, results: list[TaskResult], directory: Path, keep: bool) -> Evaluation:
    aggregate: dict[str, float] = {}
    if the_plan.aggregate:
        from harness.aggregate import AGGREGATORS

        names = [(getattr(t.params, "name", None) or t.key, r) for t, r in zip(the_plan.tasks, results)]
        aggregate = AGGREGATORS[the_plan.aggregate][1](names)
    by_dim = {dim: read_results(directory / f"dim{dim}") for dim in the_plan.encoder.truncate_dims}
    return Evaluation(results=results, summary=summary_of(results), aggregate=aggregate, by_dim=by_dim,
                      output_dir=directory if keep else None, plan=the_plan)


# ---- the model argument ------------------------------------------------------------------------------------

def is_sentence_transformer(model: Any) -> bool:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:  # pragma: no cover - a dependency
        return False
    return isinstance(model, SentenceTransformer)


@contextlib.contextmanager
def _encoder_for(model: Any, overrides: dict[str, Any]) -> Iterator[tuple[str, Callable | None]]:
    """(the `model=` override, a function building the ready encoder from the plan, or None)."""
    if isinstance(model, Path):
        model = str(model)
    if isinstance(model, str):
        from harness.st_config import looks_like_model

        if model not in group_names("model") and not looks_like_model(model):
            raise one_of("model", model, group_names("model"),
                         where="harness.evaluate (a conf/model name, a directory or a hub id org/name)")
        yield f"model={model}", None
    elif is_sentence_transformer(model):
        yield memory_model_option(model, overrides), lambda p: in_memory_encoder(p.encoder, model)
    elif callable(model):
        yield callable_model_option(model, overrides), lambda p: CallableEncoder(p.encoder, model)
    else:
        raise HarnessError(f"harness.evaluate: model must be a SentenceTransformer, an encode function, a model "
                           f"config name, a directory or a hub id, got {type(model).__name__}")


def memory_model_option(model: Any, overrides: Mapping[str, Any]) -> str:
    """A registered model config describing the in-memory `model` as its saved directory would be described,
    with its weights' sha256 as its path (its identity: provenance, run.json, the cache key)."""
    import torch

    from harness.st_config import model_node, read_model, register
    from harness.weights import sentence_transformer_sha256

    _refuse(overrides, ("path", "backend", "revision", "trust_remote_code"), "a SentenceTransformer object")
    # the model stays where it is: searches run there too, and provenance names that device (not "auto")
    if isinstance(overrides, dict) and "device" not in overrides:
        overrides["device"] = str(model.device)
    dtype = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}.get(
        next((p.dtype for p in model.parameters()), torch.float32), "float32")
    node = model_node("in-memory", MEMORY_PREFIX + sentence_transformer_sha256(model), read_model(model),
                      dtype=dtype)
    return f"model={register(node)}"


def callable_model_option(fn: Callable, overrides: Mapping[str, Any]) -> str:
    from harness.st_config import register

    _refuse(overrides, ("path", "backend"), "an encode function")
    given = _flatten(overrides)
    if given.get("model.revision") is None:
        if given.get("cache") is True:
            raise HarnessError("harness.evaluate: an encode function's vectors are cached only under an identity "
                               "you vouch for: pass model={'revision': '<version of the function>'}")
        overrides["cache"] = False
    name = getattr(fn, "__qualname__", type(fn).__name__)
    node = {"name": getattr(fn, "__name__", name), "path": f"callable:{getattr(fn, '__module__', '?')}.{name}",
            "revision": None, "backend": "callable", "pooling": None, "normalize": False, "max_length": None,
            "dtype": "float32", "similarity": "cosine", "trust_remote_code": False, "prompts": {}}
    return f"model={register(node)}"


def _refuse(overrides: Mapping[str, Any], fields: tuple[str, ...], what: str) -> None:
    given = _flatten(overrides)
    for name in fields:
        if f"model.{name}" in given:
            raise HarnessError(f"harness.evaluate: field 'model.{name}' cannot be set for {what}")


def in_memory_encoder(config: EncoderConfig, model: Any):
    """The sentence_transformers backend over a model object that is already loaded (nothing is read)."""
    from harness.encoders.st_backend import SentenceTransformersEncoder

    encoder = SentenceTransformersEncoder(config)
    encoder._model = model  # the backend loads lazily: a model already set is used as it is
    return encoder


class CallableEncoder:
    """Backend `callable`: a user function (texts, role, task) -> array; no batch plan of its own."""

    def __init__(self, config: EncoderConfig, fn: Callable | None = None):
        if fn is None:
            raise HarnessError(f"model {config.name}: backend 'callable' is given a function by harness.evaluate "
                               f"only; a model config cannot name one")
        self.config = config
        self.fn = fn
        try:
            parameters = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            parameters = {}
        self.takes_prompt = "prompt" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        if self.takes_prompt:
            out = self.fn(list(texts), side.role, side.task, prompt=side.prompt)
        else:
            out = self.fn([(side.prompt or "") + t for t in texts], side.role, side.task)
        if hasattr(out, "detach"):  # a torch tensor
            out = out.detach().float().cpu().numpy()
        return check_embeddings(np.asarray(out), len(texts), f"model {self.config.name} on task {side.task}")


@contextlib.contextmanager
def _max_length(encoder: Any, config: EncoderConfig) -> Iterator[None]:
    """An in-memory model runs with the plan's max length (an override) and gets its own back afterwards."""
    model = getattr(encoder, "_model", None)
    if model is None or config.max_length is None or config.max_length == model.max_seq_length:
        yield
        return
    before = model.max_seq_length
    model.max_seq_length = config.max_length
    try:
        yield
    finally:
        model.max_seq_length = before


# ---- overrides ---------------------------------------------------------------------------------------------

def _suite_overrides(suite: str | None, tasks: Sequence[str] | None) -> list[str]:
    """suite=S [tasks=[...]] as on the CLI; tasks alone form a suite of their own (any task, `task@protocol`)."""
    if isinstance(tasks, str):
        tasks = [tasks]
    if suite is not None:
        return [f"suite={suite}"] + ([f"tasks={_value(list(tasks))}"] if tasks else [])
    if not tasks:
        raise HarnessError("harness.evaluate: give suite= (conf/suite/<name>.yaml) or tasks=[...]")
    from harness.st_config import register

    return ["suite=" + register({"name": "tasks", "description": None, "protocol": None, "tasks": list(tasks),
                                 "hub_overrides": None, "aggregate": None}, group="suite")]


def hydra_overrides(overrides: Mapping[str, Any]) -> list[str]:
    """Keyword overrides as Hydra override strings: a group choice as `group=name`, every other value as
    `++key=value` (set or add; plan() still rejects unknown fields with one line)."""
    out = []
    for key, value in _flatten(overrides).items():
        if key in GROUPS and isinstance(value, str):
            out.append(f"{key}={value}")
        else:
            out.append(f"++{key}={_value(value)}")
    return out


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value and not key.endswith("prompts") and key != "api":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _value(value: Any) -> str:
    """A Python value in Hydra's override grammar (strings quoted, so any path or prompt passes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (Path, str)):
        escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in value.items()) + "}"
    raise HarnessError(f"harness.evaluate: cannot pass a {type(value).__name__} as an override value")


class _Output(io.TextIOBase):
    """The runner's stdout lines: passed on (or dropped when `quiet`), without the closing "results written
    to <temporary directory>" of a run that keeps no files."""

    def __init__(self, target, quiet: bool, hidden_dir: Path | None):
        self.target, self.quiet, self.hidden = target, quiet, hidden_dir
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        if self.quiet or (self.hidden is not None and line == f"results written to {self.hidden}"):
            import logging

            logging.getLogger("harness.api").info(line)
            return
        self.target.write(line + "\n")

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        if self.buffer:
            self._emit(self.buffer)
            self.buffer = ""
