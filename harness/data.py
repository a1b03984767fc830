"""Reading task data: a local mirror (`data_dir`) or the Hugging Face Hub.

Local layout (the layout of `harness data export` and of ../shared/data):
    <data_dir>/<task.local>/<split>.jsonl          one row per example (JMTEB hub schema)
    <data_dir>/<task.local>/corpus.jsonl           retrieval / reranking documents
    <data_dir>/<task.local>/{corpus,queries,qrels}.jsonl   BEIR / NanoBEIR schema

Without a data_dir rows come from `datasets.load_dataset` at the task's pinned revision. The hub is probed
first with a short timeout so an air-gapped machine fails in seconds with one line, instead of retrying.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from harness.errors import HarnessError
from harness.taskspec import TaskSpec

HUB_TIMEOUT_S = 3.0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All rows of a jsonl file; a bad line is reported with its line number."""
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise HarnessError(f"{path}:{number}: line is not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise HarnessError(f"{path}:{number}: line is not a JSON object")
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise HarnessError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    return rows


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hub_reachable() -> bool:
    """True when the Hub answers a TCP connect within HUB_TIMEOUT_S (and offline mode is not forced)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or \
            os.environ.get("HF_DATASETS_OFFLINE", "0") not in ("0", "", "false"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=HUB_TIMEOUT_S):
            return True
    except OSError:
        return False


@dataclass
class DataSource:
    """Reads the parts of tasks and records where each came from (for provenance)."""

    data_dir: Path | None
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    _hub_ok: bool | None = None

    def rows(self, task: TaskSpec, part: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Rows of one part of `task`, with `required` harness columns checked (renamed per task.columns)."""
        if self.data_dir is not None:
            rows, origin = self._local(task, part)
        else:
            rows, origin = self._hub(task, part)
        self.provenance.setdefault(task.name, {})[part] = {**origin, "rows": len(rows)}
        if not rows:  # every part feeds a score: an empty one would give NaN or a crash downstream
            raise HarnessError(f"{origin['where']}: is empty (no rows for task {task.name}, {part})")
        missing = [c for c in required if rows and task.column(c) not in rows[0]]
        if missing:
            raise HarnessError(f"{origin['where']}: missing column '{task.column(missing[0])}' "
                               f"(task {task.name}, columns present: {', '.join(rows[0])})")
        for number, row in enumerate(rows, 1):
            absent = [c for c in required if task.column(c) not in row]
            if absent:
                raise HarnessError(f"{origin['where']}:{number}: missing column '{task.column(absent[0])}'")
        return rows

    def where(self, task: TaskSpec, part: str) -> str:
        """The file (or hub dataset) a part was read from, for error messages."""
        return self.provenance.get(task.name, {}).get(part, {}).get("where", f"{task.name}/{part}")

    def _local(self, task: TaskSpec, part: str) -> tuple[list[dict], dict]:
        path = Path(self.data_dir) / task.local / f"{task.local_file(part)}.jsonl"
        if not path.is_file():
            raise HarnessError(f"{path}: missing data file for task {task.name} ({part}); "
                               f"expected layout <data_dir>/{task.local}/{task.local_file(part)}.jsonl")
        rows = read_jsonl(path)
        return rows, {"where": str(path), "source": "local", "path": str(path.resolve()),
                      "sha256": file_sha256(path)}

    def _hub(self, task: TaskSpec, part: str) -> tuple[list[dict], dict]:
        hub = task.hub_part(part)
        if hub is None:
            raise HarnessError(f"{task.file}: task {task.name} has no hub source; give data_dir=D "
                               f"with {task.local}/{task.local_file(part)}.jsonl")
        label = f"{hub.path}" + (f" ({hub.name}, split {hub.split})" if hub.name else f" (split {hub.split})")
        if self._hub_ok is None:
            self._hub_ok = hub_reachable()
        if not self._hub_ok:
            raise HarnessError(
                f"dataset {label} for task {task.name} cannot be loaded: the Hugging Face Hub is unreachable; "
                f"give a local copy with data_dir=D (D/{task.local}/{task.local_file(part)}.jsonl, "
                f"see `harness data export`) or set HARNESS_DATA_DIR")
        import datasets  # heavy import, only on the hub path

        try:
            dataset = datasets.load_dataset(hub.path, hub.name, split=hub.split, revision=hub.revision)
        except Exception as exc:  # the hub raises many types; the user needs the dataset and the reason
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise HarnessError(f"dataset {label} for task {task.name} cannot be loaded ({reason[:200]}); "
                               f"give a local copy with data_dir=D ({task.local}/{task.local_file(part)}.jsonl)") from None
        return [dict(r) for r in dataset], {"where": label, "source": "hub", "path": hub.path,
                                            "name": hub.name, "split": hub.split, "revision": hub.revision}
