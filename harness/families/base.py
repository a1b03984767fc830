"""What a task family is: protocols with default fields, and an evaluate function (load→encode→predict→score)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.data import DataSource
from harness.encoders.base import Encoder
from harness.errors import HarnessError
from harness.taskspec import TaskSpec


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


@dataclass
class Context:
    data: DataSource
    encoder: Encoder
    seed: int = 0
    device: str = "auto"
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    name: str
    # protocol -> default fields; every protocol has at least `main_metric`.
    protocols: Mapping[str, Mapping[str, Any]]
    evaluate: Callable[[TaskSpec, dict[str, Any], Context], Outcome]

    def protocol_params(self, task: TaskSpec, protocol: str) -> dict[str, Any]:
        """Family defaults <- task `params` <- task `protocols.<protocol>`; unknown or mistyped fields fail."""
        if protocol not in task.protocols:
            raise HarnessError(f"{task.file}: task {task.name} has no protocol '{protocol}'; "
                               f"valid: {', '.join(sorted(task.protocols))}")
        defaults = self.protocols[protocol]
        params = dict(defaults)
        for origin, values in (("params", task.params), (f"protocols.{protocol}", task.protocols[protocol])):
            for key, value in values.items():
                if key not in defaults:
                    if origin == "params" and any(key in d for d in self.protocols.values()):
                        continue  # a shared field that this protocol does not use
                    raise HarnessError(f"{task.file}: unknown field '{origin}.{key}' for {self.name} protocol "
                                       f"'{protocol}'; valid: {', '.join(sorted(defaults))}")
                _check_type(task, f"{origin}.{key}", value, defaults[key])
                params[key] = value
        return params


def _check_type(task: TaskSpec, where: str, value: Any, default: Any) -> None:
    if default is None or value is None:
        return
    kinds = (int, float) if isinstance(default, (int, float)) and not isinstance(default, bool) else type(default)
    if isinstance(default, (list, tuple)):
        kinds = (list, tuple)
    if not isinstance(value, kinds) or (isinstance(value, bool) and not isinstance(default, bool)):
        raise HarnessError(f"{task.file}: field '{where}' must be {type(default).__name__}, "
                           f"got {type(value).__name__} {value!r}")


def pick_best(val_scores: Mapping[str, Mapping[str, float]], metric: str) -> str:
    """JMTEB's selection: highest validation score, the first variant wins ties."""
    best, best_value = None, None
    for name, scores in val_scores.items():
        if best_value is None or scores[metric] > best_value:
            best, best_value = name, scores[metric]
    return best


def texts_of(rows: list[dict], column: str, where: str) -> list[str]:
    """A text column as strings; an empty or non-string text is bad input (it would embed as noise)."""
    texts = []
    for number, row in enumerate(rows, 1):
        value = row[column]
        if not isinstance(value, str):
            raise HarnessError(f"{where}:{number}: column '{column}' must be text, got {type(value).__name__}")
        if not value.strip():
            raise HarnessError(f"{where}:{number}: column '{column}' is empty")
        texts.append(value)
    return texts


def labels_of(rows: list[dict], column: str, where: str) -> list:
    """Class labels as ints or strings (one type per task is checked later, by label_ids).

    A bool, float, list or empty string is bad input: JSON `true` or `1.0` usually means a broken export,
    and silently casting it would merge or split classes.
    """
    labels = []
    for number, row in enumerate(rows, 1):
        value = row[column]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise HarnessError(f"{where}:{number}: column '{column}' must be an int or a class name (string), "
                               f"got {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip():
            raise HarnessError(f"{where}:{number}: column '{column}' is empty")
        labels.append(value)
    return labels


def check_variants(task: TaskSpec, names: list[str], registry: Mapping[str, Any], kind: str, field: str) -> None:
    """Every variant a task asks for (classifier, algorithm, ...) must exist; fail naming the task file."""
    from harness.errors import one_of

    for name in names:
        if name not in registry:
            raise one_of(kind, name, list(registry), where=f"{task.file}: field '{field}'")
