"""Atomic file writes: a reader (or a crash) never sees half a file.

Everything the harness writes goes to a temporary name in the same directory and is renamed into place;
rename is atomic on POSIX, so an interrupted run leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def write_with(path: Path, write) -> None:
    """Write `path` atomically: `write(handle)` fills a temporary file in the same directory, which is then
    renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
