"""Multirun sweeps: `harness run -m model=a,b suite=x,y [hydra/launcher=slurm]`, one run per combination.

Single runs compose with Hydra's compose API (harness/config.py); a sweep needs Hydra's own launcher
machinery, so it goes through `hydra.main` with conf/sweep.yaml (the run config plus Hydra's settings in
conf/hydra/default.yaml). Each job is planned and run exactly like `harness run` with that job's overrides;
its results go to its own output_dir (default results/runs/<model>/<suite>/<protocols>-<identity key>: jobs of
other protocols, weights or encode settings never share one, harness.identity). Launchers: Hydra's basic
(sequential, local) by default; `hydra/launcher=slurm|slurm_cpu` (conf/hydra/launcher/) submits one Slurm job
per combination through the hydra-submitit-launcher plugin.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import hydra
from omegaconf import DictConfig

from harness.config import group_names, plan
from harness.errors import HarnessError, one_of
from harness.paths import CONF_DIR

_failures: list[str] = []


@hydra.main(config_path=str(CONF_DIR), config_name="sweep", version_base="1.3")
def _job(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from harness.runner import run

    try:
        run(plan(cfg))
    except HarnessError as exc:  # one failed combination does not stop the others
        overrides = " ".join(HydraConfig.get().overrides.task)
        for line in str(exc).splitlines():
            print(f"error: job {HydraConfig.get().job.num} ({overrides}): {line}", file=sys.stderr, flush=True)
        _failures.append(overrides)


def _check_group_options(overrides: list[str]) -> None:
    """Unknown model/suite/encode/experiment names fail before any job starts, naming the valid ones."""
    for item in overrides:
        key, _, value = item.partition("=")
        group = key.lstrip("+~")
        if group in ("model", "suite", "encode", "experiment") and not value.startswith(("[", "glob(", "range(")):
            for name in value.split(","):
                if name not in group_names(group):
                    raise one_of(group, name, group_names(group), where=f"{CONF_DIR / group}")


@contextlib.contextmanager
def _logging_kept():
    """Hydra reconfigures logging for its jobs (new root handlers on the streams of the moment, existing
    loggers disabled); put it back, so a sweep inside a longer process (tests, notebooks) leaves no handler
    writing to a closed stream and no harness logger muted."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    disabled = {name: lg.disabled for name, lg in logging.root.manager.loggerDict.items()
                if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in logging.root.manager.loggerDict.items():
            if isinstance(lg, logging.Logger):
                lg.disabled = disabled.get(name, False)


def main(overrides: list[str]) -> int:
    """Run the sweep; exit code 2 when any job failed on bad input (each failure printed as one line)."""
    _check_group_options(overrides)
    _failures.clear()
    argv = sys.argv
    sys.argv = ["harness", "--multirun", *overrides]
    try:
        with _logging_kept():
            _job()
    finally:
        sys.argv = argv
    if _failures:
        print(f"{len(_failures)} job(s) failed: " + "; ".join(_failures), file=sys.stderr)
        return 2
    return 0
