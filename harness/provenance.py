"""What a result was computed from (library versions, whether the locked stack held, the harness's git
revision), and secret scrubbing."""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import subprocess
import sys
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.paths import INSTALLED, ROOT

PACKAGES = ("harness", "torch", "transformers", "sentence-transformers", "datasets", "numpy", "scipy",
            "scikit-learn", "pytrec-eval-terrier", "hydra-core")


CONSTRAINTS = "constraints.txt"
# Written by `make install` into the virtualenv: the LOCK it installed with ("constraints.txt" or "none").
LOCK_MARKER = "harness-lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)$")


@cache
def library_versions() -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["lock"] = lock_state()
    return versions


def constraints_file() -> Path | None:
    """The locked stack's constraints file: the checkout's (editable install), else the package's own copy."""
    candidates = [ROOT / CONSTRAINTS]
    try:
        candidates.append(Path(str(resources.files("harness") / CONSTRAINTS)))
    except (ModuleNotFoundError, TypeError):  # a namespace or zipped package has no plain path
        pass
    return next((path for path in candidates if path.is_file()), None)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503: Jinja2, jinja2 and jinja_2 are one package


def read_constraints(path: Path) -> dict[str, str]:
    """{canonical name: version} of a constraints file's `name==version` lines (comments and blanks skipped)."""
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise HarnessError(f"{path}:{number}: expected 'package==version', got '{line}'")
        pins[_canonical(match[1])] = match[2]
    return pins


def _same_version(locked: str, installed: str) -> bool:
    # A pin without a local label is met by any local build of that version (torch 2.13.0+cpu, +cu128), as pip does.
    return installed == locked or ("+" not in locked and installed.split("+", 1)[0] == locked)


def installed_lock() -> str | None:
    """The LOCK `make install` used for this environment, or None when it was not installed by make."""
    marker = Path(sys.prefix) / LOCK_MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


def lock_state(path: Path | None = None) -> dict[str, Any] | str:
    """Whether the installed packages are the ones the constraints file pins: {"file", "sha256", "held", "differs":
    {package: [locked, installed]}, "installed_with"}, or "none" when there is no constraints file. Pinned packages
    that are not installed are not differences (a constraint installs nothing)."""
    path = path or constraints_file()
    if path is None:
        return "none"
    differs = {}
    for name, locked in read_constraints(path).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if not _same_version(locked, installed):
            differs[name] = [locked, installed]
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12], "held": not differs,
            "differs": differs, "installed_with": installed_lock()}


@cache
def git_revision() -> str:
    """HEAD of the harness checkout, with "-dirty" when tracked files differ from it. An installed wheel has no
    checkout (and git would otherwise report whatever repository happens to enclose site-packages)."""
    if INSTALLED:
        return "unknown"
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# Secrets never reach a result, a log line or an error message: values of secret-looking environment
# variables, and strings shaped like API keys, are replaced wherever the harness writes or prints.
REDACTED = "<redacted>"
_SECRET_ENV = re.compile(r"(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)(_|$)", re.IGNORECASE)
_SECRET_FIELD = re.compile(r"api_?key|secret|password|credential|authorization|(^|_)token$", re.IGNORECASE)
_KEY_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b")


def _secret_values() -> list[str]:
    values = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)  # longest first: a key containing another is replaced whole


def scrub_text(text: str) -> str:
    for value in _secret_values():
        text = text.replace(value, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)


def scrub(data: Any) -> Any:
    """A copy of a JSON-like value with secret-named fields and secret-looking strings redacted."""
    if isinstance(data, dict):
        return {k: REDACTED if isinstance(v, str) and _SECRET_FIELD.search(str(k)) else scrub(v)
                for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub(v) for v in data]
    if isinstance(data, str):
        return scrub_text(data)
    return data


class ScrubFilter(logging.Filter):
    """Logging filter: a record's final message goes through `scrub_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
