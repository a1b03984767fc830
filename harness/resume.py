"""The previous result set in an output directory: may this run replace it, and which of its tasks may it keep.

One output directory holds the results of one run identity (harness.identity). A run whose identity differs
from the previous set's stops before encoding anything, naming both, unless `overwrite=true`; a directory that
is not a result set at all (files but no run.json) is never taken over.

With the same identity the previous set is the start of the new one: its tasks the run does not plan are carried
over, and (unless `resume=false`) a planned task is kept instead of recomputed when its score file says it is
exactly what this run would compute: the same provenance (model, prompts, protocol and parameters, seed, device,
library versions, harness revision, run identity) and the same data (each local file's sha256, or the same hub
dataset at the same pinned commit). Everything else is recomputed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.data import file_sha256
from harness.errors import HarnessError
from harness.identity import RunIdentity
from harness.results import TaskResult, read_score, score_rel
from harness.runinfo import RunInfo, read_run_info
from harness.spec import TaskSpec

_SHA = re.compile(r"[0-9a-f]{40}")


def _roundtrip(data: Any) -> Any:
    return json.loads(json.dumps(data))


def check_directory(output_dir: Path, model_name: str, overwrite: bool) -> None:
    """Before the model is loaded: a file in the way, a directory that is no result set, another model's set."""
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise HarnessError(f"field 'output_dir': {out} is a file")
    if not out.is_dir():
        return
    try:
        other = read_run_info(out)
    except HarnessError:
        if overwrite:
            return
        raise
    if other is None:
        if any(out.iterdir()):
            raise HarnessError(f"field 'output_dir': {out} holds files but no run.json, so it is not a result "
                               f"directory the harness may replace; choose a new or empty directory")
        return
    if other.model_name != model_name and not overwrite:
        raise HarnessError(f"{out / 'run.json'}: output_dir holds results of model {other.model_name} "
                           f"({other.model.get('path')}); choose another output_dir or pass overwrite=true")


@dataclass
class Previous:
    """The previous set of an output directory, as far as this run may use it."""

    directory: Path
    run: RunInfo | None
    same_identity: bool

    @classmethod
    def read(cls, output_dir: Path, identity: RunIdentity, overwrite: bool) -> Previous:
        out = Path(output_dir)
        check_directory(out, identity.fields["model"], overwrite)
        try:
            other = read_run_info(out) if out.is_dir() else None
        except HarnessError:  # unreadable run.json under overwrite=true: nothing of it is kept
            other = None
        same = other is not None and other.identity_key == identity.key
        if other is not None and not same and not overwrite:
            theirs = f"{other.label} (identity {other.identity_key}, model {other.model.get('path')})" \
                if other.identity_key else f"model {other.model_name} ({other.model.get('path')}, written before " \
                                           f"run identities)"
            raise HarnessError(f"{out / 'run.json'}: output_dir holds results of run {theirs}; this run is "
                               f"{identity.label} (identity {identity.key}): choose another output_dir or pass "
                               f"overwrite=true to replace them")
        return cls(out, other, same)

    def results(self, subdir: str = "") -> dict[str, tuple[PurePosixPath, Path]]:
        """task key -> (path in the set, file) of the previous set's score files (of `subdir`, e.g. dim256)."""
        if not self.same_identity:
            return {}
        base = self.directory / subdir if subdir else self.directory
        found = {}
        for path in sorted(base.glob("*/scores_*.json")):
            rel = PurePosixPath(path.relative_to(self.directory).as_posix())
            found[path.stem.removeprefix("scores_")] = (rel, path)
        return found

    def keep(self, key: str, category: str, expected: dict[str, dict[str, Any]], spec: TaskSpec,
             data_dir: Path | None) -> dict[str, tuple[PurePosixPath, Path, TaskResult]] | None:
        """The previous score files of task `key`, one per set (`expected`'s keys: "" for the full vectors,
        "dim<d>" per truncation), when each is what this run would compute (`expected`: the provenance this run
        would record, its data parts aside); None when any is absent or differs."""
        if not self.same_identity:
            return None
        found = {}
        for subdir in expected:
            rel = PurePosixPath(subdir) / score_rel(category, key) if subdir else score_rel(category, key)
            path = self.directory / rel
            if not path.is_file():
                return None
            try:
                result = read_score(path)
            except HarnessError:
                return None
            stored = dict(result.provenance)
            dataset = dict(stored.get("dataset") or {})
            parts = dataset.pop("parts", None)
            stored["dataset"] = dataset
            wanted = dict(_roundtrip(expected[subdir]))
            wanted["dataset"] = {k: v for k, v in wanted["dataset"].items() if k != "parts"}
            if _roundtrip(stored) != wanted or not _same_data(parts, spec, data_dir):
                return None
            found[subdir] = (rel, path, result)
        return found


def _same_data(parts: Any, spec: TaskSpec, data_dir: Path | None) -> bool:
    """Whether the data parts a score file records are exactly what this run would read."""
    if not isinstance(parts, dict) or not parts:
        return False
    for part, recorded in parts.items():
        if not isinstance(recorded, dict):
            return False
        if recorded.get("source") == "local":
            if data_dir is None:
                return False
            path = Path(data_dir) / spec.local / f"{spec.local_file(part)}.jsonl"
            if not path.is_file() or file_sha256(path) != recorded.get("sha256"):
                return False
        elif recorded.get("source") == "hub":
            hub = spec.hub_part(part)
            if data_dir is not None or hub is None or not _SHA.fullmatch(hub.revision or ""):
                return False  # a branch may have moved since: only a pinned commit is the same data
            if (recorded.get("path"), recorded.get("name"), recorded.get("split"), recorded.get("resolved")) != \
                    (hub.path, hub.name, hub.split, hub.revision):
                return False
        else:
            return False
    return True
