"""Tiny declarative validation for YAML-born configs.

Configs are data written by people, so each check names the file and the dotted field that is wrong.
Kept deliberately small (no pydantic): a field spec is a type or tuple of types, plus `required`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false",
               list: "a list", dict: "a mapping", type(None): "null"}


def _describe(types: tuple[type, ...]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def check_fields(data: Any, spec: Mapping[str, tuple], file: Path | str, prefix: str = "") -> dict:
    """Validate `data` (a mapping) against `spec` = {field: (types, required)}; return it as a dict.

    Unknown fields are rejected: a typo such as `main_metrc` must not silently fall back to a default.
    """
    where = f"{prefix}" if prefix else "top level"
    if not isinstance(data, Mapping):
        raise HarnessError(f"{file}: {where} must be a mapping, got {type(data).__name__}")
    for key in data:
        if key not in spec:
            raise HarnessError(f"{file}: unknown field '{prefix}{key}'; valid: {', '.join(spec)}")
    for key, (types, required) in spec.items():
        types = types if isinstance(types, tuple) else (types,)
        if key not in data or data[key] is None:
            if required:
                raise HarnessError(f"{file}: missing required field '{prefix}{key}'")
            continue
        value = data[key]
        # bool is an int subclass in Python; an integer field must not accept `true`.
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise HarnessError(f"{file}: field '{prefix}{key}' must be {_describe(types)}, "
                               f"got {type(value).__name__} {value!r}")
    return dict(data)
