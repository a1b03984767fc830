"""Hydra composition of a run: model + suite + encode settings + top-level options, validated up front.

We use Hydra's compose API rather than @hydra.main so that every configuration mistake becomes one line
and exit code 2, before any model is loaded or any text encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from harness.encoders.base import (ATTENTION, AUTOCAST, BACKENDS, BATCHING, DTYPES, POOLINGS, TORCH_BACKENDS,
                                   EncoderConfig, check_device)
from harness.encoders.fast_kernel import KERNELS
from harness.errors import HarnessError, one_of
from harness.families import FAMILIES, PROTOCOLS
from harness.params import Params
from harness.paths import CONF_DIR
from harness.prompts import check_prompt_keys
from harness.schema import check_fields
from harness.search import MODEL_SIMILARITIES
from harness.spec import TaskSpec
from harness.st_config import is_registered, looks_like_model, model_option
from harness.store import STORAGE_DTYPES
from harness.taskspec import load_task, task_names

_MODEL_FIELDS = {
    "name": (str, True), "path": (str, True), "revision": (str, False), "backend": (str, True),
    "pooling": (str, False), "normalize": (bool, False), "max_length": (int, False), "dtype": (str, False),
    "similarity": (str, False), "trust_remote_code": (bool, False), "prompts": (dict, False),
    "description": (str, False), "prompt_profile": (str, False),
    "add_eos": (bool, False), "truncate_dims": (list, False), "api": (dict, False),
    "st_config": (dict, False),  # a model named by hub id or directory: what its own files say (st_config.py)
}
_SUITE_FIELDS = {"name": (str, True), "description": (str, False), "protocol": (str, False),
                 "tasks": (list, True), "hub_overrides": (dict, False), "aggregate": (str, False),
                 "mirror_gaps": (dict, False), "prompt_profile": (str, False),
                 "protocol_params": (dict, False)}
_ENCODE_FIELDS = {"batch_size": (int, False), "dtype": (str, False), "max_length": (int, False),
                  "normalize": (bool, False), "show_progress": (bool, False), "truncate_dims": (list, False),
                  "storage_dtype": (str, False), "batching": (str, False), "token_budget": (int, False),
                  "autocast": (str, False), "attention": (str, False), "workers": (int, False),
                  "kernel": (str, False)}
_TOP_FIELDS = {"model": (dict, True), "suite": (dict, True), "encode": (dict, True), "protocol": (str, False),
               "tasks": (list, False), "data_dir": (str, False), "output_dir": (str, False),
               "device": (str, False), "seed": (int, False), "cache": (bool, False), "cache_dir": (str, False),
               "cache_chunk": (int, False), "overwrite": (bool, False), "resume": (bool, False)}


def group_names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(overrides: list[str]) -> DictConfig:
    """Compose conf/config.yaml with command-line overrides; unknown group options fail with the valid names."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    overrides = _model_options(overrides)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise HarnessError(f"argument '{item}': expected key=value (a Hydra override)")
        group = key.lstrip("+~")
        if is_registered(group, value):
            continue
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


def _model_options(overrides: list[str]) -> list[str]:
    """`model=<hub id or directory>` (no conf/model YAML of that name): an option built from the model's own
    sentence-transformers config (harness.st_config), read at `model.revision=` when one is given."""
    revision = next((o.partition("=")[2] for o in overrides if o.partition("=")[0].lstrip("+") == "model.revision"),
                    None)
    out = []
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "model" and value not in group_names("model") and not is_registered("model", value) \
                and looks_like_model(value):
            item = f"model={model_option(value, revision)}"
        out.append(item)
    return out


def _first_line(exc: BaseException) -> str:
    """Hydra often wraps the useful message in __cause__; surface the innermost non-empty one."""
    messages = []
    while exc is not None:
        if str(exc).strip() and str(exc).strip() != "None":  # antlr's parse errors stringify as "None"
            messages.append(str(exc).strip().splitlines()[0])
        exc = exc.__cause__ or exc.__context__
    return messages[-1] if messages else "invalid configuration"


@dataclass(frozen=True)
class PlannedTask:
    """One task of a run: its spec (never renamed), the protocol it runs under, that protocol's checked
    parameters, and the key its results are written under (the task's name, or `<task>_<protocol>` for a
    suite entry `task@protocol`)."""

    spec: TaskSpec
    protocol: str
    params: Params
    key: str
    # split role -> the role whose data stands in for it: a local mirror's gap the suite declares
    split_substitutes: dict[str, str] = field(default_factory=dict)
    prompt_profile: str | None = None  # the suite's model prompt profile, when it applies (harness.prompts)


@dataclass(frozen=True)
class RunPlan:
    """A validated run: which encoder, which tasks under which protocol, where results go. Field defaults
    here (and in EncoderConfig) are the only defaults: config files leave a value null to get them."""

    encoder: EncoderConfig
    suite: str
    tasks: list[PlannedTask]
    output_dir: Path | None  # None: named by the run identity (harness.identity.default_output_dir)
    model_file: str
    data_dir: Path | None = None
    cache_dir: Path | None = None
    seed: int = 0
    overwrite: bool = False  # replace a set of another run identity in output_dir
    resume: bool = True  # keep the previous set's tasks that are exactly what this run would compute
    aggregate: str | None = None
    cache_chunk: int = 4096  # texts per cache entry: a killed run re-encodes at most one chunk
    storage_dtype: str | None = None  # retrieval corpora encoded to a disk memmap of this dtype (harness.store)

    @property
    def device(self) -> str:
        return self.encoder.device


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


def _given(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The keys whose value is set (null means: the dataclass default)."""
    return {k: values[k] for k in keys if values.get(k) is not None}


def _at_least(value: int | None, minimum: int, where: str) -> None:
    if value is not None and value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise HarnessError(f"{where} must be {kind}, got {value}")


def suite_prompt_profile(suite: dict[str, Any], protocol: str) -> str | None:
    """The model prompt profile a suite names for a task run under `protocol`: `prompt_profile` (default: the
    suite's name) describes what the suite's published runs used under the suite's own protocol, so a task run
    under another one (`protocol=` override, `task@protocol`) gets that protocol's profile instead. A suite
    without a protocol of its own (offline_real) names its profile for every task, whatever protocol runs it."""
    if suite.get("protocol") not in (None, protocol):
        return None
    return suite.get("prompt_profile") or suite.get("name")


def prompt_profile_names() -> tuple[str, ...]:
    """The names a model's prompt profile may have: `default`, a protocol, a suite, a suite's prompt_profile."""
    from harness.prompts import DEFAULT_PROFILE

    names = [DEFAULT_PROFILE, *PROTOCOLS]
    for suite in group_names("suite"):
        data = yaml.safe_load((CONF_DIR / "suite" / f"{suite}.yaml").read_text(encoding="utf-8")) or {}
        names += [suite, *([data["prompt_profile"]] if isinstance(data.get("prompt_profile"), str) else [])]
    return tuple(dict.fromkeys(names))


def _check_model(model: dict[str, Any], model_file: str) -> None:
    check_fields(model, _MODEL_FIELDS, model_file, "")
    BACKENDS.check(model["backend"], f"{model_file}: field 'backend'")
    if model.get("similarity") is not None:
        MODEL_SIMILARITIES.check(model["similarity"], f"{model_file}: field 'similarity'")
    if model.get("pooling") is not None:
        POOLINGS.check(model["pooling"], f"{model_file}: field 'pooling'")
    if model.get("dtype") is not None:
        DTYPES.check(model["dtype"], f"{model_file}: field 'dtype'")
    _at_least(model.get("max_length"), 1, f"{model_file}: field 'max_length'")
    check_prompt_keys(model.get("prompts") or {}, task_names(), model_file, prompt_profile_names())
    if model.get("api") is not None:
        from harness.encoders.openai_backend import API_FIELDS

        check_fields(model["api"], API_FIELDS, model_file, "api.")


def _check_encode(encode: dict[str, Any], backend: str, model_file: str) -> None:
    for key, vocab in (("dtype", DTYPES), ("storage_dtype", STORAGE_DTYPES), ("batching", BATCHING),
                       ("autocast", AUTOCAST), ("attention", ATTENTION), ("kernel", KERNELS)):
        if encode.get(key) is not None:
            vocab.check(encode[key], f"field 'encode.{key}'")
    for key in ("batch_size", "max_length", "token_budget", "workers"):
        _at_least(encode.get(key), 1, f"field 'encode.{key}'")
    # Options only a local torch model can honour: accepting them elsewhere would label embeddings with a
    # setting that was never applied (and key the cache by it).
    if backend not in TORCH_BACKENDS:
        for key, default in (("autocast", None), ("attention", None), ("batching", "reference"), ("kernel", None)):
            if encode.get(key) not in (None, default):
                raise HarnessError(f"field 'encode.{key}': applies to backends {', '.join(TORCH_BACKENDS)}, "
                                   f"not {backend} ({model_file})")
    if encode.get("kernel") is not None and encode.get("autocast") is not None:
        raise HarnessError("field 'encode.kernel' sets the arithmetic itself: leave encode.autocast null with it")


def suite_protocol_params(suite: dict[str, Any], suite_file: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """A suite's `protocol_params: {family: {protocol: {field: value}}}` (e.g. JMTEB 1.4's retrieval k values
    for the v2 suites), checked on their own against each protocol's parameters, naming the suite file; they
    are layered over every task's own fields."""
    given = suite.get("protocol_params") or {}
    for family, by_protocol in given.items():
        where = f"{suite_file}: field 'protocol_params.{family}'"
        if family not in FAMILIES:
            raise one_of("family", family, list(FAMILIES), where=where)
        if not isinstance(by_protocol, dict):
            raise HarnessError(f"{where} must map protocols to fields")
        for name, fields in by_protocol.items():
            protocols = FAMILIES[family].protocols
            if name not in protocols:
                raise one_of("protocol", name, list(protocols), where=where)
            if not isinstance(fields, dict):
                raise HarnessError(f"{where}.{name} must map fields to values")
            protocols[name].params.build([(f"protocol_params.{family}.{name}", fields)], str(suite_file), family)
    return given


def with_mirror_gaps(task: TaskSpec, gaps: dict[str, Any], suite_file: Path) -> tuple[TaskSpec, dict[str, str]]:
    """A suite's declared gap of a local mirror ({role: role that stands in}, e.g. PAWS-X {test: validation}):
    the task reads the stand-in's file for that role; the substitution is returned to be recorded."""
    change = gaps.get(task.name)
    if not change:
        return task, {}
    if not isinstance(change, dict) or not all(isinstance(v, str) for v in change.values()):
        raise HarnessError(f"{suite_file}: field 'mirror_gaps.{task.name}' must map split roles to split roles")
    for role, stand_in in change.items():
        for name in (role, stand_in):
            if name not in task.splits:
                raise one_of("split role", name, list(task.splits),
                             where=f"{suite_file}: field 'mirror_gaps.{task.name}'")
    return replace(task, splits={**task.splits, **{r: task.splits[s] for r, s in change.items()}}), dict(change)


def plan_tasks(suite: dict[str, Any], suite_file: Path, protocol: str | None, only: list[str] | None,
               local: bool = False) -> list[PlannedTask]:
    """The suite's entries (a task name, or `task@protocol` to run a task under a fixed protocol as well,
    keyed `task_protocol`), each with its protocol's parameters built and checked. `local`: data comes from a
    data_dir, where the suite's declared mirror gaps apply."""
    names = suite["tasks"]
    layers = suite_protocol_params(suite, suite_file)
    if only:
        unknown = [t for t in only if t not in names]
        if unknown:
            raise one_of("task", unknown[0], names, where=f"field 'tasks' (suite {suite['name']})")
        names = [t for t in names if t in only]
    gaps = suite.get("mirror_gaps") or {}
    known = {str(e).partition("@")[0] for e in suite["tasks"]}
    if unknown := [name for name in gaps if name not in known]:
        raise one_of("task", unknown[0], sorted(known), where=f"{suite_file}: field 'mirror_gaps'")
    planned = []
    for entry in names:
        name, _, pinned = str(entry).partition("@")
        if pinned:
            PROTOCOLS.check(pinned, f"{suite_file}: field 'tasks' ({entry})")
        spec = with_hub_overrides(load_task(name), suite.get("hub_overrides") or {}, suite_file)
        spec, substitutes = with_mirror_gaps(spec, gaps, suite_file) if local else (spec, {})
        chosen = pinned or protocol or spec.default_protocol
        layer = layers.get(spec.family, {}).get(chosen)
        extra = ((f"suite protocol_params.{spec.family}.{chosen}", layer),) if layer else ()
        params = FAMILIES[spec.family].protocol_params(spec, chosen, extra)
        planned.append(PlannedTask(spec, chosen, params, f"{name}_{pinned}" if pinned else name, substitutes,
                                   suite_prompt_profile(suite, chosen)))
    keys = [t.key for t in planned]
    if len(set(keys)) != len(keys):
        duplicate = next(k for k in keys if keys.count(k) > 1)
        raise HarnessError(f"{suite_file}: field 'tasks' lists {duplicate} twice")
    return planned


def plan(cfg: DictConfig) -> RunPlan:
    from harness.aggregate import AGGREGATES

    data = OmegaConf.to_container(cfg, resolve=True)
    check_fields(data, _TOP_FIELDS, CONF_DIR / "config.yaml")
    model = data["model"]
    model_file = str(CONF_DIR / "model" / f"{model.get('name', '?')}.yaml")
    _check_model(model, model_file)
    suite = data["suite"]
    suite_file = CONF_DIR / "suite" / f"{suite.get('name', '?')}.yaml"
    check_fields(suite, _SUITE_FIELDS, suite_file)
    encode = check_fields(data["encode"], _ENCODE_FIELDS, CONF_DIR / "encode", "encode.")
    _check_encode(encode, model["backend"], model_file)
    top = CONF_DIR / "config.yaml"
    _at_least(data.get("seed"), 0, f"{top}: field 'seed'")
    _at_least(data.get("cache_chunk"), 1, f"{top}: field 'cache_chunk'")
    device = check_device(data["device"]) if data.get("device") is not None else None
    protocol = data.get("protocol") or suite.get("protocol")
    if protocol is not None:
        PROTOCOLS.check(protocol, "field 'protocol'")
    if suite.get("aggregate") is not None:
        AGGREGATES.check(suite["aggregate"], f"{suite_file}: field 'aggregate'")
    tasks = plan_tasks(suite, suite_file, protocol, data.get("tasks"), local=bool(data.get("data_dir")))

    # The encode group's settings win over the model's; null leaves EncoderConfig's default.
    merged = {**_given(model, ("revision", "pooling", "normalize", "max_length", "dtype", "similarity",
                               "trust_remote_code", "add_eos", "truncate_dims", "api", "prompts", "st_config")),
              **_given(encode, ("batch_size", "dtype", "max_length", "normalize", "show_progress", "truncate_dims",
                                "batching", "token_budget", "autocast", "attention", "workers",
                                "kernel"))}
    merged["truncate_dims"] = _truncate_dims(merged.get("truncate_dims") or [], model_file)
    encoder = EncoderConfig(name=model["name"], path=str(model["path"]), backend=model["backend"],
                            **({"device": device} if device else {}), **merged)
    _check_kernel(encoder, model_file)
    data_dir = Path(data["data_dir"]).expanduser() if data.get("data_dir") else None
    if data_dir is not None and not data_dir.is_dir():
        raise HarnessError(f"field 'data_dir': {data_dir} is not a directory")
    output = Path(data["output_dir"]).expanduser() if data.get("output_dir") else None
    use_cache = data.get("cache") is not False
    cache_dir = Path(data["cache_dir"]).expanduser() if use_cache and data.get("cache_dir") else None
    options = _given(data, ("seed", "overwrite", "resume", "cache_chunk"))
    return RunPlan(encoder=encoder, suite=suite["name"], tasks=tasks, output_dir=output,
                   model_file=model_file, data_dir=data_dir, cache_dir=cache_dir, aggregate=suite.get("aggregate"),
                   storage_dtype=encode.get("storage_dtype"), **options)


def _check_kernel(encoder: EncoderConfig, model_file: str) -> None:
    """A kernel sets the weights' dtype itself: a model's own non-float32 dtype would be recorded but not
    applied. (Which kernels a device can run is checked where the kernel is resolved: EncoderConfig.)"""
    if encoder.kernel is not None and encoder.dtype != "float32":
        raise HarnessError(f"field 'encode.kernel' sets the weights' dtype itself, but the model's dtype is "
                           f"{encoder.dtype} ({model_file}): set encode.dtype=float32 with it")


def _truncate_dims(dims: list, model_file: str) -> tuple[int, ...]:
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims) or len(set(dims)) != len(dims):
        raise HarnessError(f"{model_file}: field 'truncate_dims' must list distinct positive integers, got {dims}")
    return tuple(dims)
