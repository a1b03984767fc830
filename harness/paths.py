"""Where the project's declarative files live: conf/, tasks/ and results/ (published references, golden files).

A source checkout or editable install reads them from the repository root. A built wheel carries conf/, tasks/
and results/published/ as package data under harness/_data/ (setup.py's build step copies them there) and
reads them from there. $HARNESS_ROOT overrides both. Runs are written under the repository's results/runs/ in
a checkout, and under ./results/runs/ (the working directory) in an installed package, never inside it.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]
PACKAGED_ROOT = Path(__file__).resolve().parent / "_data"  # present only in a wheel install
INSTALLED = "HARNESS_ROOT" not in os.environ and PACKAGED_ROOT.is_dir()
ROOT = Path(os.environ["HARNESS_ROOT"]) if "HARNESS_ROOT" in os.environ else \
    PACKAGED_ROOT if INSTALLED else SOURCE_ROOT
CONF_DIR = ROOT / "conf"
TASKS_DIR = ROOT / "tasks"
RESULTS_DIR = ROOT / "results"
RUNS_DIR = Path("results") / "runs" if INSTALLED else RESULTS_DIR / "runs"
