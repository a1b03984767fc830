"""The real CLI process: bad input ends with one line on stderr and exit code 2, no traceback, nothing
written; --debug shows the traceback. (Every input case runs in-process in test_faults_inputs.py.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def harness(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_faults_cli_process_prints_one_line(tmp_path):
    line = assert_one_line_error(harness("run", "model=nope", f"output_dir={tmp_path}/out"), "unknown model 'nope'",
                                 "all-minilm-l6-v2")
    assert "conf/model" in line
    assert not (tmp_path / "out").exists()


def test_faults_override_of_unknown_key():
    assert_one_line_error(harness("run", "no_such_key=1"), "no_such_key")


def test_faults_debug_shows_traceback():
    proc = harness("--debug", "run", "model=nope")
    assert proc.returncode == 2 and "Traceback" in proc.stderr and "unknown model" in proc.stderr


def test_faults_missing_data_file_names_the_file(tmp_path, minilm_path):
    proc = harness("run", f"model.path={minilm_path}", f"data_dir={tmp_path}", "tasks=[jsts]",
                   f"output_dir={tmp_path}/out", f"cache_dir={tmp_path}/cache")
    assert_one_line_error(proc, str(tmp_path / "jsts" / "train.jsonl"), "missing data file")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_faults_offline_hub_fails_fast_naming_the_dataset(tmp_path, minilm_path, env):
    """Without data_dir the task reads the Hub; unreachable, it must stop within 30 s with one line.

    The second case points the Hub endpoint at a closed loopback port (nothing leaves the machine)."""
    start = time.monotonic()
    proc = harness("run", f"model.path={minilm_path}", "tasks=[jsts]", "data_dir=null",
                   f"output_dir={tmp_path}/out", f"cache_dir={tmp_path}/cache", env=env, timeout=60)
    assert time.monotonic() - start < 30
    assert_one_line_error(proc, "sbintuitions/JMTEB", "jsts", "data_dir")
