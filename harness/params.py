"""Typed protocol parameters: one frozen dataclass per protocol, built from layered config and checked up front.

A protocol's fields (splits, k values, similarities, ...) are declared once as dataclass fields with types and
defaults. `Params.build` layers the values a task file (and a suite) gives over those defaults, rejects unknown
fields and wrong types naming the file and the dotted field, and runs the protocol's own `validate` (its
vocabularies, its valid main metrics), all at plan time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, ClassVar

from harness.errors import HarnessError, one_of

_NAMES = {str: "str", int: "int", float: "float", bool: "bool", type(None): "null"}


@dataclasses.dataclass(frozen=True)
class Params:
    """Base of every protocol's parameters. Subclasses are frozen dataclasses that declare `main_metric`."""

    protocol: ClassVar[str] = ""

    # Read like a mapping of field -> value, as recorded in provenance.
    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self.field_names()

    def as_dict(self) -> dict[str, Any]:
        """Field -> value in declaration order, tuples as lists (what score files record)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def metric_names(self) -> tuple[str, ...] | None:
        """The metrics this protocol reports (a valid `main_metric` is one of them); None = not known before
        the data is read."""
        return None

    def validate(self, where: str) -> None:
        """Checks beyond types (vocabularies, ranges); `where` is the task file. Subclasses extend it."""
        names = self.metric_names()
        if names is not None and self["main_metric"] not in names:
            raise one_of("main metric", self["main_metric"], list(names), where=f"{where}: field 'main_metric'")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def build(cls, layers: Iterable[tuple[str, Mapping[str, Any]]], where: str, family: str,
              shared: Iterable[str] = ()) -> Params:
        """Defaults <- each (origin, values) layer in turn. A field of `origin` "params" (task-wide) that this
        protocol lacks but another protocol of the family has (`shared`) is skipped."""
        hints = _hints(cls)
        values: dict[str, Any] = {}
        shared = set(shared)
        for origin, layer in layers:
            for key, value in layer.items():
                if key not in hints:
                    if origin == "params" and key in shared:
                        continue
                    raise HarnessError(f"{where}: unknown field '{origin}.{key}' for {family} protocol "
                                       f"'{cls.protocol}'; valid: {', '.join(sorted(hints))}")
                values[key] = _checked(value, hints[key], f"{where}: field '{origin}.{key}'")
        params = cls(**values)
        params.validate(where)
        return params


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _checked(value: Any, kind: Any, where: str) -> Any:
    """`value` if it has type `kind` (lists become tuples for tuple fields), else one line."""
    if kind is type(None):
        if value is not None:
            raise HarnessError(f"{where} must be null for this protocol, got {value!r}")
        return None
    if value is None:
        if _optional(kind):
            return None
        raise HarnessError(f"{where} must be {_describe(kind)}, got null")
    kind = _without_none(kind)
    origin = typing.get_origin(kind)
    if origin is tuple:
        (item, _) = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            raise HarnessError(f"{where} must be a list of {_describe(item)}, got {type(value).__name__} {value!r}")
        return tuple(_checked(v, item, where) for v in value)
    if not _is(value, kind):
        raise HarnessError(f"{where} must be {_describe(kind)}, got {type(value).__name__} {value!r}")
    return value


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool):  # bool is an int subclass: `true` is no number
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _optional(kind: Any) -> bool:
    return type(None) in typing.get_args(kind) and typing.get_origin(kind) in (typing.Union, types.UnionType)


def _without_none(kind: Any) -> Any:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [k for k in typing.get_args(kind) if k is not type(None)]
        return rest[0]
    return kind


def _describe(kind: Any) -> str:
    kind = _without_none(kind)
    if typing.get_origin(kind) is tuple:
        return f"a list of {_describe(typing.get_args(kind)[0])}"
    return _NAMES.get(kind, getattr(kind, "__name__", str(kind)))
