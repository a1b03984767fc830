"""Atomic file writes: a reader (or a crash) never sees half a file.

Everything the harness writes goes to a temporary name in the same directory and is renamed into place;
rename is atomic on POSIX, so an interrupted run leaves either the old file or the new one.

Files are created with mode 0666 less the umask, as `open()` would create them (0644 under umask 022): results,
reports and the shared embedding cache are meant to be read by others when the umask says so.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

# O_EXCL: never an existing file (nor a symlink planted under the name); O_CLOEXEC: not inherited by children.
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new hidden file beside `path`. Not tempfile.mkstemp: it forces mode 0600 whatever the umask."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp  # the kernel applies the umask
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def write_with(path: Path, write) -> None:
    """Write `path` atomically: `write(handle)` fills a temporary file in the same directory, which is then
    renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_with(path, lambda h: h.write(text.encode("utf-8")))


def write_json(path: Path, data: Any) -> None:
    # sort_keys=False keeps the run order (JMTEB's summary is in run order); indent for diffs.
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_npy(path: Path, array: np.ndarray) -> None:
    write_with(path, lambda h: np.save(h, array, allow_pickle=False))
