"""Embedding cache (hits, corruption), data export layout, and the regression gate."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from harness.cache import CachedEncoder
from harness.check import main as check_main
from harness.encoders.base import EncoderConfig
from harness.export import ExportError, export_task, load_suite, load_task_yaml, task_parts
from harness.export import with_hub_overrides as export_with_hub_overrides
from harness.prompts import encode_for
from harness.taskspec import load_task


class CountingEncoder:
    def __init__(self):
        self.config = EncoderConfig(name="fake", path="/fake", revision=None, backend="sentence_transformers",
                                    pooling=None, normalize=False, max_length=None, dtype="float32",
                                    similarity="cosine", trust_remote_code=False, prompts={"query": "query: "})
        self.calls = 0

    def encode(self, texts, side):
        self.calls += len(texts)
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float32)


def test_cache_hits_and_recomputes_corrupt_entries(tmp_path, caplog):
    task = load_task("jsts")
    inner = CountingEncoder()
    enc = CachedEncoder(inner, tmp_path, chunk=3)
    texts = [f"t{i}" for i in range(7)]
    first = encode_for(enc, texts, role="query", task=task)
    assert inner.calls == 7 and len(list(tmp_path.rglob("*.emb"))) == 3
    again = encode_for(enc, texts, role="query", task=task)
    assert inner.calls == 7 and enc.stats.hits == 7
    np.testing.assert_array_equal(first, again)
    # the role changes the prompt, so it is a different key
    encode_for(enc, texts, role="document", task=task)
    assert inner.calls == 14
    # corrupt one entry: it is recomputed with a warning, and the values are right
    key = enc._key("query: ", texts[:3])
    victim = enc.entry_path(key)
    victim.write_bytes(b"garbage")
    third = encode_for(enc, texts, role="query", task=task)
    np.testing.assert_array_equal(first, third)
    assert enc.stats.corrupt == 1 and "corrupt" in caplog.text
    assert not list(tmp_path.rglob("*.tmp"))


def test_export_writes_local_layout_that_the_harness_reads(tmp_path):
    rows = {"train": [{"sentence1": "a", "sentence2": "b", "label": 1.0}],
            "test": [{"sentence1": "c", "sentence2": "d", "label": 2.5}]}
    commit = "c" * 40

    def fake_load(path, name, split, revision, script):
        # the export reads the commit the revision resolved to, not the revision itself
        assert (path, name, revision, script) == ("sbintuitions/JMTEB", "jsts", commit, True)
        return rows[split]

    def fake_resolve(path, revision):
        assert (path, revision) == ("sbintuitions/JMTEB", "ee8819c48bb5c7347bc3da8ee74396cc6332f20c")
        return commit

    counts = export_task(load_task_yaml("jsts"), tmp_path, load=fake_load, resolve_commit=fake_resolve)
    assert counts == {"train": 1, "test": 1}
    source = json.loads((tmp_path / "jsts" / "_source.jsonl").read_text())
    assert source["parts"]["test"] == {"path": "sbintuitions/JMTEB", "name": "jsts", "split": "test",
                                       "revision": "ee8819c48bb5c7347bc3da8ee74396cc6332f20c", "resolved": commit}
    from harness.data import DataSource

    source = DataSource(tmp_path)
    assert source.rows(load_task("jsts"), "test", ("sentence1", "sentence2", "label")) == rows["test"]


def test_export_applies_hub_overrides_as_run_does(tmp_path):
    """The suite's re-pointing (path, revision) reaches the export exactly as harness.config applies it."""
    from harness.config import with_hub_overrides

    overrides = {"sbintuitions/JMTEB": {"path": "sbintuitions/JMTEB-lite", "revision": "v2"}}
    task = export_with_hub_overrides(load_task_yaml("jaqket"), overrides, tmp_path / "suite.yaml")
    run_task = with_hub_overrides(load_task("jaqket"), overrides, tmp_path / "suite.yaml")
    parts = task_parts(task)
    assert {stem: (p, r) for stem, (p, _, _, r, _) in parts.items()} == \
        {"validation": ("sbintuitions/JMTEB-lite", "v2"), "test": ("sbintuitions/JMTEB-lite", "v2"),
         "corpus": ("sbintuitions/JMTEB-lite", "v2")}
    for stem, (path, name, split, revision, part) in parts.items():
        hub = run_task.hub_part(part)
        assert (hub.path, hub.name, hub.split, hub.revision) == (path, name, split, revision)
    assert export_with_hub_overrides(load_task_yaml("jaqket"), {"other/repo": {"revision": "x"}}, tmp_path) == \
        load_task_yaml("jaqket")
    with pytest.raises(ExportError, match="may set only path and revision, got name"):
        export_with_hub_overrides(load_task_yaml("jaqket"), {"sbintuitions/JMTEB": {"name": "x"}}, tmp_path)


def test_export_suite_entries_name_each_task_once():
    names, overrides, _ = load_suite("offline_real")
    assert names.count("scifact") == 1 and not [n for n in names if "@" in n]
    assert load_suite("jmteb_lite")[1]["sbintuitions/JMTEB"]["path"] == "sbintuitions/JMTEB-lite"


def _summary(path, value):
    path.mkdir(parents=True, exist_ok=True)
    (path / "summary.json").write_text(json.dumps({"STS": {"jsts": {"spearman": value}}}))
    return path


def test_check_exit_codes(tmp_path, capsys):
    base = _summary(tmp_path / "base", 0.80)
    args = lambda r: argparse.Namespace(baseline=base, results=r, tolerance=1e-3)  # noqa: E731
    assert check_main(args(_summary(tmp_path / "same", 0.80))) == 0
    assert check_main(args(_summary(tmp_path / "better", 0.85))) == 0
    assert check_main(args(_summary(tmp_path / "within", 0.7995))) == 0
    assert check_main(args(_summary(tmp_path / "worse", 0.79))) == 1
    assert "FAIL" in capsys.readouterr().out
