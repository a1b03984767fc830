"""Hydra composition of a run: model + suite + encode settings + top-level options, validated up front.

We use Hydra's compose API rather than @hydra.main so that every configuration mistake becomes one line
and exit code 2, before any model is loaded or any text encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from harness.encoders.base import ATTENTION, AUTOCAST, BACKENDS, DTYPES, POOLINGS, TORCH_BACKENDS, EncoderConfig
from harness.errors import HarnessError, one_of
from harness.paths import CONF_DIR
from harness.prompts import check_prompt_keys
from harness.schema import check_fields
from harness.store import STORAGE_DTYPES
from harness.taskspec import TaskSpec, load_task, task_names

PROTOCOLS = ("jmteb", "mteb", "nanobeir", "card")
SIMILARITIES = ("cosine", "dot", "euclidean", "manhattan")
_MODEL_FIELDS = {
    "name": (str, True), "path": (str, True), "revision": (str, False), "backend": (str, True),
    "pooling": (str, False), "normalize": (bool, False), "max_length": (int, False), "dtype": (str, False),
    "similarity": (str, False), "trust_remote_code": (bool, False), "prompts": (dict, False),
    "description": (str, False), "prompt_profile": (str, False),
    "add_eos": (bool, False), "truncate_dims": (list, False), "api": (dict, False),
}
_SUITE_FIELDS = {"name": (str, True), "description": (str, False), "protocol": (str, False),
                 "tasks": (list, True), "hub_overrides": (dict, False), "aggregate": (str, False)}
AGGREGATES = ("nanobeir",)
_ENCODE_FIELDS = {"batch_size": (int, False), "dtype": (str, False), "max_length": (int, False),
                  "normalize": (bool, False), "show_progress": (bool, False), "truncate_dims": (list, False),
                  "storage_dtype": (str, False), "batching": (str, False), "token_budget": (int, False),
                  "autocast": (str, False), "attention": (str, False), "workers": (int, False)}
BATCHING = ("reference", "token_budget")
_TOP_FIELDS = {"model": (dict, True), "suite": (dict, True), "encode": (dict, True), "protocol": (str, False),
               "tasks": (list, False), "data_dir": (str, False), "output_dir": (str, False),
               "device": (str, False), "seed": (int, False), "cache": (bool, False), "cache_dir": (str, False),
               "cache_chunk": (int, False), "overwrite": (bool, False)}


def group_names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(overrides: list[str]) -> DictConfig:
    """Compose conf/config.yaml with command-line overrides; unknown group options fail with the valid names."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise HarnessError(f"argument '{item}': expected key=value (a Hydra override)")
        group = key.lstrip("+~")
        if group in ("model", "suite", "encode", "experiment") and value not in group_names(group):
            raise one_of(group.replace("experiment", "experiment"), value, group_names(group),
                         where=f"{CONF_DIR / group}")
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="harness"):
            return hydra_compose("config", overrides=overrides)
    except OverrideParseException as exc:
        raise HarnessError(f"argument '{exc.override}': not a valid override ({_first_line(exc)})") from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise HarnessError(f"{CONF_DIR}: {_first_line(exc)}") from None
    except yaml.YAMLError as exc:  # a config file that is not YAML: name the file and line
        mark = getattr(exc, "problem_mark", None)
        where = f"{mark.name}:{mark.line + 1}" if mark else str(CONF_DIR)
        raise HarnessError(f"{where}: malformed YAML ({getattr(exc, 'problem', None) or exc})") from None


def _first_line(exc: BaseException) -> str:
    """Hydra often wraps the useful message in __cause__; surface the innermost non-empty one."""
    messages = []
    while exc is not None:
        if str(exc).strip() and str(exc).strip() != "None":  # antlr's parse errors stringify as "None"
            messages.append(str(exc).strip().splitlines()[0])
        exc = exc.__cause__ or exc.__context__
    return messages[-1] if messages else "invalid configuration"


@dataclass(frozen=True)
class RunPlan:
    """A validated run: which encoder, which tasks under which protocol, where results go."""

    encoder: EncoderConfig
    suite: str
    tasks: list[tuple[TaskSpec, str, dict[str, Any]]]  # (task, protocol, protocol params)
    data_dir: Path | None
    output_dir: Path
    cache_dir: Path | None
    seed: int
    device: str
    overwrite: bool
    model_file: str
    aggregate: str | None = None
    cache_chunk: int = 4096  # texts per cache entry: a killed run re-encodes at most one chunk
    storage_dtype: str | None = None  # retrieval corpora encoded to a disk memmap of this dtype (harness.store)


def with_hub_overrides(task: TaskSpec, overrides: dict[str, Any], suite_file: Path) -> TaskSpec:
    """A suite may re-point a hub dataset (JMTEB v1 vs v2 revision, JMTEB-lite): {hub path: {path, revision}}."""
    change = overrides.get((task.hub or {}).get("path"))
    if not change:
        return task
    unknown = set(change) - {"path", "revision"}
    if unknown:
        raise HarnessError(f"{suite_file}: field 'hub_overrides' may set only path and revision, "
                           f"got {sorted(unknown)[0]}")
    return replace(task, hub={**task.hub, **change})


def plan(cfg: DictConfig) -> RunPlan:
    from harness.families import FAMILIES
    from harness.paths import RESULTS_DIR

    data = OmegaConf.to_container(cfg, resolve=True)
    check_fields(data, _TOP_FIELDS, CONF_DIR / "config.yaml")
    model = data["model"]
    model_file = str(CONF_DIR / "model" / f"{model.get('name', '?')}.yaml")
    check_fields(model, _MODEL_FIELDS, model_file, "")
    if model["backend"] not in BACKENDS:
        raise one_of("backend", model["backend"], list(BACKENDS), where=f"{model_file}: field 'backend'")
    similarity = model.get("similarity") or "cosine"
    if similarity not in SIMILARITIES:
        raise one_of("similarity", similarity, list(SIMILARITIES), where=f"{model_file}: field 'similarity'")
    if model.get("pooling") is not None and model["pooling"] not in POOLINGS:
        raise one_of("pooling", model["pooling"], list(POOLINGS), where=f"{model_file}: field 'pooling'")
    check_prompt_keys(model.get("prompts") or {}, task_names(), model_file)
    if model.get("api") is not None:
        from harness.encoders.openai_backend import API_FIELDS

        check_fields(model["api"], API_FIELDS, model_file, "api.")
    suite = data["suite"]
    suite_file = CONF_DIR / "suite" / f"{suite.get('name', '?')}.yaml"
    check_fields(suite, _SUITE_FIELDS, suite_file)
    encode = check_fields(data["encode"], _ENCODE_FIELDS, CONF_DIR / "encode", "encode.")
    dtype = encode.get("dtype") or model.get("dtype") or "float32"
    if dtype not in DTYPES:
        raise one_of("dtype", dtype, list(DTYPES), where="field 'encode.dtype'")
    truncate_dims = _truncate_dims(encode.get("truncate_dims") or model.get("truncate_dims") or [], model_file)
    if encode.get("storage_dtype") not in (None, *STORAGE_DTYPES):
        raise one_of("storage dtype", encode["storage_dtype"], list(STORAGE_DTYPES),
                     where="field 'encode.storage_dtype'")
    if encode.get("batching") not in (None, *BATCHING):
        raise one_of("batching", encode["batching"], list(BATCHING), where="field 'encode.batching'")
    if encode.get("autocast") not in (None, *AUTOCAST):
        raise one_of("autocast", encode["autocast"], list(AUTOCAST), where="field 'encode.autocast'")
    if encode.get("attention") not in (None, *ATTENTION):
        raise one_of("attention", encode["attention"], list(ATTENTION), where="field 'encode.attention'")
    # Options only a local torch model can honour: accepting them elsewhere would label embeddings with a
    # setting that was never applied (and key the cache by it).
    if model["backend"] not in TORCH_BACKENDS:
        for key, default in (("autocast", None), ("attention", None), ("batching", "reference")):
            if encode.get(key) not in (None, default):
                raise HarnessError(f"field 'encode.{key}': applies to backends {', '.join(TORCH_BACKENDS)}, "
                                   f"not {model['backend']} ({model_file})")
    if encode.get("batching") == "token_budget" and model["backend"] != "sentence_transformers":
        raise HarnessError(f"field 'encode.batching': token_budget is implemented by backend "
                           f"sentence_transformers only, not {model['backend']} ({model_file})")
    if encode.get("workers") is not None and encode["workers"] < 1:
        raise HarnessError("field 'encode.workers' must be a positive integer")
    if encode.get("token_budget") is not None and encode["token_budget"] < 1:
        raise HarnessError("field 'encode.token_budget' must be a positive integer")
    protocol = data.get("protocol") or suite.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        raise one_of("protocol", protocol, list(PROTOCOLS), where="field 'protocol'")

    if suite.get("aggregate") not in (None, *AGGREGATES):
        raise one_of("aggregate", suite["aggregate"], list(AGGREGATES), where=f"{suite_file}: field 'aggregate'")
    # A suite entry is a task name, or `task@protocol` to run a task under a fixed protocol as well
    # (its results are keyed `task_protocol`).
    names = suite["tasks"]
    if data.get("tasks"):
        unknown = [t for t in data["tasks"] if t not in names]
        if unknown:
            raise one_of("task", unknown[0], names, where=f"field 'tasks' (suite {suite['name']})")
        names = [t for t in names if t in data["tasks"]]
    tasks = []
    for entry in names:
        name, _, pinned = str(entry).partition("@")
        task = with_hub_overrides(load_task(name), suite.get("hub_overrides") or {}, suite_file)
        chosen = pinned or protocol or task.default_protocol
        if pinned:
            task = replace(task, name=f"{name}_{pinned}")
        tasks.append((task, chosen, FAMILIES[task.family].protocol_params(task, chosen)))

    encoder = EncoderConfig(
        name=model["name"], path=str(model["path"]), revision=model.get("revision"), backend=model["backend"],
        pooling=model.get("pooling"),
        normalize=encode["normalize"] if encode.get("normalize") is not None else bool(model.get("normalize")),
        max_length=encode.get("max_length") or model.get("max_length"), dtype=dtype, similarity=similarity,
        trust_remote_code=bool(model.get("trust_remote_code")), prompts=dict(model.get("prompts") or {}),
        batch_size=encode.get("batch_size") or 32, device=data.get("device") or "auto",
        show_progress=encode.get("show_progress", True),
        add_eos=bool(model.get("add_eos")), truncate_dims=truncate_dims, api=dict(model.get("api") or {}),
        batching=encode.get("batching") or "reference", token_budget=encode.get("token_budget") or 16384,
        autocast=encode.get("autocast"), attention=encode.get("attention"), workers=encode.get("workers") or 2,
    )
    data_dir = Path(data["data_dir"]).expanduser() if data.get("data_dir") else None
    if data_dir is not None and not data_dir.is_dir():
        raise HarnessError(f"field 'data_dir': {data_dir} is not a directory")
    output = data.get("output_dir") or str(RESULTS_DIR / "runs" / model["name"] / suite["name"])
    cache_dir = Path(data["cache_dir"]).expanduser() if data.get("cache", True) and data.get("cache_dir") else None
    cache_chunk = 4096 if data.get("cache_chunk") is None else data["cache_chunk"]
    if cache_chunk < 1:
        raise HarnessError(f"{CONF_DIR / 'config.yaml'}: field 'cache_chunk' must be a positive integer")
    return RunPlan(encoder=encoder, suite=suite["name"], tasks=tasks, data_dir=data_dir,
                   aggregate=suite.get("aggregate"),
                   output_dir=Path(output).expanduser(), cache_dir=cache_dir, seed=int(data.get("seed") or 0),
                   device=encoder.device, overwrite=bool(data.get("overwrite")), model_file=model_file,
                   cache_chunk=cache_chunk, storage_dtype=encode.get("storage_dtype"))


def _truncate_dims(dims: list, model_file: str) -> tuple[int, ...]:
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims) or len(set(dims)) != len(dims):
        raise HarnessError(f"{model_file}: field 'truncate_dims' must list distinct positive integers, got {dims}")
    return tuple(dims)
