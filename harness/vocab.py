"""Closed vocabularies: the names a config field may take, each defined once, next to what implements it.

A `Vocab` is built from the implementation's own registry (a dict of functions, a tuple of names), so the
valid names in an error message are exactly the names the code can run. Checks happen at plan time: a typo in
a task YAML, a model YAML or an override stops the run before any data is read or any text encoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from harness.errors import HarnessError, one_of


@dataclass(frozen=True)
class Vocab:
    kind: str  # what a name denotes, for messages: "similarity", "pooling", ...
    names: tuple[str, ...]

    @classmethod
    def of(cls, kind: str, names: Iterable[str]) -> Vocab:
        return cls(kind, tuple(names))

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def subset(self, kind: str, names: Iterable[str]) -> Vocab:
        """A narrower vocabulary of the same implementation (every name must exist here)."""
        names = tuple(names)
        missing = [n for n in names if n not in self.names]
        if missing:
            raise ValueError(f"{kind}: {missing[0]} is not a {self.kind}")
        return Vocab(kind, names)

    def check(self, value: object, where: str) -> str:
        """`value` if it is one of the names, else one line naming `where` and the valid names."""
        if not isinstance(value, str) or value not in self.names:
            raise one_of(self.kind, value, list(self.names), where=where)
        return value

    def check_all(self, values: Iterable[object], where: str) -> None:
        values = list(values)
        if not values:
            raise HarnessError(f"{where}: needs at least one {self.kind}")
        for value in values:
            self.check(value, where)
