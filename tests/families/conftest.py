"""Shared helpers for the family tests: tiny on-disk tasks and a fake, model-free encoder."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from harness.data import DataSource
from harness.families import FAMILIES
from harness.families.base import Context
from harness.taskspec import parse_task


class FakeEncoder:
    """Looks texts up in a dict: deterministic float32 vectors, no model; records every call."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors
        self.config = SimpleNamespace(similarity="cosine", max_length=None)
        self.calls: list[tuple[str, list[str]]] = []

    def encode(self, texts, side):
        self.calls.append((side.role, list(texts)))
        return np.asarray([self.vectors[t] for t in texts], dtype=np.float32)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


class TinyTask:
    """Writes <tmp>/data/<name>/<file>.jsonl and <tmp>/tasks/<name>.yaml, then evaluates a family on it."""

    def __init__(self, root: Path):
        self.root = root

    def make(self, name: str, family: str, category: str, files: dict[str, list[dict]],
             splits: dict[str, str] | None = None, protocols: dict | None = None, params: dict | None = None,
             columns: dict | None = None, schema: str | None = None):
        for stem, rows in files.items():
            write_jsonl(self.root / "data" / name / f"{stem}.jsonl", rows)
        protocols = protocols or {"jmteb": {}}
        spec = {"name": name, "family": family, "category": category, "source": {"local": name},
                "default_protocol": next(iter(protocols)), "protocols": protocols}
        if schema:
            spec["source"]["schema"] = schema
        if columns:
            spec["columns"] = columns
        if splits:
            spec["splits"] = splits
        if params:
            spec["params"] = params
        file = self.root / "tasks" / f"{name}.yaml"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(yaml.safe_dump(spec), encoding="utf-8")
        return parse_task(file)

    def run(self, task, vectors, protocol: str = "jmteb", seed: int = 0, encoder=None, notes: dict | None = None):
        encoder = encoder or FakeEncoder(vectors)
        ctx = Context(data=DataSource(self.root / "data"), encoder=encoder, label=task.name, seed=seed,
                      **dict(notes or {}))
        family = FAMILIES[task.family]
        return family.run(task, protocol, family.protocol_params(task, protocol), ctx)


@pytest.fixture
def tiny(tmp_path) -> TinyTask:
    return TinyTask(tmp_path)


@pytest.fixture
def fake_encoder():
    """The FakeEncoder class, for tests that inspect the encoder's calls."""
    return FakeEncoder
