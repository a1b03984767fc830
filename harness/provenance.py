"""What a result was computed from: library versions and the harness's own git revision."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata

from harness.paths import ROOT

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
    """HEAD of the harness checkout, with "-dirty" when tracked files differ from it."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
