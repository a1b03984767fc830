"""Reading task data: a local mirror (`data_dir`) or the Hugging Face Hub.

Local layout (the layout of `harness data export` and of ../shared/data):
    <data_dir>/<task.local>/<split>.jsonl          one row per example (JMTEB hub schema)
    <data_dir>/<task.local>/corpus.jsonl           retrieval / reranking documents
    <data_dir>/<task.local>/{corpus,queries,qrels}.jsonl   BEIR / NanoBEIR schema

Without a data_dir rows come from `datasets.load_dataset` at the task's pinned revision (memory-mapped Arrow
files, read in batches). The hub is probed first with a short timeout so an air-gapped machine fails in
seconds with one line, instead of retrying; the revision is then resolved to the commit the Hub serves
(harness.hub), that commit is read, and provenance records both (`revision` asked, `resolved` commit).

`DataSource.rows` returns a part as a list; `DataSource.iter_rows` hands out the same rows block by block as
they are read, with the same checks, errors and provenance, for corpora too large to hold as rows
(harness.families.corpus).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.hub import client_env, hub_reachable, resolve
from harness.spec import TaskSpec

ROW_BLOCK = 10_000  # rows per list from DataSource.iter_rows (and per Arrow batch read from the hub)


# A JSON escape of a UTF-16 surrogate: only lines holding one can decode to a lone surrogate, which no text file
# can hold and no tokenizer can encode (a valid pair decodes to one character and passes).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each non-blank line, read one line at a time. Line numbers are the file's physical
    lines (blank lines count), so every message points where an editor shows the line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HarnessError(f"{path}:{number}: not UTF-8 text (byte {exc.start + 1} of the line)") from None
            if not line.strip():
                continue
            yield number, _parse_line(line, path, number)


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose key repeats: json.loads would keep the last value silently (a NaN label behind a
    second `label`, a qrels grade replaced), so the row is refused instead."""
    row = dict(pairs)
    if len(row) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return row


def _parse_line(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        row = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}:{number}: line is not valid JSON ({exc.msg})") from None
    except _DuplicateKey as exc:
        raise HarnessError(f"{path}:{number}: key '{exc}' appears twice in one JSON object (which value is "
                           f"meant is unknowable)") from None
    except RecursionError:  # the decoder recurses per nesting level
        raise HarnessError(f"{path}:{number}: line is nested too deeply to be a data row") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit (sys.set_int_max_str_digits)
        raise HarnessError(f"{path}:{number}: line is not a usable JSON row ({str(exc).splitlines()[0]})") from None
    if not isinstance(row, dict):
        raise HarnessError(f"{path}:{number}: line is not a JSON object")
    if _SURROGATE_ESCAPE.search(line):
        try:
            json.dumps(row, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise HarnessError(f"{path}:{number}: a string holds a lone UTF-16 surrogate (an escape such as "
                               f"\\ud800 without its pair), which is no character") from None
    return row


class Rows(list):
    """The rows of a part, with each row's physical line in its file (the row number on the hub) in `lines`,
    so a check that finds a bad row names the line an editor shows."""

    def __init__(self, pairs: Iterable[tuple[int, dict[str, Any]]] = ()):
        pairs = list(pairs)
        super().__init__(row for _, row in pairs)
        self.lines = [number for number, _ in pairs]


def numbered(rows: list[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) pairs: the file's lines for `Rows`, else positions from 1 (rows built in memory)."""
    return zip(rows.lines, rows) if isinstance(rows, Rows) else enumerate(rows, 1)


def kept(rows: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> Rows:
    """The rows for which `keep(row)` holds, each still with its line."""
    return Rows((line, row) for line, row in numbered(rows) if keep(row))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class DataSource:
    """Reads the parts of tasks and records where each came from (for provenance)."""

    data_dir: Path | None
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    _hub_ok: bool | None = None

    def rows(self, task: TaskSpec, part: str, required: tuple[str, ...] = ()) -> Rows:
        """Rows of one part of `task` with their lines, `required` harness columns checked (renamed per
        task.columns)."""
        pairs, origin = self._open(task, part)
        return Rows(self._checked(task, part, pairs, origin, required))

    def iter_rows(self, task: TaskSpec, part: str, required: tuple[str, ...] = (),
                  block: int = ROW_BLOCK) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """The rows of `rows()`, read as they are consumed: lists of at most `block` (line, row) pairs (the line
        in the jsonl file, or the row number on the hub), so a corpus never has to fit in memory as rows.
        Each call reads the part again; provenance is recorded as by `rows()`."""
        pairs, origin = self._open(task, part)
        batch = []
        for pair in self._checked(task, part, pairs, origin, required):
            batch.append(pair)
            if len(batch) == block:
                yield batch
                batch = []
        if batch:
            yield batch

    def where(self, task: TaskSpec, part: str) -> str:
        """The file (or hub dataset) a part was read from, for error messages."""
        return self.provenance.get(task.name, {}).get(part, {}).get("where", f"{task.name}/{part}")

    def _checked(self, task: TaskSpec, part: str, pairs: Iterable[tuple[int, dict]], origin: dict,
                 required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
        """`pairs` with the required columns checked row by row; provenance (with the row count) recorded
        once every row has been read."""
        parts = self.provenance.setdefault(task.name, {})
        parts.setdefault(part, dict(origin))  # `where` for error messages while the rows are still being read
        columns = [task.column(c) for c in required]
        count = 0
        for number, row in pairs:
            absent = [c for c in columns if c not in row]
            if absent and count == 0:
                raise HarnessError(f"{origin['where']}: missing column '{absent[0]}' "
                                   f"(task {task.name}, columns present: {', '.join(row)})")
            if absent:
                raise HarnessError(f"{origin['where']}:{number}: missing column '{absent[0]}'")
            count += 1
            yield number, row
        parts[part] = {**origin, "rows": count}
        if not count:  # every part feeds a score: an empty one would give NaN or a crash downstream
            raise HarnessError(f"{origin['where']}: is empty (no rows for task {task.name}, {part})")

    def _open(self, task: TaskSpec, part: str) -> tuple[Iterator[tuple[int, dict]], dict]:
        """The (line, row) pairs of a part, not yet read, and where they come from."""
        return self._local(task, part) if self.data_dir is not None else self._hub(task, part)

    def _local(self, task: TaskSpec, part: str) -> tuple[Iterator[tuple[int, dict]], dict]:
        path = Path(self.data_dir) / task.local / f"{task.local_file(part)}.jsonl"
        if not path.is_file():
            raise HarnessError(f"{path}: missing data file for task {task.name} ({part}); "
                               f"expected layout <data_dir>/{task.local}/{task.local_file(part)}.jsonl")
        return iter_jsonl(path), {"where": str(path), "source": "local", "path": str(path.resolve()),
                                  "sha256": file_sha256(path)}

    def _hub(self, task: TaskSpec, part: str) -> tuple[Iterator[tuple[int, dict]], dict]:
        hub = task.hub_part(part)
        if hub is None:
            raise HarnessError(f"{task.file}: task {task.name} has no hub source; give data_dir=D "
                               f"with {task.local}/{task.local_file(part)}.jsonl")
        label = f"{hub.path}" + (f" ({hub.name}, split {hub.split})" if hub.name else f" (split {hub.split})")
        if self._hub_ok is None:
            self._hub_ok = hub_reachable()
        if not self._hub_ok:
            raise HarnessError(
                f"dataset {label} for task {task.name} cannot be loaded: the Hugging Face Hub is unreachable; "
                f"give a local copy with data_dir=D (D/{task.local}/{task.local_file(part)}.jsonl, "
                f"see `harness data export`) or set HARNESS_DATA_DIR")
        commit = resolve(hub.path, hub.revision, "dataset", what=f"dataset {label} for task {task.name}")
        client_env()
        import datasets  # heavy import, only on the hub path

        try:  # the resolved commit, not the branch: what provenance records is what was read
            dataset = datasets.load_dataset(hub.path, hub.name, split=hub.split, revision=commit)
        except Exception as exc:  # the hub raises many types; the user needs the dataset and the reason
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            script = " or export it with `make jmteb-data`" if (task.hub or {}).get("script") else ""
            raise HarnessError(f"dataset {label} for task {task.name} cannot be loaded ({reason[:200]}); "
                               f"give a local copy with data_dir=D ({task.local}/{task.local_file(part)}.jsonl)"
                               f"{script}") from None
        return _hub_rows(dataset), {"where": label, "source": "hub", "path": hub.path, "name": hub.name,
                                    "split": hub.split, "revision": hub.revision, "resolved": commit}


def _hub_rows(dataset, batch: int = ROW_BLOCK) -> Iterator[tuple[int, dict]]:
    """(row number, row) of a hub dataset, read from its memory-mapped Arrow files one batch at a time."""
    number = 0
    for columns in dataset.iter(batch_size=batch):
        for values in zip(*columns.values()):
            number += 1
            yield number, dict(zip(columns, values))
