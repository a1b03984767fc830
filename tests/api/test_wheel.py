"""A built wheel, installed into a fresh virtualenv (no editable path, no checkout), lists and runs what the
checkout does: conf/, tasks/ and results/published/ travel as package data (setup.py, harness/paths.py).

The fresh environment gets its dependencies from this one through a .pth line (no download: seconds, not a new
torch); a .pth path entry does not run the editable install's own .pth hooks, so `harness` resolves to the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.wheel


def _sh(*args, cwd=None, env=None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: the build's build/ and egg-info stay out of the checkout
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in ("harness", "conf", "tasks", "results/published"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "_data"))
    _sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src)
    [wheel] = (tmp / "dist").glob("harness-*.whl")
    env = tmp / "env"
    _sh(sys.executable, "-m", "venv", "--without-pip", env)
    python = env / "bin" / "python"
    site = Path(_sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_harness_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    _sh(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HARNESS_ROOT")}
    return wheel, env, {**clean, "HF_HUB_OFFLINE": "1"}


def test_wheel_carries_the_declarative_files(wheel_env):
    wheel, _, _ = wheel_env
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("conf", "tasks", "results/published"):
        expected = {f"harness/_data/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / folder).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
        assert expected and expected <= names, folder
    assert not any(n.startswith("harness/_data/results/golden") for n in names)


def test_installed_wheel_lists_and_runs_what_the_checkout_does(wheel_env, tiny_model, tiny_data, tmp_path, capsys):
    from harness.cli import main

    _, env, environ = wheel_env
    work = tmp_path / "work"
    work.mkdir()
    where = _sh(env / "bin" / "python", "-c", "import harness, harness.paths as p; print(harness.__file__, "
                "p.INSTALLED)", cwd=work, env=environ)
    assert where.startswith(str(env)) and where.split()[1] == "True"
    for what in ("suites", "models", "tasks"):
        installed = _sh(env / "bin" / "harness", "list", what, cwd=work, env=environ)
        assert main(["list", what]) == 0
        checkout = capsys.readouterr().out
        assert installed == checkout and installed.count("\n") > 5, what
    run = ["run", f"model={tiny_model}", "tasks=[jsts]", "protocol=mteb", f"data_dir={tiny_data}", "cache=false",
           "encode.show_progress=false"]
    _sh(env / "bin" / "harness", *run, cwd=work, env=environ)
    # default output_dir: ./results/runs/<model>/<suite>/<protocols>-<run identity key>
    run_dir, = (work / "results" / "runs" / tiny_model.name / "offline_real").glob("mteb-*")
    installed = json.loads((run_dir / "STS" / "scores_jsts.json").read_text())
    assert main([*run, f"output_dir={tmp_path / 'checkout'}"]) == 0
    checkout = json.loads((tmp_path / "checkout" / "STS" / "scores_jsts.json").read_text())
    assert installed["metric_value"] == checkout["metric_value"]
    assert installed["provenance"]["harness_git_revision"] == "unknown"  # no checkout to name
    assert installed["provenance"]["dataset"] == checkout["provenance"]["dataset"]
