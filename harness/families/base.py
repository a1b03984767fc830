"""What a task family is: named protocols, each a typed parameter class and one function (load → encode →
predict → score), and the context a protocol function runs in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from harness.data import DataSource
from harness.encoders.base import Encoder, Side
from harness.errors import HarnessError, one_of
from harness.params import Params
from harness.spec import TaskSpec


@dataclass(frozen=True)
class Outcome:
    """A task's score in JMTEB's shape: main metric name and value, plus every variant's details."""

    metric_name: str
    metric_value: float
    details: dict[str, Any]


def with_per_item(details: dict[str, Any], statistic: str, ids=None, **arrays) -> dict[str, Any]:
    """details plus `per_item`: what the main metric is computed from (pairs or queries), for bootstrap
    intervals in reports (harness.scoring.bootstrap); base64 float64, so score files stay compact and exact."""
    from harness.scoring.bootstrap import pack

    return {**details, "per_item": pack(statistic, ids=ids, **arrays)}


def with_label_items(details: dict[str, Any], main: str, gold, predicted, statistics: Mapping[str, str]
                     ) -> dict[str, Any]:
    """details plus `per_item` of a metric over labelled items (texts, pairs): accuracy as the mean of each
    item's correctness, a metric named in `statistics` from gold and predicted labels; any other metric has
    none (no interval is better than a wrong one)."""
    gold, predicted = np.asarray(gold, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if main == "accuracy":
        return with_per_item(details, "mean", values=(gold == predicted).astype(np.float64))
    if main in statistics:
        return with_per_item(details, statistics[main], gold=gold, predicted=predicted)
    return details


@dataclass(frozen=True)
class Context:
    """What a protocol function may use besides its task and parameters. `encode` puts the planned task's
    prompt for the role before the texts; `device` is where search runs; `storage_dtype` set means retrieval
    corpora are streamed and encoded to disk (harness.store)."""

    data: DataSource
    encoder: Encoder
    prompts: Callable[[str], str | None] = lambda role: None  # role -> prompt, for the task being run
    label: str = ""  # the task's result key, for progress and messages
    seed: int = 0
    device: str = "auto"
    storage_dtype: str | None = None

    def encode(self, texts: list[str], role: str, part: str = "") -> np.ndarray:
        """`part` names the texts in progress lines where the role does not (the two sides of a pair)."""
        return self.encoder.encode(texts, Side(task=self.label, role=role, prompt=self.prompts(role), part=part))


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Protocol(Generic[P]):
    """A named way of scoring a family's tasks: its parameters and the one function that applies them."""

    name: str
    params: type[P]
    run: Callable[[TaskSpec, P, Context], Outcome]


@dataclass(frozen=True)
class Family:
    name: str
    protocols: Mapping[str, Protocol]

    def protocol_params(self, task: TaskSpec, protocol: str,
                        extra: tuple[tuple[str, Mapping[str, Any]], ...] = ()) -> Params:
        """The protocol's defaults <- task `params` <- task `protocols.<protocol>` <- `extra` layers (a suite's
        fields); unknown or mistyped fields and invalid values fail naming the task file."""
        if protocol not in task.protocols:
            raise HarnessError(f"{task.file}: task {task.name} has no protocol '{protocol}'; "
                               f"valid: {', '.join(sorted(task.protocols))}")
        layers = (("params", task.params), (f"protocols.{protocol}", task.protocols[protocol]), *extra)
        shared = {name for unit in self.protocols.values() for name in unit.params.field_names()}
        return self.protocols[protocol].params.build(layers, str(task.file), self.name, shared)

    def run(self, task: TaskSpec, protocol: str, params: Params, ctx: Context) -> Outcome:
        return self.protocols[protocol].run(task, params, ctx)


def family(name: str, *protocols: Protocol) -> Family:
    return Family(name, {p.name: p for p in protocols})


def variant_details(selection: str, chosen: str, val_scores: Mapping[str, Mapping[str, float]],
                    test_scores: Mapping[str, Mapping[str, float]], names: Mapping[str, str] = {},
                    **extras: Any) -> dict[str, Any]:
    """A family's `details`, one shape for every protocol (JMTEB's): `<selection>` (the variant the main metric
    is reported on), `val_scores` ({} for a protocol that scores one split), `test_scores`
    {variant: {metric: value}}, then protocol extras. Variants are shown under `names` (a reference's own
    spelling, e.g. JMTEB's "manhatten_distance"); extras keyed by variant are renamed alike."""
    def rename(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {names.get(k, k): v for k, v in mapping.items()}

    out = {selection: names.get(chosen, chosen), "val_scores": rename(val_scores), "test_scores": rename(test_scores)}
    for key, value in extras.items():
        out[key] = rename(value) if key in ("extra_scores", "higher_is_similar") else value
    return out


def pick_best(val_scores: Mapping[str, Mapping[str, float]], metric: str) -> str:
    """JMTEB's selection: highest validation score, the first variant wins ties."""
    best, best_value = None, None
    for name, scores in val_scores.items():
        if best_value is None or scores[metric] > best_value:
            best, best_value = name, scores[metric]
    return best


def main_value(task: TaskSpec, scores: Mapping[str, float], main: str) -> float:
    """The main metric's value; a main metric the scores lack (known only from the data) fails in one line."""
    if main not in scores:
        raise one_of("main metric", main, list(scores), where=f"{task.file}: field 'main_metric'")
    return scores[main]
