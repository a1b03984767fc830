"""Every file the harness writes is created with mode 0666 less the umask, like any tool's output: results,
reports, PNGs, the shared embedding cache, leaderboard --output and data exports."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import atomic
from harness.export import write_rows
from tests.faults.conftest import files_under, run_args

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_faults_written_files_follow_the_umask(umask, mode, tmp_path, tiny_model, data_dir):
    out, board, charts = tmp_path / "out", tmp_path / "board.md", tmp_path / "charts"
    harness = [sys.executable, "-m", "harness"]
    commands = [harness + run_args(tmp_path, tiny_model, tasks="[jsts,jaquad_retrieval]"),
                harness + ["leaderboard", str(out), "--output", str(board)],
                harness + ["report", str(out)],
                harness + ["plot", str(out), "--output", str(charts)]]
    script = f"umask {umask:03o} && " + " && ".join(shlex.join(c) for c in commands)
    proc = subprocess.run(["sh", "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    written = files_under(out) + files_under(tmp_path / "cache") + [board] + files_under(charts)
    names = {p.name for p in written}
    assert {"run.json", "summary.json", "scores_jsts.json", "report.md", "board.md"} <= names, names
    assert any(p.suffix == ".emb" for p in written) and any(p.suffix == ".png" for p in written)
    assert {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777) for p in written} == {
        p.relative_to(tmp_path).as_posix(): oct(mode) for p in written}


def test_faults_atomic_writers_and_export_follow_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        atomic.write_json(tmp_path / "b.json", {"x": 1})
        atomic.write_npy(tmp_path / "c.npy", np.zeros(2, np.float32))
        assert write_rows(tmp_path / "export" / "test.jsonl", [{"id": 1}, {"id": 2}]) == 2
        os.umask(0o002)
        atomic.write_text(tmp_path / "a.txt", "replaced")  # a rewrite takes the new file's mode
    finally:
        os.umask(previous)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in files_under(tmp_path)}
    assert modes == {"a.txt": "0o664", "b.json": "0o640", "c.npy": "0o640", "test.jsonl": "0o640"}
    assert (tmp_path / "a.txt").read_text() == "replaced"
    assert (tmp_path / "export" / "test.jsonl").read_text() == '{"id": 1}\n{"id": 2}\n'
