"""Everything a run will use, checked before its first text is encoded (and before the model is loaded).

A run either refuses in one line (exit 2) or starts with inputs that cannot fail it for being bad: the config
values are checked when the plan is built (harness.config); here come the directories it writes, the model
files, and the data of every planned task, all splits and every row.

The data check runs each task's own protocol function up to its first encode, with a stand-in encoder that
stops it there: the rows are read and checked by the very code that scores them (harness.families.checks), so
no second copy of the loading rules can drift from the first. That rests on one rule every protocol keeps:
read and check all of its data before it encodes anything (pinned by
tests/families/test_families_read_before_encode.py). Every task is checked, kept ones too: reading data is
cheap next to encoding it, and a run that refuses should say so before it loads a model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from harness.config import RunPlan
from harness.data import DataSource
from harness.encoders.base import TORCH_BACKENDS, EncoderConfig
from harness.errors import HarnessError
from harness.families import FAMILIES
from harness.families.base import Context


class _ReachedEncode(Exception):
    """A protocol function asked to encode: everything it reads was read and checked."""


class _StopAtFirstEncode:
    """Stands in for the encoder during the data check; `config` is there for code that reads it early."""

    def __init__(self, config: EncoderConfig):
        self.config = config

    def encode(self, texts, side):
        raise _ReachedEncode


def check_data(plan: RunPlan, data: DataSource) -> None:
    """Every planned task's data read and checked as its protocol reads it; one line per task that fails."""
    failed = []
    for task in plan.tasks:
        ctx = Context(data=data, encoder=_StopAtFirstEncode(plan.encoder), label=task.key, seed=plan.seed,
                      device=plan.device, storage_dtype=plan.storage_dtype)
        try:
            FAMILIES[task.spec.family].run(task.spec, task.protocol, task.params, ctx)
        except _ReachedEncode:
            continue
        except HarnessError as exc:
            failed.append(str(exc))
            continue
        raise AssertionError(f"protocol {task.protocol} of task {task.key} finished without encoding")
    if failed:
        raise HarnessError("\n".join(failed))


def check_model_files(config: EncoderConfig) -> None:
    """A local model.path for a torch backend must be a model directory: a file, or a directory without the
    files a model starts from, fails here in one line instead of deep inside a library."""
    local = Path(config.path).expanduser()
    if config.backend not in (*TORCH_BACKENDS, "static") or not local.exists():
        return  # a hub id (resolved by the backend) or an API model
    if not local.is_dir():
        raise HarnessError(f"field 'model.path': {local} is a file, not a model directory")
    if not any((local / name).is_file() for name in ("modules.json", "config.json")):
        raise HarnessError(f"field 'model.path': {local} is not a model directory (it has neither modules.json "
                           f"nor config.json)")


def check_writable_dir(directory: Path, field: str, named: Path | None = None) -> None:
    """`directory` (or the nearest existing parent, when it is still to be created) must be a directory where a
    file can be written: probed with a real file, written and synced, since os.access says yes to root on a
    read-only mount and a full disk only shows when data is written. Nothing is left behind. Messages name
    `named` (default: `directory`), the path the user gave."""
    named = named or directory
    probe = directory
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise HarnessError(f"field '{field}': {named} cannot be created: {probe} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe) as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise HarnessError(f"field '{field}': {named} is not writable ({exc.strerror or exc}); nothing was "
                           f"written") from None
