"""Determinism: two runs of the same suite write byte-identical summary.json and score files; the run's
timestamps live only in run.json."""

from __future__ import annotations

import json

from harness.cli import main
from tests.faults.conftest import files_under

# Two small real tasks of offline_real (../shared/data) whose scores depend on seeded randomness
# (k-means, logistic regression), encoded from scratch by each run.
TASKS = "[sib200_japanese_classification,sib200_japanese_clustering]"


def test_faults_two_runs_write_identical_score_files(tmp_path, tiny_model, shared_data, capsys):
    for run in ("a", "b"):
        assert main(["run", f"model.path={tiny_model}", "suite=offline_real", f"tasks={TASKS}",
                     f"data_dir={shared_data}", f"output_dir={tmp_path / run}", f"cache_dir={tmp_path / run}-cache",
                     "encode.show_progress=false"]) == 0
    capsys.readouterr()
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in files_under(tmp_path / "a")}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in files_under(tmp_path / "b")}
    assert sorted(map(str, a)) == ["Classification/scores_sib200_japanese_classification.json",
                                   "Clustering/scores_sib200_japanese_clustering.json", "run.json", "summary.json"]
    for name in a:
        if name.name != "run.json":
            assert a[name] == b[name], name
    # Every score is a real number, and the timestamps are in run.json only.
    summary = json.loads(a[next(n for n in a if n.name == "summary.json")])
    assert all(0 <= v <= 1 for task in summary.values() for scores in task.values() for v in scores.values())
    run_info = json.loads(a[next(n for n in a if n.name == "run.json")])
    assert run_info["started"] and run_info["finished"] and run_info["cache"]["miss_texts"] > 0  # encoded afresh, not replayed
    assert all(run_info["started"][:10] not in blob.decode() for n, blob in a.items() if n.name != "run.json")
