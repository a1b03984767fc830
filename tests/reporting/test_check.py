"""`harness check`: the regression gate's exit codes, tolerances and printed table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.check import parse_tolerances
from harness.cli import main
from harness.errors import HarnessError

GOLDEN = Path(__file__).resolve().parents[2] / "results" / "golden" / "all-minilm-l6-v2" / "offline_real_mteb"


def _perturbed(tmp_path: Path, task: str, delta: float) -> Path:
    summary = json.loads((GOLDEN / "summary.json").read_text())
    for tasks in summary.values():
        if task in tasks:
            (metric, value), = tasks[task].items()
            tasks[task] = {metric: value + delta}
    out = tmp_path / f"{task}{delta:+g}"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def test_golden_passes_and_a_perturbed_result_fails(tmp_path, capsys):
    assert main(["check", "--baseline", str(GOLDEN), "--results", str(GOLDEN)]) == 0
    out = capsys.readouterr().out
    assert "| jsts | cosine_spearman | 0.626460 | 0.626460 | +0.000000 | 0.0001 | ok |" in out
    assert out.rstrip().endswith("check passed")
    worse = _perturbed(tmp_path, "scifact", -2e-4)
    assert main(["check", "--baseline", str(GOLDEN), "--results", str(worse)]) == 1
    out = capsys.readouterr().out
    assert "| scifact | ndcg_at_10 | 0.645080 | 0.644880 | -0.000200 | 0.0001 | FAIL |" in out
    # improvements never fail; a drop inside the tolerance passes
    assert main(["check", "--baseline", str(GOLDEN), "--results", str(_perturbed(tmp_path, "jsts", 0.01))]) == 0
    assert main(["check", "--baseline", str(GOLDEN), "--results", str(_perturbed(tmp_path, "jsts", -5e-5))]) == 0


def test_per_task_tolerance(tmp_path, capsys):
    worse = _perturbed(tmp_path, "scifact", -2e-4)
    args = ["check", "--baseline", str(GOLDEN), "--results", str(worse)]
    assert main(args + ["--tolerance", "scifact=3e-4"]) == 0
    assert main(args + ["--tolerance", "1e-3", "--tolerance", "scifact=1e-4"]) == 1
    assert main(args + ["--tolerance", "1e-3"]) == 0
    capsys.readouterr()
    assert main(args + ["--tolerance", "nosuchtask=1"]) == 2
    assert "task 'nosuchtask' is not in" in capsys.readouterr().err


def test_baseline_file_tolerances_apply(tmp_path):
    published = Path(__file__).resolve().parents[2] / "results" / "published" / "all-minilm-l6-v2_mteb.json"
    # published JaQuAD 0.09144 carries _tolerance 5e-4: a run at 0.0910 (-4.4e-4) passes, 0.0905 fails
    for value, code in ((0.0910, 0), (0.0905, 1)):
        run = tmp_path / str(value)
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({
            "STS": {"jsts": {"cosine_spearman": 0.62647}},
            "Retrieval": {"jaquad_retrieval": {"ndcg_at_10": value}, "scifact": {"ndcg_at_10": 0.64508}}}))
        assert main(["check", "--baseline", str(published), "--results", str(run)]) == code


def test_missing_task_fails_and_bad_tolerance_is_one_line(tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "summary.json").write_text(json.dumps({"STS": {"jsts": {"cosine_spearman": 0.7}}}))
    assert main(["check", "--baseline", str(GOLDEN), "--results", str(partial)]) == 1
    assert "MISSING" in capsys.readouterr().out
    with pytest.raises(HarnessError, match="expected a number or task=number"):
        parse_tolerances(["jsts=abc"])
    assert parse_tolerances(["2e-4", "jsts=1e-3"]) == (2e-4, {"jsts": 1e-3})
