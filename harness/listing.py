"""`harness list models|tasks|suites|prompts`: what is configured, read from the YAML files themselves."""

from __future__ import annotations

import functools

import yaml

from harness.config import group_names
from harness.errors import HarnessError
from harness.paths import CONF_DIR
from harness.prompts import profiles, resolve_prompt, select_profile, task_roles
from harness.taskspec import CATEGORIES, load_task, task_names

# What the "query" side of a single-text task is: both sentences of a pair, or every text.
_SIDE_NAMES = {("STS", "query"): "sentence1+sentence2", ("PairClassification", "query"): "sentence1+sentence2",
               ("Classification", "query"): "text", ("Clustering", "query"): "text"}


def _yaml(group: str, name: str) -> dict:
    return yaml.safe_load((CONF_DIR / group / f"{name}.yaml").read_text(encoding="utf-8")) or {}


def model_prompts(model: dict) -> tuple[str | None, dict]:
    """(prompts file, prompts) as Hydra composes them: the file of `defaults` (conf/model/prompts/), then the
    model file's own keys merged over it (one level deep, for profiles)."""
    file = None
    for entry in model.get("defaults") or []:
        if isinstance(entry, dict) and "prompts" in entry:
            file = entry["prompts"]
    prompts = dict(_yaml("model/prompts", file)) if file else {}
    for key, value in (model.get("prompts") or {}).items():
        both = isinstance(value, dict) and isinstance(prompts.get(key), dict)
        prompts[key] = {**prompts[key], **value} if both else value
    return file, prompts


def _show(prompt: str | None) -> str:
    return "none" if prompt is None else repr(prompt)


def revision(value: object) -> str:
    """A pinned commit (shortened), or what is read instead, flagged as unverified."""
    if isinstance(value, str) and len(value) == 40 and all(c in "0123456789abcdef" for c in value):
        return f"revision {value[:8]}"
    return f"revision {value or 'main'} (unverified: the newest commit is read and recorded)"


def list_models() -> None:
    for name in group_names("model"):
        model = _yaml("model", name)
        profile, prompts = model_prompts(model)
        extras = [f"pooling {model.get('pooling') or 'model default'}",
                  f"remote code {'allowed' if model.get('trust_remote_code') else 'refused'}"]
        if model.get("truncate_dims"):
            extras.append(f"truncate_dims {model['truncate_dims']}")
        pinned = revision(model.get("revision")) if model.get("backend") != "openai" else "API model (no revision)"
        print(f"{name}: {model.get('path')} ({pinned}, backend {model.get('backend')}, "
              f"dtype {model.get('dtype', 'float32')}, max_length {model.get('max_length') or 'model default'}, "
              f"{', '.join(extras)})")
        print(f"    prompts{f' (file {profile})' if profile else ''}:" + ("" if prompts else " none"))
        tasks = set(task_names())
        for label, keys in profiles(prompts).items():
            print(f"    profile {label}:" + ("" if keys else " empty (the model's own behaviour)"))
            for category in CATEGORIES if keys else ():
                roles = task_roles(category)
                shown = [f"{role} {_show(resolve_prompt(keys, '', category, role))}" for role in roles]
                print(f"      {category}: {' | '.join(shown) if len(roles) > 1 else shown[0].split(' ', 1)[1]}")
            specific = [key for key in keys if key in tasks or key.rpartition("-")[0] in tasks]
            if specific:
                print(f"      + {len(specific)} task-specific keys (harness list prompts model={name} suite=S)")


class _OwnUnknown(Exception):
    """The model's own prompts are needed but its files are not here."""


def _own_prompts(encoder_config) -> dict[str, str]:
    from harness.encoders.base import ST_DEFAULT_PROMPTS
    from harness.encoders.model_files import model_dir, own_prompts

    try:
        return {**ST_DEFAULT_PROMPTS, **own_prompts(model_dir(encoder_config))}
    except HarnessError:
        raise _OwnUnknown from None


def list_prompts(overrides: list[str]) -> None:
    """Per task of a suite and per side, the exact prompt string a run would use (repr: "，" and "," differ)."""
    from harness.config import compose, plan
    from harness.prompts import prompt_for

    if not any(o.startswith("model=") for o in overrides) or not any(o.startswith("suite=") for o in overrides):
        raise HarnessError("usage: harness list prompts model=M suite=S [protocol=P ...]")
    run = plan(compose(overrides))
    config = run.encoder
    own = functools.cache(lambda: _own_prompts(config))  # read when a protocol first needs them

    print(f"model {config.name}, suite {run.suite} (None = no prompt given: the model's default prompt, if any)")
    for task in run.tasks:
        label = select_profile(config.prompts, task.protocol, task.prompt_profile)[0]
        roles = task_roles(task.spec.category)
        shown = []
        for role in roles:
            try:
                text = repr(prompt_for(config.prompts, task.spec, task.protocol, role,
                                       suite_profile=task.prompt_profile, own=own))
            except _OwnUnknown:
                text = (f"<the model's own '{role}' prompt: its config_sentence_transformers.json is not "
                        f"available here>")
            shown.append(f"{_SIDE_NAMES.get((task.spec.category, role), role)} {text}")
        print(f"{task.key} ({task.spec.category}, protocol {task.protocol}, profile {label or 'none'}): "
              + " | ".join(shown))


def list_tasks() -> None:
    for name in task_names():
        task = load_task(name)
        hub = task.hub or {}
        source = (f"{hub.get('path')}" + (f":{hub['name']}" if hub.get("name") else "") + f" {revision(hub.get('revision'))}"
                  if hub else "local only")
        splits = ", ".join(f"{role}={split}" for role, split in task.splits.items()) or task.schema
        from harness.families import FAMILIES

        main = FAMILIES[task.family].protocol_params(task, task.default_protocol)["main_metric"]
        print(f"{name}: family {task.family}, category {task.category}, source {source}, splits {splits}, "
              f"main metric {main} ({task.default_protocol}); protocols {', '.join(task.protocols)}")


def list_suites() -> None:
    for name in group_names("suite"):
        suite = _yaml("suite", name)
        tasks = suite.get("tasks") or []
        print(f"{name}: {len(tasks)} tasks" + (f" (protocol {suite['protocol']})" if suite.get("protocol") else "")
              + (f" - {suite['description']}" if suite.get("description") else ""))
