"""scripts/bench_gpu.py: without a GPU it exits 0 saying so; its GPU path runs end to end as a CPU dry run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_gpu.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(SCRIPT.parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


def test_without_a_gpu_it_says_so_and_exits_0():
    done = _run()
    assert done.returncode == 0, done.stderr
    assert "no CUDA GPU visible" in done.stdout and "nothing measured" in done.stdout


@pytest.mark.slow
def test_the_gpu_path_runs_on_the_cpu_as_a_dry_run(shared_data, minilm_path):
    if not (shared_data / "scifact" / "corpus.jsonl").exists():
        pytest.skip("needs ../shared/data/{jsts,scifact}")
    done = _run("--device", "cpu", "--limit", "24", "--repeats", "1", "--data", str(shared_data),
                "--model", minilm_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for method in ("st-fp32", "st-half", "harness", "harness-fast", "harness-budget"):
        assert done.stdout.count(f"\n{method} ") == 2, done.stdout  # one row per task
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("harness ")]
    assert all(float(row[-1]) > 0.99999 for row in rows)  # the reference path equals st-fp32
