"""The rule harness.preflight rests on: every protocol reads all of its data before it encodes anything.

Each protocol runs to the end with a recording data source and a stand-in encoder; no part may be read after the
first encode (the preflight pass stops at that first encode, so a later read would escape its checks). Real data
for the families of the offline suite, a tiny task for reranking. The streamed large-corpus mode re-reads its
corpus after encoding starts by design (checked against the ids of its first pass), so it is not run here.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from harness.config import plan_tasks
from harness.data import DataSource
from harness.families import FAMILIES
from harness.families.base import Context
from harness.paths import CONF_DIR
from tests.families.conftest import FakeEncoder


class RecordingSource(DataSource):
    """A DataSource that fails the test when a part is read after the encoder was first called."""

    def __init__(self, data_dir, encoder: "HashEncoder"):
        super().__init__(data_dir)
        self.encoder = encoder

    def rows(self, task, part, required=()):
        assert not self.encoder.calls, f"{task.name}: part '{part}' read after the first encode"
        return super().rows(task, part, required)

    def iter_rows(self, task, part, required=(), block=10_000):
        assert not self.encoder.calls, f"{task.name}: part '{part}' read after the first encode"
        return super().iter_rows(task, part, required, block)


class HashEncoder(FakeEncoder):
    """Any text gets a fixed pseudo-random vector (from its hash)."""

    def __init__(self):
        super().__init__({})

    def encode(self, texts, side):
        self.calls.append((side.role, len(texts)))
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little") for t in texts]
        return np.asarray([np.random.default_rng(s).standard_normal(8) for s in seeds], dtype=np.float32)


def _run(task, protocol: str, params, data_dir) -> None:
    encoder = HashEncoder()
    ctx = Context(data=RecordingSource(data_dir, encoder), encoder=encoder, label=task.name)
    FAMILIES[task.family].run(task, protocol, params, ctx)
    assert encoder.calls, f"{task.name} ({protocol}) encoded nothing"


def _offline_tasks(protocol: str):
    import yaml

    suite = yaml.safe_load((CONF_DIR / "suite" / "offline_real.yaml").read_text(encoding="utf-8"))
    suite = {**suite, "tasks": [t for t in suite["tasks"] if "@" not in str(t)]}
    for task in plan_tasks(suite, CONF_DIR / "suite" / "offline_real.yaml", None, None, local=True):
        if protocol in task.spec.protocols:
            yield task.spec, FAMILIES[task.spec.family].protocol_params(task.spec, protocol)


@pytest.mark.parametrize("protocol", ["jmteb", "mteb", "nanobeir"])
def test_every_protocol_reads_its_data_before_encoding(shared_data, protocol):
    ran = 0
    for spec, params in _offline_tasks(protocol):
        _run(spec, protocol, params, shared_data)
        ran += 1
    assert ran


@pytest.mark.parametrize("protocol", ["jmteb", "card"])
def test_reranking_reads_its_data_before_encoding(tiny, protocol):
    corpus = [{"docid": d, "title": f"title of {d}", "text": f"text of {d}"} for d in ("d1", "d2", "d3")]
    query = {"query": "q", "retrieved_docs": ["d1", "d2", "d3"], "relevance_scores": [1, 0, 2]}
    task = tiny.make("rr_order", "reranking", "Reranking", {"validation": [query], "test": [query], "corpus": corpus},
                     splits={"validation": "validation", "test": "test"}, protocols={"jmteb": {}, "card": {}})
    _run(task, protocol, FAMILIES["reranking"].protocol_params(task, protocol), tiny.root / "data")
