"""A run's result set: staged beside the output directory as tasks finish, then swapped in whole.

Each file is written atomically (harness.atomic), but a set of files is not: a run killed while writing would
leave one run's summary.json beside another run's score files. So a run builds its set in
`<output_dir>.staging-<host>-<pid>-<token>/` (same parent, so same filesystem), one score file as each task
finishes, and the finished set replaces the previous one with a single rename(2): renameat2(RENAME_EXCHANGE)
swaps the two directories atomically, and the previous set, now under the staging name, is deleted. A reader,
or a run killed at any instant, sees the complete old set or the complete new one. Where the filesystem cannot
exchange (NFS, non-Linux), two renames are used and a run that dies between them leaves the old set under
`<output_dir>.previous-<...>`; the next run puts it back before doing anything else.

The harness owns, in an output directory, the score files (`<Category>/scores_*.json`), `summary.json`,
`run.json`, the suite's aggregate file and the `dim<d>/` sets. Every other file (a report, a plot, your notes)
is carried into the new set unchanged, by hard link.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import socket
import sys
from pathlib import Path, PurePosixPath

_STAGING = ".staging-"
_PREVIOUS = ".previous-"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def is_dim_dir(name: str) -> bool:
    return re.fullmatch(r"dim\d+", name) is not None


def owned(rel: PurePosixPath, aggregate_files: set[str]) -> bool:
    """Whether a path of an output directory belongs to the result set (and so is never carried as is)."""
    parts = rel.parts
    if is_dim_dir(parts[0]):
        return True
    if len(parts) == 1:
        return parts[0] in ("summary.json", "run.json") or parts[0] in aggregate_files
    return len(parts) == 2 and parts[1].startswith("scores_") and parts[1].endswith(".json")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def recover(target: Path) -> None:
    """Undo what a run killed on this machine left beside `target`: a previous set parked between two renames
    is put back, stale staging directories are removed. Another machine's leftovers are left alone."""
    parent = target.parent
    if not parent.is_dir():
        return
    names = sorted(os.listdir(parent))  # not glob: an output_dir may be named with [ or *
    for entry in [parent / n for n in names if n.startswith(target.name + _PREVIOUS)]:
        if not os.path.lexists(target):
            os.rename(entry, target)
        else:
            shutil.rmtree(entry, ignore_errors=True)
    for entry in [parent / n for n in names if n.startswith(target.name + _STAGING)]:
        match = re.fullmatch(re.escape(target.name + _STAGING) + r"(.+)-(\d+)-[0-9a-f]+", entry.name)
        if match and match.group(1) == _host() and not _pid_alive(int(match.group(2))):
            shutil.rmtree(entry, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one system call; False where the system or filesystem cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Staging:
    """The directory a run builds its set in; `commit()` swaps it in, `close()` removes what is left."""

    def __init__(self, output_dir: Path):
        self.target = Path(output_dir).resolve() if Path(output_dir).is_symlink() else Path(output_dir)
        recover(self.target)
        self.created = []  # folders made for the set: removed again if it is never committed
        missing = self.target.parent
        while not missing.exists():
            self.created.append(missing)
            missing = missing.parent
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.dir = self.target.parent / f"{self.target.name}{_STAGING}{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.dir.mkdir()
        if self.target.is_dir():  # the set keeps the directory's permissions
            os.chmod(self.dir, self.target.stat().st_mode & 0o7777)
        self.committed = False

    def carry(self, source: Path, rel: PurePosixPath) -> None:
        """`source` into the set at `rel`, by hard link (a copy where links are not possible)."""
        dest = self.dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            return
        try:
            os.link(source, dest)
        except OSError:
            shutil.copy2(source, dest)

    def carry_unowned(self, aggregate_files: set[str]) -> None:
        """Every file of the previous set the harness does not own."""
        if not self.target.is_dir():
            return
        for path in sorted(self.target.rglob("*")):
            rel = PurePosixPath(path.relative_to(self.target).as_posix())
            if path.is_file() and not owned(rel, aggregate_files):
                self.carry(path, rel)

    def commit(self) -> None:
        if os.path.lexists(self.target) and not self.target.is_dir():
            raise OSError(errno.ENOTDIR, "not a directory", str(self.target))
        if not self.target.exists():
            os.rename(self.dir, self.target)
        elif not _exchange(self.dir, self.target):
            parked = self.target.parent / f"{self.target.name}{_PREVIOUS}{secrets.token_hex(4)}"
            os.rename(self.target, parked)
            os.rename(self.dir, self.target)
            os.rename(parked, self.dir)  # removed by close() like any staging leftover
        self.committed = True
        _fsync_dir(self.target.parent)

    def close(self) -> None:
        """Remove the staging directory: the unfinished set of an aborted run, or the previous set after a swap."""
        shutil.rmtree(self.dir, ignore_errors=True)
        if not self.committed:
            for folder in self.created:  # deepest first; a folder something else has filled meanwhile stays
                try:
                    folder.rmdir()
                except OSError:
                    break
