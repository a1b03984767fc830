"""Embedding cache (hits, corruption), data export layout, and the regression gate."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from harness.cache import CachedEncoder
from harness.check import main as check_main
from harness.encoders.base import EncoderConfig
from harness.export import ExportError, _load_with_datasets, export_task, load_task_yaml
from harness.taskspec import load_task
from harness.prompts import encode_for


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
    assert inner.calls == 7 and len(list(tmp_path.rglob("*.npy"))) == 3
    again = encode_for(enc, texts, role="query", task=task)
    assert inner.calls == 7 and enc.stats.hits == 7
    np.testing.assert_array_equal(first, again)
    # the role changes the prompt, so it is a different key
    encode_for(enc, texts, role="document", task=task)
    assert inner.calls == 14
    # corrupt one entry: it is recomputed with a warning, and the values are right
    key = enc._key("query: ", texts[:3])
    victim = tmp_path / key[:2] / f"{key}.npy"
    victim.write_bytes(b"garbage")
    third = encode_for(enc, texts, role="query", task=task)
    np.testing.assert_array_equal(first, third)
    assert enc.stats.corrupt == 1 and "corrupt" in caplog.text
    assert not list(tmp_path.rglob("*.tmp"))


def test_export_writes_local_layout_that_the_harness_reads(tmp_path):
    rows = {"train": [{"sentence1": "a", "sentence2": "b", "label": 1.0}],
            "test": [{"sentence1": "c", "sentence2": "d", "label": 2.5}]}

    def fake_load(path, name, split, revision, script):
        assert (path, name, revision, script) == ("sbintuitions/JMTEB", "jsts",
                                                  "ee8819c48bb5c7347bc3da8ee74396cc6332f20c", True)
        return rows[split]

    counts = export_task(load_task_yaml("jsts"), tmp_path, load=fake_load)
    assert counts == {"train": 1, "test": 1}
    from harness.data import DataSource

    source = DataSource(tmp_path)
    assert source.rows(load_task("jsts"), "test", ("sentence1", "sentence2", "label")) == rows["test"]


def test_script_dataset_with_datasets_4_gives_the_supported_route():
    import datasets

    if int(datasets.__version__.split(".")[0]) < 4:
        pytest.skip("datasets<4 can run the script")
    with pytest.raises(ExportError, match="make jmteb-data"):
        _load_with_datasets("sbintuitions/JMTEB", "jsts", "test", "x", True)


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
