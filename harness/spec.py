"""What a task is: the frozen `TaskSpec` read from `tasks/<name>.yaml` (loaded and validated by harness.taskspec).

A leaf module (no family, encoder or data import), so everything that handles tasks can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# JMTEB's summary categories (evaluator class names), in JMTEB's run order.
CATEGORIES = ("Classification", "Clustering", "STS", "PairClassification", "Retrieval", "Reranking")
SCHEMAS = ("jmteb", "beir")


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
