"""`harness list models|tasks|suites`: what is configured, read from the YAML files themselves."""

from __future__ import annotations

import yaml

from harness.config import group_names
from harness.paths import CONF_DIR
from harness.prompts import ROLES, resolve_prompt
from harness.taskspec import CATEGORIES, load_task, task_names

# Which roles a task type encodes: retrieval and reranking have two sides, the rest encode texts as queries.
_CATEGORY_ROLES = {"Retrieval": ROLES, "Reranking": ROLES}


def _yaml(group: str, name: str) -> dict:
    return yaml.safe_load((CONF_DIR / group / f"{name}.yaml").read_text(encoding="utf-8")) or {}


def model_prompts(model: dict) -> tuple[str | None, dict[str, str]]:
    """(profile name, prompts) as Hydra composes them: the profile of `defaults`, then the file's own keys."""
    profile = None
    for entry in model.get("defaults") or []:
        if isinstance(entry, dict) and "prompts" in entry:
            profile = entry["prompts"]
    prompts = dict(_yaml("model/prompts", profile)) if profile else {}
    prompts.update(model.get("prompts") or {})
    return profile, prompts


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
        print(f"    prompts{f' (profile {profile})' if profile else ''}:" + ("" if prompts else " none"))
        if not prompts:
            continue
        for category in CATEGORIES:
            roles = _CATEGORY_ROLES.get(category, ("query",))
            shown = [f"{role} {_show(resolve_prompt(prompts, '', category, role))}" for role in roles]
            print(f"      {category}: {' | '.join(shown) if len(roles) > 1 else shown[0].split(' ', 1)[1]}")
        tasks = set(task_names())
        for key, value in prompts.items():
            if key in tasks or key.rpartition("-")[0] in tasks:
                print(f"      task {key}: {_show(value)}")


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
