"""Progress a person can follow: a `[i/N] task` line per task (stdout) with the elapsed time and the suite's ETA,
one bar per encode call over its whole text list (stderr), and a table of what was scored at the end (stdout).

On a terminal the bars are tqdm's; when stderr is a file or a pipe (a batch job's log) every bar becomes a few
plain timestamped lines instead (start, every PLAIN_EVERY seconds, end), so the log holds no `\\r` frames. An
encode call made inside another one (the cache's chunks, a backend inside the cache) counts into the outer bar:
SciFact's corpus is one bar of 5,183 texts, not 4,096 + 1,087.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

PLAIN_EVERY = 30.0  # seconds between the plain lines of one long encode

_current: ContextVar[object | None] = ContextVar("harness_progress_bar", default=None)


def is_terminal() -> bool:
    return sys.stderr.isatty()


def line(text: str, stream=None) -> None:
    """A progress line (stderr unless `stream`) with the wall-clock time: readable in a log file, harmless on a
    terminal."""
    print(f"{datetime.now():%H:%M:%S} {text}", file=stream or sys.stderr, flush=True)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _PlainBar:
    """A bar as timestamped lines: what a log file can hold."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.done = total, desc, 0
        self.started = self.last = time.perf_counter()
        line(f"{desc}: {total} texts")

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= PLAIN_EVERY and self.done < self.total:
            self.last = now
            line(f"{self.desc}: {self.done}/{self.total} texts ({self.done / max(self.total, 1):.0%})")

    def close(self) -> None:
        seconds = time.perf_counter() - self.started
        line(f"{self.desc}: {self.done} texts in {seconds:.1f} s ({self.done / max(seconds, 1e-9):.0f} texts/s)")


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def encode_bar(total: int, task: str, part: str, enabled: bool) -> Iterator[object]:
    """The bar of one encode call; inside an outer encode call, the outer call's bar."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    if not enabled or total == 0:
        bar = _NoBar()
    elif is_terminal():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"encode {task} {part}", unit="text", dynamic_ncols=True)
    else:
        bar = _PlainBar(total, f"encode {task} {part}")
    token = _current.set(bar)
    try:
        yield bar
    finally:
        _current.reset(token)
        bar.close()


def advance(n: int) -> None:
    """Count `n` texts into the current encode call's bar without encoding them (the cache's hits)."""
    bar = _current.get()
    if bar is not None:
        bar.update(n)


class SuiteProgress:
    """The `[i/N] task` lines of a run: elapsed time since the run started and an ETA for the whole suite from
    the mean time of the tasks computed so far (tasks kept from a previous run take no time and are not
    counted)."""

    def __init__(self, tasks: list[str], enabled: bool):
        self.tasks, self.enabled = tasks, enabled
        self.started = time.perf_counter()
        self.seconds: list[float] = []

    def start(self, index: int, task: str, what: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        left = len(self.tasks) - index
        eta = (f", suite ETA {duration(sum(self.seconds) / len(self.seconds) * left)}" if self.seconds
               else "")
        # on stdout, beside each task's score line: stderr is kept for bars, warnings and errors (one line each)
        line(f"[{index + 1}/{len(self.tasks)}] {task} ({what}); elapsed {duration(elapsed)}{eta}", sys.stdout)

    def finished(self, seconds: float) -> None:
        self.seconds.append(seconds)


def scored_table(tasks: list[str], results: dict, seconds: dict[str, float], kept: list[str],
                 missing: dict[str, str]) -> str:
    """The end-of-run table: one line per planned task (its result, or why there is none)."""
    import pandas as pd

    rows = []
    for task in tasks:
        result = results.get(task)
        status = "failed" if task in missing else "kept" if task in kept else "scored"
        rows.append({"task": task, "category": result.category if result else "—",
                     "protocol": result.protocol if result else "—",
                     "metric": result.metric_name if result else "—",
                     "value": f"{result.metric_value:.4f}" if result else "—",
                     "seconds": f"{seconds[task]:.1f}" if task in seconds else "—", "status": status})
    return pd.DataFrame(rows).to_string(index=False)
