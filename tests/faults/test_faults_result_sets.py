"""Result sets: a run replaces the previous set in one step. Killed (SIGKILL), interrupted (SIGINT) or out of disk
while its results are being written, the output directory holds the complete old set or the complete new one;
a task failing mid-suite leaves the others' results and a summary that marks it missing, and the rerun keeps
the finished tasks; bad data in one task refuses the whole run before anything is encoded."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import HarnessError
from tests.conftest import CORPUS, write_jsonl
from tests.faults.conftest import fill, make_data

ROOT = Path(__file__).resolve().parents[2]
TASKS = "[jsts,paws_x_ja,jaquad_retrieval]"  # the suite's order: STS, pair classification, retrieval

# A real `harness run` that stops at one point of writing its set (the Nth file written into the staging
# directory, or just before / after the swap), says so in a marker file, and waits to be signalled.
PAUSED_RUN = """
import sys, time
from pathlib import Path
import harness.atomic as atomic
import harness.resultset as resultset

marker, stop = sys.argv[1], sys.argv[2]
written = 0

def pause():
    Path(marker).write_text("paused")
    time.sleep(120)

original_write = atomic.write_with

def write_with(path, write):
    global written
    original_write(path, write)
    if ".staging-" in str(path):
        written += 1
        if stop == str(written):
            pause()

atomic.write_with = write_with
original_commit = resultset.Staging.commit

def commit(self):
    if stop == "before-swap":
        pause()
    original_commit(self)
    if stop == "after-swap":
        pause()

resultset.Staging.commit = commit
from harness.cli import main
from harness.errors import HarnessError
sys.exit(main(sys.argv[3:]))
"""


def _data(root: Path, broken_pairs: bool = False) -> Path:
    make_data(root, sts_rows=20)
    rng = random.Random(1)
    rows = [{"sentence1": rng.choice(CORPUS), "sentence2": rng.choice(CORPUS), "label": i % 2} for i in range(16)]
    write_jsonl(root / "paws_x_ja" / "validation.jsonl", rows)
    if broken_pairs:
        with open(root / "paws_x_ja" / "validation.jsonl", "a", encoding="utf-8") as handle:
            handle.write("{not json\n")
    return root


def _fails_after_encoding(monkeypatch, root: Path) -> None:
    """paws_x_ja fails once its texts are encoded (as an API that gives up would): data checks cannot see it."""
    def give_up(*args, **kwargs):
        raise HarnessError(f"{root / 'paws_x_ja' / 'validation.jsonl'}:17: the service gave up")

    monkeypatch.setattr("harness.families.pair_classification.threshold_search", give_up)


def _args(tmp_path: Path, model: Path, out: Path, tasks: str = TASKS, *extra: str) -> list[str]:
    return ["run", f"model.path={model}", f"data_dir={tmp_path / 'data'}", f"tasks={tasks}", f"output_dir={out}",
            f"cache_dir={tmp_path / 'cache'}", "encode.show_progress=false", *extra]


def state(directory: Path) -> dict[str, object]:
    """Every file of a result directory: bytes, and run.json without its timings."""
    found: dict[str, object] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if path.name == "run.json":
            data = json.loads(path.read_text())
            found[rel] = {k: v for k, v in data.items() if k not in ("started", "finished", "seconds_per_task",
                                                                   "cache", "kept")}
        else:
            found[rel] = path.read_bytes()
    return found


@pytest.fixture(scope="module")
def sets(tmp_path_factory, tiny_model):
    """The old set (jsts only) and the new set (all three tasks) of one run identity, with a filled cache."""
    root = tmp_path_factory.mktemp("sets")
    _data(root / "data")
    assert main(_args(root, tiny_model, root / "old", "[jsts]")) == 0
    assert main(_args(root, tiny_model, root / "new")) == 0
    old, new = state(root / "old"), state(root / "new")
    assert set(old) == {"STS/scores_jsts.json", "summary.json", "run.json"}
    assert set(new) == set(old) | {"PairClassification/scores_paws_x_ja.json", "Retrieval/scores_jaquad_retrieval.json"}
    return root, old, new


def _paused(root: Path, model: Path, out: Path, stop: str, sig: int) -> subprocess.CompletedProcess:
    marker = root / f"marker-{stop}-{sig}"
    proc = subprocess.Popen([sys.executable, "-c", PAUSED_RUN, str(marker), stop,
                             *_args(root, model, out)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # generous: a loaded CI machine can take minutes to import torch
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


# (signal, where the run stops, which set the directory then holds). The run writes into its staging directory
# the two new score files (1, 2; jsts is kept from the old set by a link), then summary.json and run.json (3, 4).
POINTS = [(signal.SIGKILL, "1", "old"), (signal.SIGKILL, "4", "old"), (signal.SIGKILL, "after-swap", "new"),
          (signal.SIGINT, "3", "old"), (signal.SIGINT, "before-swap", "old")]


@pytest.mark.parametrize("sig,stop,holds", POINTS, ids=[f"{s.name}-{p}" for s, p, _ in POINTS])
def test_faults_signal_while_writing_results_leaves_a_whole_set(sig, stop, holds, sets, tiny_model, tmp_path):
    root, old, new = sets
    out = tmp_path / "out"
    assert main(_args(root, tiny_model, out, "[jsts]")) == 0
    assert state(out) == old
    proc = _paused(root, tiny_model, out, stop, sig)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr
        assert "never a mix" in proc.stderr
    assert state(out) == (old if holds == "old" else new)
    # The next run cleans up what the killed one left beside the directory and completes the new set.
    assert main(_args(root, tiny_model, out)) == 0
    assert state(out) == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_faults_full_disk_while_writing_results_leaves_a_whole_set(sets, tiny_model, small_disk, capsys):
    root, old, new = sets
    out = small_disk / "out"
    assert main(_args(root, tiny_model, out, "[jsts]")) == 0
    assert state(out) == old
    failures = 0
    for free_pages in range(0, 12):
        fill(small_disk, free_pages * 4096)
        capsys.readouterr()
        code = main(_args(root, tiny_model, out))
        err = capsys.readouterr().err
        stray = sorted(p.name for p in small_disk.iterdir() if p.name not in ("out", "filler"))
        assert stray == [], stray  # no staging directory left behind
        if code == 0:
            assert state(out) == new
            break
        failures += 1
        # refused by the preflight probe of output_dir, or while writing the set
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "the previous results there are unchanged" in err or "nothing was written" in err, err
        assert state(out) == old, free_pages
    else:
        raise AssertionError("the run never fitted on the disk")
    assert failures >= 2  # out of space at the first file and later ones


def test_faults_bad_data_in_one_task_refuses_the_run_before_anything_is_encoded(tmp_path, tiny_model, capsys):
    _data(tmp_path / "data", broken_pairs=True)
    out = tmp_path / "out"
    assert main(_args(tmp_path, tiny_model, out)) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "validation.jsonl:17" in errors[0] and "not valid JSON" in errors[0], errors
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_faults_failing_task_mid_suite_keeps_the_others_and_the_rerun_skips_them(tmp_path, tiny_model, capsys,
                                                                                 monkeypatch):
    _data(tmp_path / "data")
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _fails_after_encoding(patch, tmp_path / "data")
        assert main(_args(tmp_path, tiny_model, out)) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and "validation.jsonl:17" in errors[0], errors
    assert "paws_x_ja: failed" in captured.out and "results written to" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"STS", "Retrieval", "_missing"}
    assert list(summary["_missing"]) == ["paws_x_ja"] and "validation.jsonl:17" in summary["_missing"]["paws_x_ja"]
    assert (out / "STS" / "scores_jsts.json").is_file()
    assert (out / "Retrieval" / "scores_jaquad_retrieval.json").is_file()
    assert not (out / "PairClassification").exists()
    run = json.loads((out / "run.json").read_text())
    assert list(run["missing"]) == ["paws_x_ja"] and run["kept"] == []
    finished = {p: p.read_bytes() for p in out.rglob("scores_*.json")}

    # the service back: the rerun computes only the failed task
    assert main(_args(tmp_path, tiny_model, out)) == 0
    stdout = capsys.readouterr().out
    for task in ("jsts", "jaquad_retrieval"):
        assert f"task {task}: kept from {out} (same run identity)" in stdout
    pairs = json.loads((out / "PairClassification" / "scores_paws_x_ja.json").read_text())
    assert f"paws_x_ja: {pairs['metric_name']} = {pairs['metric_value']:.6f}" in stdout
    assert all(path.read_bytes() == data for path, data in finished.items())
    run = json.loads((out / "run.json").read_text())
    assert run["kept"] == ["jsts", "jaquad_retrieval"] and list(run["seconds_per_task"]) == ["paws_x_ja"]
    assert "_missing" not in json.loads((out / "summary.json").read_text())

    # The kept set equals a fresh run's, byte for byte (summary included: run order)
    assert main(_args(tmp_path, tiny_model, tmp_path / "fresh")) == 0
    fresh = state(tmp_path / "fresh")
    mine = state(out)
    for name in fresh:
        if name != "run.json":
            assert mine[name] == fresh[name], name
    # resume=false recomputes everything
    assert main(_args(tmp_path, tiny_model, out, TASKS, "resume=false")) == 0
    assert "kept from" not in capsys.readouterr().out


def test_faults_changed_data_is_recomputed_not_kept(tmp_path, tiny_model, capsys):
    _data(tmp_path / "data")
    out = tmp_path / "out"
    assert main(_args(tmp_path, tiny_model, out, "[jsts]")) == 0
    before = json.loads((out / "STS" / "scores_jsts.json").read_text())
    make_data(tmp_path / "data", sts_rows=25)  # the same task, other rows
    capsys.readouterr()
    assert main(_args(tmp_path, tiny_model, out, "[jsts]")) == 0
    assert "kept from" not in capsys.readouterr().out
    after = json.loads((out / "STS" / "scores_jsts.json").read_text())
    assert after["provenance"]["dataset"]["parts"]["test"]["sha256"] != \
        before["provenance"]["dataset"]["parts"]["test"]["sha256"]


def test_faults_other_tasks_of_the_same_identity_are_carried(tmp_path, tiny_model, capsys):
    """Running a suite task by task fills one set: the previous set's other tasks stay, in its summary too."""
    _data(tmp_path / "data")
    out = tmp_path / "out"
    (tmp_path / "notes.md").write_text("mine")
    assert main(_args(tmp_path, tiny_model, out, "[jaquad_retrieval]")) == 0
    os.link(tmp_path / "notes.md", out / "notes.md")  # a file the harness does not own
    assert main(_args(tmp_path, tiny_model, out, "[jsts]")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == ["STS", "Retrieval"]
    assert (out / "notes.md").read_text() == "mine"


def test_faults_output_dir_that_is_no_result_set_is_refused(tmp_path, tiny_model, capsys):
    _data(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(_args(tmp_path, tiny_model, out, "[jsts]")) == 2
    assert "holds files but no run.json" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
