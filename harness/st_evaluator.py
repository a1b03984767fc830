"""A sentence-transformers evaluator that runs a harness suite (or task list) with the harness's protocols:
`SentenceTransformerTrainer(evaluator=HarnessEvaluator(...))`, `model.evaluate(evaluator)`, or a loop of
`evaluator(model)` calls.

Each call is `harness.evaluate(model, ...)` on the model as it is now: the same plan, protocols and scores,
returned flat with the harness's keys (`<task>_<main metric>`, plus the suite's aggregate keys such as
nanobeir.json's `NanoBEIR_mean_cosine_ndcg@10`) and a primary metric (the aggregate's main key, else the one
task's key, else `mean`: the mean of the tasks' main metrics). Between calls the task data stay in memory
(read once); embeddings are never cached (the weights change between calls), and the caller's random state
(python, numpy, torch) is left as it was although the run seeds its own.
With `output_path` (the trainer passes `<output_dir>/eval`) the run's files are written to
`<output_path>/harness[_<name>]/<epoch/steps>/`, as `harness run` writes them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Evaluation, in_memory_encoder, memory_model_option, run_composed
from harness.data import DataSource
from harness.spec import TaskSpec

try:  # sentence-transformers >= 6 moved the base class; 5.x has it here (a deprecated alias in 6.x)
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
except ImportError:  # pragma: no cover - sentence-transformers 5.x
    from sentence_transformers.evaluation import SentenceEvaluator


class LoadedData(DataSource):
    """A DataSource that reads each part once and then serves it from memory (with its provenance)."""

    def __init__(self, data_dir: Path | None):
        super().__init__(data_dir)
        self._kept: dict[tuple, Any] = {}

    def _key(self, kind: str, task: TaskSpec, part: str, required: tuple[str, ...]) -> tuple:
        return kind, task.name, repr(task.hub), repr(task.columns), part, tuple(required)

    def rows(self, task: TaskSpec, part: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        key = self._key("rows", task, part, required)
        if key not in self._kept:
            self._kept[key] = super().rows(task, part, required)
        return self._kept[key]

    def iter_rows(self, task: TaskSpec, part: str, required: tuple[str, ...] = (), block: int = 10_000):
        key = self._key(f"blocks{block}", task, part, required)
        if key not in self._kept:
            self._kept[key] = list(super().iter_rows(task, part, required, block))
        yield from self._kept[key]


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """The caller's python, numpy and torch (CPU and CUDA) generators as they were before the block."""
    import torch

    python, legacy = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(legacy)


class HarnessEvaluator(SentenceEvaluator):
    """Runs `suite` (or `tasks`) under `protocol` on the model it is called with; see the module docstring.

    `**overrides` are harness.evaluate's (`data_dir=`, `encode={"batch_size": 64}`, `seed=`, ...);
    `cache` is always off. `show_progress` shows the encode bars; `write_results` writes the run's files when
    an output path is given."""

    def __init__(self, suite: str | None = None, tasks: Sequence[str] | None = None, protocol: str | None = None,
                 name: str = "", show_progress: bool = False, write_results: bool = True, **overrides: Any):
        super().__init__()
        self.suite, self.tasks, self.protocol, self.name = suite, list(tasks) if tasks else None, protocol, name
        self.write_results = write_results
        overrides = dict(overrides)
        overrides.pop("cache", None)
        encode = dict(overrides.pop("encode", None) or {})
        encode.setdefault("show_progress", show_progress)
        self.overrides = {**overrides, "encode": encode, "cache": False, "overwrite": True}
        self.data = LoadedData(Path(overrides["data_dir"]).expanduser() if overrides.get("data_dir") else None)
        self.greater_is_better = True
        self.primary_metric = None
        self.last: Evaluation | None = None  # the most recent call's full results (score records, provenance)

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        out = None
        if output_path is not None and self.write_results:
            stage = "final" if epoch == -1 and steps == -1 else f"epoch{epoch:g}-steps{steps}"
            out = Path(output_path) / ("harness" + (f"_{self.name}" if self.name else "")) / stage
        overrides = dict(self.overrides)
        with kept_random_state():
            option = memory_model_option(model, overrides)
            self.last = run_composed(option, lambda p: in_memory_encoder(p.encoder, model),
                                     suite=self.suite, tasks=self.tasks, protocol=self.protocol, output_dir=out,
                                     overrides=overrides, data=self.data, quiet=True)
        metrics = self.last.metrics()
        self.primary_metric = self._primary(self.last)
        if self.primary_metric == "mean":
            metrics["mean"] = float(np.mean([r.metric_value for r in self.last.results]))
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @staticmethod
    def _primary(evaluation: Evaluation) -> str:
        if evaluation.aggregate and evaluation.results:
            key = f"NanoBEIR_mean_{evaluation.results[0].metric_name}"
            if key in evaluation.aggregate:
                return key
        if len(evaluation.results) == 1:
            result = evaluation.results[0]
            return f"{result.task}_{result.metric_name}"
        return "mean"

    @property
    def description(self) -> str:
        return f"harness {self.suite or ', '.join(self.tasks or [])}"
