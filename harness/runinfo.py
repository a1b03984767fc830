"""run.json: how a run went (when, how long, cache hits), kept apart from the score files so that the score
files of two identical runs are byte-identical. This module is its only reader and writer."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.errors import HarnessError

FILE = "run.json"


@dataclass(frozen=True)
class RunInfo:
    model: dict[str, Any]  # {"name", "path", "weights_sha256", "resolved"}
    suite: str | None = None
    started: str | None = None
    finished: str | None = None
    seconds_per_task: dict[str, float] = field(default_factory=dict)
    cache: dict[str, Any] | None = None  # dir, hit_texts, miss_texts, corrupt_entries, encode/embed seconds
    truncate_dim: int | None = None
    identity: dict[str, Any] | None = None  # harness.identity: what the set is the result of
    identity_key: str | None = None
    label: str | None = None  # readable name of the identity, e.g. "all-minilm-l6-v2 [jmteb]"
    kept: list[str] = field(default_factory=list)  # tasks kept from the previous set (same run identity)
    missing: dict[str, str] = field(default_factory=dict)  # planned tasks that failed: task -> error line

    @property
    def model_name(self) -> str | None:
        return self.model.get("name")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if data["truncate_dim"] is None:
            data.pop("truncate_dim")
        return data


def write_run_info(directory: Path, info: RunInfo | dict[str, Any]) -> None:
    write_json(Path(directory) / FILE, info.to_json() if isinstance(info, RunInfo) else info)


def read_run_info(directory: Path) -> RunInfo | None:
    """The run.json of a result directory; None when there is none; unreadable is one line."""
    file = Path(directory) / FILE
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return RunInfo(**{k: data[k] for k in RunInfo.__dataclass_fields__ if k in data})
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError) as exc:
        raise HarnessError(f"{file}: not a valid run.json ({type(exc).__name__}: {exc})") from None
