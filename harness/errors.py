"""User-facing failures.

A `HarnessError` is bad input, not a bug: the CLI prints its message as one line on stderr and exits 2
(no traceback unless --debug). Messages name the file and the field (or line) at fault, so the user can
fix the input without reading our code.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Bad input or environment: one line naming the file and field; the CLI exits 2."""


def one_of(kind: str, name: object, valid: list[str], where: str = "") -> HarnessError:
    """Error for an unknown name, listing the valid ones (sorted) so the user can pick."""
    at = f"{where}: " if where else ""
    return HarnessError(f"{at}unknown {kind} '{name}'; valid: {', '.join(sorted(valid))}")
