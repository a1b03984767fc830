"""Verified cache entries: every way an entry can be wrong is detected on read, recomputed, counted in run.json and
warned about once; the scores equal an uncorrupted run's, and the entry is sound again afterwards."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.cache import MAGIC, read_entry, write_entry
from harness.cli import main
from tests.faults.conftest import make_data

SCORE = "STS/scores_jsts.json"


def _header_end(raw: bytes) -> int:
    return raw.index(b"\n", len(MAGIC)) + 1


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.emb"))


def _rows(path: Path) -> int:
    raw = path.read_bytes()
    return json.loads(raw[len(MAGIC):_header_end(raw) - 1])["rows"]


def _same_shape_pair(cache: Path) -> tuple[Path, Path]:
    entries = _entries(cache)
    for a in entries:
        for b in entries:
            if a != b and a.stat().st_size == b.stat().st_size:
                return a, b
    raise AssertionError("no two entries of one shape")


def swapped(victim: Path, cache: Path) -> list[Path]:
    a, b = _same_shape_pair(cache)
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)
    return [a, b]


def bit_flipped(victim: Path, cache: Path) -> None:
    raw = bytearray(victim.read_bytes())
    raw[_header_end(bytes(raw)) + 5] ^= 0x04
    victim.write_bytes(bytes(raw))


def rows_permuted(victim: Path, cache: Path) -> None:
    raw = victim.read_bytes()
    start = _header_end(raw)
    rows = np.frombuffer(raw[start:], dtype="<f4").reshape(_rows(victim), -1)
    victim.write_bytes(raw[:start] + rows[::-1].tobytes())


def truncated(victim: Path, cache: Path) -> None:
    victim.write_bytes(victim.read_bytes()[:-12])


def zero_length(victim: Path, cache: Path) -> None:
    victim.write_bytes(b"")


def directory(victim: Path, cache: Path) -> None:
    victim.unlink()
    (victim / "inside").mkdir(parents=True)


def broken_header(victim: Path, cache: Path) -> None:
    raw = victim.read_bytes()
    victim.write_bytes(MAGIC + b'{"key": "' + raw[_header_end(raw):])


def old_npy_in_place(victim: Path, cache: Path) -> None:
    rows = _rows(victim)
    with victim.open("wb") as handle:  # the format of entries before they carried a checksum
        np.save(handle, np.zeros((rows, 32), np.float32))


CASES = [swapped, bit_flipped, rows_permuted, truncated, zero_length, directory, broken_header, old_npy_in_place]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, tiny_model):
    """A filled cache (entries of 8 texts: several of one shape) and the scores of an uncorrupted run."""
    root = tmp_path_factory.mktemp("pristine")
    make_data(root / "data", sts_rows=30)
    args = _args(root, tiny_model, root / "cache", root / "out")
    assert main(args) == 0
    return root


def _args(root: Path, model: Path, cache: Path, out: Path) -> list[str]:
    return ["run", f"model.path={model}", f"data_dir={root / 'data'}", "tasks=[jsts]", f"output_dir={out}",
            f"cache_dir={cache}", "encode.show_progress=false", "encode.batch_size=4", "cache_chunk=8"]


@pytest.mark.parametrize("corrupt", CASES, ids=[c.__name__ for c in CASES])
def test_faults_corrupt_entry_is_recomputed_counted_and_warned_once(corrupt, pristine, tiny_model, tmp_path,
                                                                   caplog, capsys):
    cache = tmp_path / "cache"
    shutil.copytree(pristine / "cache", cache)
    victim = _entries(cache)[0]
    rows = {p: _rows(p) for p in _entries(cache)}
    damaged = corrupt(victim, cache) or [victim]
    caplog.set_level(logging.WARNING)
    assert main(_args(pristine, tiny_model, cache, tmp_path / "out")) == 0, capsys.readouterr().err
    stats = json.loads((tmp_path / "out" / "run.json").read_text())["cache"]
    assert stats["corrupt_entries"] == len(damaged) and stats["miss_texts"] == sum(rows[p] for p in damaged)
    assert stats["hit_texts"] == sum(rows.values()) - stats["miss_texts"]
    warnings = [r for r in caplog.records if r.name == "harness.cache" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "corrupt" in warnings[0].getMessage()
    for name in (SCORE, "summary.json"):
        assert (tmp_path / "out" / name).read_bytes() == (pristine / "out" / name).read_bytes(), name
    for entry in _entries(cache):  # every entry is sound again
        read_entry(entry, entry.stem, _rows(entry))
    assert not (victim.is_dir()) and not list(cache.rglob("*.tmp"))


def test_faults_entry_checks_name_what_is_wrong(tmp_path):
    path = tmp_path / "e.emb"
    write_entry(path, "k", np.arange(6, dtype=np.float32).reshape(3, 2))
    assert read_entry(path, "k", 3).tolist() == [[0, 1], [2, 3], [4, 5]]
    from harness.cache import CorruptEntry

    for key, rows, reason in (("other", 3, "holds another entry"), ("k", 2, "expected 2 rows")):
        with pytest.raises(CorruptEntry, match=reason):
            read_entry(path, key, rows)
    write_entry(path, "k", np.array([[np.nan, 1.0]], np.float32))
    with pytest.raises(CorruptEntry, match="non-finite"):
        read_entry(path, "k", 1)


def test_faults_unwritable_cache_does_not_stop_the_run(tmp_path, tiny_model, capsys, caplog):
    make_data(tmp_path / "data", sts_rows=10)
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in [f"{i:02x}" for i in range(256)]:  # every entry's folder is a file: no entry can be written
        (cache / name).write_text("x")
    caplog.set_level(logging.WARNING)
    assert main(_args(tmp_path, tiny_model, cache, tmp_path / "out")) == 0
    warnings = [r for r in caplog.records if r.name == "harness.cache"]
    assert len(warnings) == 1 and "cannot write" in warnings[0].getMessage()
    assert json.loads((tmp_path / "out" / SCORE).read_text())["metric_value"]
