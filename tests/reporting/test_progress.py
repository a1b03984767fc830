"""Progress a person can follow: a two-task suite run in a child process, once with stderr on a pseudo-terminal
(tqdm bars) and once through a pipe (plain timestamped lines, no `\\r` frames). Either way: a `[i/N] task` line
on stdout per task with the elapsed time and, from the second task on, the suite's ETA; one bar per encode call
over the whole text list although the cache splits it into chunks of 8; STS sides named sentence1 / sentence2; a
table of what was scored at the end of stdout."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading

import pytest

from tests.conftest import ROOT
from tests.reporting.tiny_run import make_data

TIMESTAMP = r"\d\d:\d\d:\d\d"


@pytest.fixture(scope="module")
def command(tiny_model, tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("progress")
    make_data(root / "data")
    return [sys.executable, "-m", "harness", "run", f"model.path={tiny_model}", "model.name=tiny",
            "suite=offline_real", "tasks=[jsts,jaquad_retrieval]", f"data_dir={root / 'data'}",
            f"output_dir={root / 'out'}", f"cache_dir={root / 'cache'}", "cache_chunk=8", "overwrite=true",
            "resume=false"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _common_checks(stderr: str, stdout: str) -> None:
    assert re.search(rf"^{TIMESTAMP} \[1/2\] jsts \(sts, protocol jmteb\); elapsed 0:00:\d\d$", stdout, re.M)
    assert re.search(rf"^{TIMESTAMP} \[2/2\] jaquad_retrieval \(retrieval, protocol jmteb\); elapsed \d:\d\d:\d\d, "
                     rf"suite ETA \d:\d\d:\d\d$", stdout, re.M)
    assert "encode jsts sentence1" in stderr and "encode jsts sentence2" in stderr
    assert "encode jsts query" not in stderr
    table = stdout[stdout.index("task "):]
    assert re.search(r"^\s*jsts\s+STS\s+jmteb\s+spearman\s+-?\d\.\d{4}\s+\d+\.\d\s+scored$", table, re.M)
    assert re.search(r"^\s*jaquad_retrieval\s+Retrieval\s+jmteb\s+ndcg@10\s+\d\.\d{4}\s+\d+\.\d\s+scored$", table,
                     re.M)


def test_progress_through_a_pipe_is_plain_timestamped_lines(command):
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    _common_checks(done.stderr, done.stdout)
    # one bar per encode call: the 60-text corpus is one start line and one end line, not 8-text chunks
    corpus = [line for line in done.stderr.splitlines() if "encode jaquad_retrieval document" in line]
    assert len(corpus) == 2, corpus
    assert re.match(rf"{TIMESTAMP} encode jaquad_retrieval document: 60 texts$", corpus[0])
    assert re.match(rf"{TIMESTAMP} encode jaquad_retrieval document: 60 texts in [\d.]+ s", corpus[1])


def test_progress_on_a_terminal_draws_one_bar_per_encode_call(command):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal's size, for tqdm
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, text=True, env=_env(), timeout=300)
    os.close(follower)
    reader.join(timeout=30)
    os.close(leader)
    stderr = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    assert done.returncode == 0, stderr
    assert "\r" in stderr  # tqdm redraws its bar in place on a terminal
    _common_checks(stderr, done.stdout)
    frames = [f for f in re.split(r"[\r\n]", stderr) if "encode jaquad_retrieval document" in f]
    assert frames and all("/60 " in f for f in frames)  # never a bar of 8 (a cache chunk)
    assert any("60/60" in f for f in frames)
