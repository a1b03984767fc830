"""What a result was computed from (library versions, the harness's git revision), and secret scrubbing."""

from __future__ import annotations

import logging
import os
import platform
import re
import subprocess
from functools import cache
from importlib import metadata
from typing import Any

from harness.paths import INSTALLED, ROOT

PACKAGES = ("harness", "torch", "transformers", "sentence-transformers", "datasets", "numpy", "scipy",
            "scikit-learn", "pytrec-eval-terrier", "hydra-core")


@cache
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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
