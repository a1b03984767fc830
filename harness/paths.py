"""Where the project's declarative files live (the repository root of an editable install)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("HARNESS_ROOT", Path(__file__).resolve().parents[1]))
CONF_DIR = ROOT / "conf"
TASKS_DIR = ROOT / "tasks"
RESULTS_DIR = ROOT / "results"
