"""`harness list models|tasks|suites`: what is configured, read from the YAML files themselves."""

from __future__ import annotations

import yaml

from harness.config import group_names
from harness.paths import CONF_DIR
from harness.taskspec import load_task, task_names


def _yaml(group: str, name: str) -> dict:
    return yaml.safe_load((CONF_DIR / group / f"{name}.yaml").read_text(encoding="utf-8")) or {}


def list_models() -> None:
    for name in group_names("model"):
        model = _yaml("model", name)
        print(f"{name}: {model.get('path')} (backend {model.get('backend')}, dtype {model.get('dtype', 'float32')}, "
              f"max_length {model.get('max_length') or 'model default'})")
        prompts = model.get("prompts") or {}
        if not prompts:
            print("    prompts: none")
        for key, value in prompts.items():
            print(f"    prompt {key}: {value!r}")


def list_tasks() -> None:
    for name in task_names():
        task = load_task(name)
        hub = task.hub or {}
        source = f"{hub.get('path')}" + (f":{hub['name']}" if hub.get("name") else "") if hub else "local only"
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
