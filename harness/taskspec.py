"""Task definitions: one YAML per dataset in `tasks/`, loaded into a frozen `TaskSpec`.

A task says *what* to evaluate (family, category, data source, splits, columns) and the protocol fields
that make the numbers match a reference evaluator. Everything that differs between JMTEB, MTEB and
NanoBEIR is a field here, not a branch in code: the family supplies defaults per protocol, the task's
`params` override them for every protocol and `protocols.<name>` for one protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError, one_of
from harness.paths import TASKS_DIR
from harness.schema import check_fields

# JMTEB's summary categories (evaluator class names), in JMTEB's run order.
CATEGORIES = ("Classification", "Clustering", "STS", "PairClassification", "Retrieval", "Reranking")
SCHEMAS = ("jmteb", "beir")

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


@dataclass(frozen=True)
class HubPart:
    """Where one part (a split, the corpus, the qrels) of a task lives on the Hugging Face Hub."""

    path: str
    name: str | None
    split: str
    revision: str


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str
    category: str
    description: str
    local: str  # folder name under data_dir
    schema: str  # "jmteb" (split files + corpus) or "beir" (corpus/queries/qrels)
    hub: dict[str, Any] | None
    splits: dict[str, str]  # role (train/validation/test) -> split name
    columns: dict[str, str]  # harness column -> source column
    default_protocol: str
    params: dict[str, Any]
    protocols: dict[str, dict[str, Any]]
    file: Path = field(compare=False)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    def hub_part(self, part: str) -> HubPart | None:
        """Hub location of `part`: a split role, "corpus", or a BEIR part ("corpus", "queries", "qrels")."""
        if not self.hub:
            return None
        overrides = (self.hub.get("parts") or {}).get(part, {})
        if part in self.splits:
            name, split = self.hub.get("name"), self.splits[part]
        elif part == "corpus" and self.schema == "jmteb":
            name, split = self.hub.get("corpus_name"), "corpus"
        else:  # BEIR layout: one config per part
            name, split = part, part
        return HubPart(path=overrides.get("path", self.hub["path"]), name=overrides.get("name", name),
                       split=overrides.get("split", split),
                       revision=overrides.get("revision", self.hub["revision"]))

    def local_file(self, part: str) -> str:
        """File stem under `<data_dir>/<local>/`: the split name for split roles, else the part name."""
        return self.splits.get(part, part)


def task_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


@cache
def load_task(name: str) -> TaskSpec:
    file = TASKS_DIR / f"{name}.yaml"
    if not file.is_file():
        raise one_of("task", name, task_names(), where=str(TASKS_DIR))
    return parse_task(file)


def parse_task(file: Path) -> TaskSpec:
    from harness.families import FAMILIES  # late import: families import taskspec

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
    for proto in spec.protocols:  # validate every protocol's fields now, not mid-run
        family.protocol_params(spec, proto)
    return spec
