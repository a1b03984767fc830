"""Crash safety: a run interrupted mid-encode (SIGINT or SIGKILL) leaves no half-written file, and the next
run resumes from the embedding cache, re-encoding at most one chunk, with the same scores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.cache import read_entry
from harness.cli import main
from tests.faults.conftest import files_under, make_data

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 64

# A real `harness run` whose encoder sleeps after each cache chunk and logs how many texts it encoded, so the
# test can kill it mid-encode and know how much work the kill threw away.
SLOW_RUN = """
import sys, time
from harness.encoders.st_backend import SentenceTransformersEncoder

progress, delay = sys.argv[1], float(sys.argv[2])
original = SentenceTransformersEncoder.encode_in_order

def slow(self, texts, *args, **kwargs):
    out = original(self, texts, *args, **kwargs)
    with open(progress, "a") as handle:
        handle.write(f"{len(texts)}\\n")
    time.sleep(delay)
    return out

SentenceTransformersEncoder.encode_in_order = slow
from harness.cache import read_entry
from harness.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _argv(tmp_path: Path, model: Path, out: str, cache: str) -> list[str]:
    return ["run", f"model.path={model}", f"data_dir={tmp_path / 'data'}", "tasks=[jsts]",
            f"output_dir={tmp_path / out}", f"cache_dir={tmp_path / cache}", "encode.show_progress=false",
            "encode.batch_size=16", f"cache_chunk={CHUNK}"]


def _stored_rows(cache: Path) -> int:
    """Rows in cache entries, each read and verified fully: a half-written entry would fail here."""
    total = 0
    for path in cache.rglob("*.emb"):
        rows = json.loads(path.read_bytes().split(b"\n", 2)[1])["rows"]
        total += read_entry(path, path.stem, rows).shape[0]
    return total


def _interrupt(tmp_path: Path, model: Path, sig: int, after_chunks: int) -> tuple[subprocess.CompletedProcess, int]:
    """Start a slowed run, send `sig` once `after_chunks` cache entries exist; return it and the texts it encoded."""
    progress = tmp_path / f"progress-{sig}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(progress), "0.15",
                             *_argv(tmp_path, model, "out", "cache")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # generous: a loaded CI machine can take minutes to import torch
    while len(list((tmp_path / "cache").rglob("*.emb"))) < after_chunks:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    encoded = sum(int(n) for n in progress.read_text().split()) if progress.exists() else 0
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), encoded


def test_faults_killed_run_resumes_with_identical_scores(tmp_path, tiny_model, capsys):
    make_data(tmp_path / "data", sts_rows=100)  # 2 x (100 + 100) = 400 texts: 8 chunks of <= 64
    cache = tmp_path / "cache"

    # SIGINT: a clean exit (130, one line, no traceback), only whole cache entries, no temp files.
    interrupted, encoded = _interrupt(tmp_path, tiny_model, signal.SIGINT, after_chunks=2)
    assert interrupted.returncode == 130, interrupted.stderr
    assert "Traceback" not in interrupted.stderr and "rerun to resume" in interrupted.stderr
    stored = _stored_rows(cache)
    assert len(list(cache.rglob("*.emb"))) >= 2 and 0 < stored < 400 and encoded - stored <= CHUNK
    assert not list(cache.rglob("*.tmp")) and files_under(tmp_path / "out") == []

    # SIGKILL: nothing can clean up; still no result file, and every entry on disk loads whole.
    before, entries = stored, len(list(cache.rglob("*.emb")))
    killed, encoded = _interrupt(tmp_path, tiny_model, signal.SIGKILL, after_chunks=entries + 2)
    assert killed.returncode == -signal.SIGKILL
    stored = _stored_rows(cache)
    assert len(list(cache.rglob("*.emb"))) >= entries + 2 and stored < 400
    assert encoded - (stored - before) <= CHUNK  # work lost to the kill: at most the chunk in flight
    assert files_under(tmp_path / "out") == []
    assert all(p.name.startswith(".") for p in cache.rglob("*.tmp"))  # a killed write leaves only a hidden temp

    # The restart reads every stored chunk and encodes only the rest.
    assert main(_argv(tmp_path, tiny_model, "out", "cache")) == 0
    stats = json.loads((tmp_path / "out" / "run.json").read_text())["cache"]
    assert stats["hit_texts"] == stored and stats["miss_texts"] == 400 - stored and stats["corrupt_entries"] == 0

    # Same bytes as a run that was never interrupted (fresh cache).
    assert main(_argv(tmp_path, tiny_model, "fresh", "fresh-cache")) == 0
    capsys.readouterr()
    for name in ("summary.json", "STS/scores_jsts.json"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
