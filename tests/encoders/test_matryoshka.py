"""Matryoshka: several truncations scored from one encode, each written as its own result directory."""

from __future__ import annotations

import json

import numpy as np
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer

from harness.cli import main
from tests.core.test_end_to_end_tiny import _make_data


def _run(tmp_path, tiny_model, out, *extra):
    data = tmp_path / "data"
    if not data.exists():
        _make_data(data)
    args = ["run", f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jsts]", "protocol=mteb",
            f"output_dir={out}", f"cache_dir={tmp_path}/cache-{out.name}", "encode.show_progress=false", *extra]
    assert main(args) == 0
    return data


def test_truncated_dims_equal_sentence_transformers_truncate_dim(tmp_path, tiny_model):
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    data = _run(tmp_path, tiny_model, plain)
    _run(tmp_path, tiny_model, cut, "+model.truncate_dims=[8,16]")

    # Full size is untouched by the extra sizes, and no text was encoded more than a plain run encodes.
    assert (cut / "summary.json").read_text() == (plain / "summary.json").read_text()
    cache = [json.loads((d / "run.json").read_text())["cache"] for d in (plain, cut)]
    assert cache[0]["miss_texts"] == cache[1]["miss_texts"] and cache[0]["hit_texts"] == cache[1]["hit_texts"]

    test = [json.loads(line) for line in (data / "jsts" / "test.jsonl").read_text().splitlines()]
    for dim in (8, 16):
        score = json.loads((cut / f"dim{dim}" / "STS" / "scores_jsts.json").read_text())
        assert score["provenance"]["model"]["truncate_dim"] == dim
        model = SentenceTransformer(str(tiny_model), device="cpu", truncate_dim=dim)
        e1, e2 = (model.encode([r[k] for r in test]) for k in ("sentence1", "sentence2"))
        assert e1.shape[1] == dim
        cosine = (e1 * e2).sum(1) / np.linalg.norm(e1, axis=1) / np.linalg.norm(e2, axis=1)
        expected = spearmanr([r["label"] for r in test], cosine).statistic
        assert abs(score["metric_value"] - expected) < 1e-6
        summary = json.loads((cut / f"dim{dim}" / "summary.json").read_text())
        assert next(iter(summary["STS"]["jsts"].items())) == (score["metric_name"], score["metric_value"])
