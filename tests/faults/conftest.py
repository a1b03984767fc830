"""Fault tests: a small valid data dir (STS + retrieval) that each test breaks in one place, and helpers."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import CORPUS, write_jsonl


def make_data(root: Path, sts_rows: int = 12, docs: int = 20) -> Path:
    """jsts (train = JMTEB validation, test) and jaquad_retrieval (corpus, test) in the local layout."""
    rng = random.Random(0)

    def sts(n: int) -> list[dict]:
        return [{"sentence1": rng.choice(CORPUS) + " " + rng.choice(CORPUS), "sentence2": rng.choice(CORPUS),
                 "label": round(rng.uniform(0, 5), 1)} for _ in range(n)]

    write_jsonl(root / "jsts" / "train.jsonl", sts(sts_rows))
    write_jsonl(root / "jsts" / "test.jsonl", sts(sts_rows))
    write_jsonl(root / "jaquad_retrieval" / "corpus.jsonl",
                [{"docid": f"d{i}", "title": "", "text": f"{CORPUS[i % 10]} {CORPUS[(i // 10) % 10]}"}
                 for i in range(docs)])
    write_jsonl(root / "jaquad_retrieval" / "test.jsonl",
                [{"qid": f"q{i}", "query": CORPUS[i % 10], "relevant_docs": [f"d{i}"]} for i in range(8)])
    return root


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return make_data(tmp_path / "data")


def run_args(tmp_path: Path, model: Path, *extra: str, tasks: str = "[jsts]") -> list[str]:
    return ["run", f"model.path={model}", f"data_dir={tmp_path / 'data'}", f"tasks={tasks}",
            f"output_dir={tmp_path / 'out'}", f"cache_dir={tmp_path / 'cache'}", "encode.show_progress=false",
            *extra]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).exists() else []


def fails_cleanly(capsys, argv: list[str], *needles: str, clean: tuple[Path, ...] = ()) -> str:
    """Run the CLI in-process: exit 2, exactly one stderr line holding every needle, no traceback, and
    nothing written under the `clean` directories."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    for directory in clean:
        assert files_under(directory) == [], files_under(directory)
    return lines[0]


@pytest.fixture(scope="session")
def broken_models(tiny_model, tmp_path_factory) -> dict[str, Path]:
    """The tiny model saved twice more: all weights NaN, and all weights +inf (a broken fp16 export)."""
    import torch
    from sentence_transformers import SentenceTransformer

    out = {}
    for name, value in (("nan", float("nan")), ("inf", float("inf"))):
        model = SentenceTransformer(str(tiny_model), device="cpu")
        with torch.no_grad():
            for param in model.parameters():
                param.fill_(value)
        path = tmp_path_factory.mktemp(f"tiny-{name}")
        model.save(str(path))
        out[name] = path
    return out


@contextlib.contextmanager
def tmpfs(directory: Path, options: str = "size=64k"):
    """A tmpfs mounted at `directory` (root only; the test is skipped where mounting is not permitted)."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs."""
    with tmpfs(tmp_path / "disk") as disk:
        yield disk


def fill(disk: Path, leave: int) -> None:
    """Fill the disk, then free `leave` bytes."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
