"""The benchmark as the reference defines it: task files state the reference's splits; a local mirror's gap is
declared by the suite that uses the mirror, applies to local data only, and marks every result it touches."""

from __future__ import annotations

import json
import random

import pytest

from harness.cli import main
from harness.config import compose, plan
from harness.errors import HarnessError
from tests.conftest import CORPUS, write_jsonl


def _pairs(rng: random.Random, n: int, flip: bool) -> list[dict]:
    """Pairs whose label follows "same first word" on one split and its opposite on the other, so the
    thresholds chosen on validation and the scores on test come from visibly different data."""
    rows = []
    for _ in range(n):
        a, b = rng.choice(CORPUS), rng.choice(CORPUS)
        same = a.split()[0] == b.split()[0]
        rows.append({"sentence1": a, "sentence2": b, "label": int(same != flip)})
    rows[0]["label"], rows[1]["label"] = 0, 1  # both classes present
    return rows


def test_paws_x_chooses_thresholds_on_validation_and_reports_test(tmp_path, tiny_model, capsys):
    rng = random.Random(3)
    data = tmp_path / "data"
    write_jsonl(data / "paws_x_ja" / "validation.jsonl", _pairs(rng, 40, flip=False))
    write_jsonl(data / "paws_x_ja" / "test.jsonl", _pairs(rng, 30, flip=True))
    out = tmp_path / "out"
    assert main(["run", f"model.path={tiny_model}", "suite=jmteb_v1", "tasks=[paws_x_ja]", "protocol=jmteb",
                 f"data_dir={data}", f"output_dir={out}", "cache=false", "encode.show_progress=false"]) == 0
    capsys.readouterr()
    scores = json.loads((out / "PairClassification" / "scores_paws_x_ja.json").read_text())
    parts = scores["provenance"]["dataset"]["parts"]
    assert parts["validation"]["path"].endswith("paws_x_ja/validation.jsonl") and parts["validation"]["rows"] == 40
    assert parts["test"]["path"].endswith("paws_x_ja/test.jsonl") and parts["test"]["rows"] == 30
    assert "split_substitutes" not in scores["provenance"]["dataset"]
    chosen = scores["details"]["optimal_distance_metric"]
    val, test = scores["details"]["val_scores"][chosen], scores["details"]["test_scores"][chosen]
    # the test scores reuse the validation thresholds, on other pairs
    assert test["binary_f1_threshold"] == val["binary_f1_threshold"]
    assert test["binary_f1"] != val["binary_f1"]


def test_offline_real_declares_its_paws_x_gap_and_marks_the_result(tmp_path, shared_data):
    local = plan(compose(["suite=offline_real", "tasks=[paws_x_ja]", f"data_dir={shared_data}"]))
    (task,) = local.tasks
    assert task.split_substitutes == {"test": "validation"}
    assert task.spec.splits == {"validation": "validation", "test": "validation"}
    # the hub route has the benchmark's own test split: nothing is substituted
    hub = plan(compose(["suite=offline_real", "tasks=[paws_x_ja]", "data_dir=null"]))
    assert hub.tasks[0].split_substitutes == {} and hub.tasks[0].spec.splits["test"] == "test"


def test_offline_real_paws_x_result_is_marked_in_provenance_and_report(tmp_path, tiny_model, shared_data, capsys):
    out = tmp_path / "out"
    assert main(["run", f"model.path={tiny_model}", "suite=offline_real", "tasks=[paws_x_ja]", "protocol=mteb",
                 f"data_dir={shared_data}", f"output_dir={out}", "cache=false", "encode.show_progress=false"]) == 0
    scores = json.loads((out / "PairClassification" / "scores_paws_x_ja.json").read_text())
    assert scores["provenance"]["dataset"]["split_substitutes"] == {"test": "validation"}
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "## Marked results" in report
    assert "paws_x_ja: the test split was scored on the validation data" in report
    assert json.loads((out / "report.json").read_text())["marks"]


def test_a_gap_for_a_task_outside_the_suite_is_refused(tmp_path, shared_data):
    with pytest.raises(HarnessError, match="field 'mirror_gaps'.*unknown task 'paws_x'"):
        plan(compose(["suite=offline_real", f"data_dir={shared_data}", "+suite.mirror_gaps.paws_x={test: validation}"]))
    with pytest.raises(HarnessError, match="mirror_gaps.paws_x_ja.*unknown split role 'dev'"):
        plan(compose(["suite=offline_real", f"data_dir={shared_data}", "suite.mirror_gaps.paws_x_ja={test: dev}"]))
