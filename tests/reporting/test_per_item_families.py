"""Every family's score file carries per-item values whose statistic reproduces its main metric (so every main
metric gets a bootstrap interval): the committed golden score files of offline_real, both protocols, cover
classification, clustering, STS, pair classification, retrieval and NanoBEIR; reranking is checked on a tiny
task of the family tests' kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.scoring import bootstrap

GOLDEN = Path(__file__).resolve().parents[2] / "results" / "golden" / "hash-encoder"
FILES = sorted(GOLDEN.glob("*/*/scores_*.json"))


def test_golden_files_cover_every_family():
    families = {json.loads(f.read_text())["family"] for f in FILES}
    assert families >= {"classification", "clustering", "sts", "pair_classification", "retrieval"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_per_item_statistic_reproduces_the_main_metric(path):
    score = json.loads(path.read_text())
    statistic, arrays = bootstrap.unpack(score["details"]["per_item"])
    assert bootstrap.point(statistic, arrays) == pytest.approx(score["metric_value"], abs=1e-4 if
                                                               score["protocol"] == "mteb" else 1e-9)
    ci = bootstrap.interval(statistic, arrays, resamples=200, seed=0)
    assert ci.low <= ci.high
