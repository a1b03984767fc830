"""A reader that closes the pipe early (`harness list tasks | head -1`): the command ends as SIGPIPE ends any
Unix tool, with no traceback and no message, status 141 (128 + SIGPIPE) as a shell shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = [sys.executable, "-m", "harness"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("command", [["list", "tasks"], ["list", "models"], ["list", "suites"]])
def test_faults_closed_pipe_ends_quietly_with_sigpipe_status(command):
    """The pipe's read end is closed before the command writes a byte, so every write fails (EPIPE)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.Popen(HARNESS + command, cwd=ROOT, env=ENV, stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.decode()) == (141, "")


def test_faults_list_tasks_into_head():
    """The real pipeline: head prints the first line; whether harness was still writing when head left (141)
    or had already handed everything to the pipe (0) depends on timing, never a traceback."""
    harness = subprocess.Popen(HARNESS + ["list", "tasks"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=harness.stdout, stdout=subprocess.PIPE)
    harness.stdout.close()  # head alone holds the read end
    first, _ = head.communicate(timeout=120)
    err = harness.stderr.read().decode()
    assert harness.wait(timeout=120) in (0, 141) and err == ""
    assert first.decode().startswith("aio3: family retrieval") and first.count(b"\n") == 1
