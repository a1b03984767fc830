"""Task definitions: one YAML per dataset in `tasks/`, loaded into a frozen `TaskSpec` and validated.

A task says *what* to evaluate (family, category, data source, splits, columns) and the protocol fields
that make the numbers match a reference evaluator. Everything that differs between JMTEB, MTEB and
NanoBEIR is a field here, not a branch in code: each protocol's typed parameters (harness.params) supply the
defaults, the task's `params` override them for every protocol and `protocols.<name>` for one protocol.
Every protocol's fields are built and checked when the file is read, not mid-run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from harness.errors import HarnessError, one_of
from harness.families import FAMILIES
from harness.paths import TASKS_DIR
from harness.schema import check_fields
from harness.spec import CATEGORIES, SCHEMAS, HubPart, TaskSpec

__all__ = ["CATEGORIES", "HubPart", "TaskSpec", "load_task", "parse_task", "task_names"]

_TASK_FIELDS = {
    "name": (str, True), "family": (str, True), "category": (str, True), "description": (str, False),
    "source": (dict, True), "splits": (dict, False), "columns": (dict, False),
    "default_protocol": (str, True), "params": (dict, False), "protocols": (dict, True),
}
_SOURCE_FIELDS = {"local": (str, False), "schema": (str, False), "hub": (dict, False),
                  "url": (str, False), "license": (str, False)}
_HUB_FIELDS = {"path": (str, True), "revision": (str, True), "name": (str, False),
               "corpus_name": (str, False), "parts": (dict, False), "script": (bool, False)}
_PART_FIELDS = {"path": (str, False), "name": (str, False), "split": (str, False), "revision": (str, False)}



def task_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


@cache
def load_task(name: str) -> TaskSpec:
    file = TASKS_DIR / f"{name}.yaml"
    if not file.is_file():
        raise one_of("task", name, task_names(), where=str(TASKS_DIR))
    return parse_task(file)


def parse_task(file: Path) -> TaskSpec:
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise HarnessError(f"{file}{line}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise HarnessError(f"{file}: not UTF-8 text") from None
    data = check_fields(raw, _TASK_FIELDS, file)
    if data["name"] != file.stem:
        raise HarnessError(f"{file}: field 'name' is '{data['name']}' but the file is {file.stem}.yaml")
    if data["family"] not in FAMILIES:
        raise one_of("family", data["family"], list(FAMILIES), where=f"{file}: field 'family'")
    if data["category"] not in CATEGORIES:
        raise one_of("category", data["category"], list(CATEGORIES), where=f"{file}: field 'category'")
    source = check_fields(data["source"], _SOURCE_FIELDS, file, "source.")
    schema = source.get("schema", "jmteb")
    if schema not in SCHEMAS:
        raise one_of("schema", schema, list(SCHEMAS), where=f"{file}: field 'source.schema'")
    hub = source.get("hub")
    if hub is not None:
        hub = check_fields(hub, _HUB_FIELDS, file, "source.hub.")
        for part, spec in (hub.get("parts") or {}).items():
            check_fields(spec, _PART_FIELDS, file, f"source.hub.parts.{part}.")
    family = FAMILIES[data["family"]]
    protocols = data["protocols"]
    for proto, values in protocols.items():
        if proto not in family.protocols:
            raise one_of("protocol", proto, list(family.protocols), where=f"{file}: field 'protocols'")
        if values is not None and not isinstance(values, dict):
            raise HarnessError(f"{file}: field 'protocols.{proto}' must be a mapping")
    if data["default_protocol"] not in protocols:
        raise one_of("protocol", data["default_protocol"], list(protocols),
                     where=f"{file}: field 'default_protocol'")
    spec = TaskSpec(
        name=data["name"], family=data["family"], category=data["category"],
        description=data.get("description", ""), local=source.get("local", data["name"]), schema=schema,
        hub=hub, splits=dict(data.get("splits") or {}), columns=dict(data.get("columns") or {}),
        default_protocol=data["default_protocol"], params=dict(data.get("params") or {}),
        protocols={k: dict(v or {}) for k, v in protocols.items()}, file=file,
    )
    for proto in spec.protocols:  # build and check every protocol's parameters now, not mid-run
        family.protocol_params(spec, proto)
    return spec
