"""The locked numeric stack: the installed packages are constraints.txt's, and lock_state() says whether they are."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from harness import provenance
from harness.errors import HarnessError
from harness.paths import ROOT
from harness.provenance import installed_lock, lock_state, read_constraints

# JMTEB 1.4.0's poetry.lock (see the header of constraints.txt)
JMTEB_1_4_0 = {"transformers": "4.57.1", "sentence-transformers": "5.1.1", "tokenizers": "0.22.1",
               "scikit-learn": "1.5.0", "numpy": "1.26.4", "scipy": "1.13.1"}


def skip_when_unpinned() -> str | None:
    used = installed_lock()
    if used == "none":
        pytest.skip(f"this environment was installed with `make install LOCK=none` ({sys.prefix}/harness-lock): "
                    f"unpinned on purpose")
    return used


def test_installed_versions_equal_the_lock():
    used = skip_when_unpinned()
    path = ROOT / used if used not in (None, provenance.CONSTRAINTS) else provenance.constraints_file()
    state = lock_state(path)
    assert state["differs"] == {}, f"installed versions differ from {path} ([locked, installed]); run make install"
    assert state["held"] is True


def test_the_lock_pins_jmteb_1_4_0():
    pins = read_constraints(provenance.constraints_file())
    assert {name: pins[name] for name in JMTEB_1_4_0} == JMTEB_1_4_0
    assert pins["torch"] == "2.13.0"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_install_installs_torch_then_the_project_under_the_lock(tmp_path):
    def make(*args):
        return subprocess.run(["make", "-C", str(ROOT), f"VENV={tmp_path / 'venv'}", *args], capture_output=True,
                              text=True, timeout=60)

    plan = make("-n", "install").stdout  # -n: the commands, not run
    assert plan.index("pip install -q torch==2.13.0") < plan.index("pip install -q -c constraints.txt -e")
    assert 'echo "constraints.txt" >' in plan and "harness-lock" in plan
    unpinned = make("-n", "install", "LOCK=none").stdout
    assert "-c constraints.txt" not in unpinned and 'echo "none" >' in unpinned
    other = make("install", "TORCH_VERSION=2.9.0")  # run: stops before creating anything
    assert other.returncode != 0 and "error: TORCH_VERSION=2.9.0: the project is tested with" in other.stderr
    assert not (tmp_path / "venv").exists()


def _closure(root: str, extras: set[str]) -> set[str]:
    """Canonical names of every distribution `root` (with `extras`) needs, as installed here."""
    seen: set[str] = set()
    todo = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            active = any(req.marker is None or req.marker.evaluate({"extra": e}) for e in (wanted or {""}))
            key = provenance._canonical(req.name)
            if active and key not in seen and key != provenance._canonical(root):  # dev pulls in harness[test]
                seen.add(key)
                todo.append((req.name, set(req.extras)))
    return seen


def test_every_package_the_harness_needs_is_pinned():
    """A dependency added to pyproject.toml without a pin here would be installed unpinned (read from the installed
    packages' metadata, so only meaningful in the locked environment)."""
    skip_when_unpinned()
    pins = read_constraints(provenance.constraints_file())
    assert sorted(_closure("harness", {"dev"}) - set(pins)) == []


def test_lock_state_on_a_fake_constraints_file(tmp_path, monkeypatch):
    numpy = metadata.version("numpy")
    torch_base = metadata.version("torch").split("+")[0]
    fake = tmp_path / "constraints.txt"
    fake.write_text(f"# a comment\n\nNumPy=={numpy}   # case and trailing comments do not matter\n"
                    f"scipy==0.0.1\ntorch=={torch_base}\nsentence_transformers==0.0.2\n"
                    f"no-such-package-for-harness==1.0\n", encoding="utf-8")
    state = lock_state(fake)
    assert state["file"] == "constraints.txt" and len(state["sha256"]) == 12
    assert state["held"] is False
    # numpy matches; a local build (torch 2.13.0+cpu) meets a pin without a label; an uninstalled pin is no difference
    assert state["differs"] == {"scipy": ["0.0.1", metadata.version("scipy")],
                                "sentence-transformers": ["0.0.2", metadata.version("sentence-transformers")]}

    fake.write_text(f"numpy=={numpy}\n", encoding="utf-8")
    assert lock_state(fake)["held"] is True and lock_state(fake)["differs"] == {}
    fake.write_text("torch==2.13.0+cu999\n", encoding="utf-8")  # a labelled pin needs that very build
    assert "torch" in lock_state(fake)["differs"]

    fake.write_text("numpy>=1.0\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"constraints.txt:1: expected 'package==version', got 'numpy>=1.0'"):
        lock_state(fake)

    monkeypatch.setattr(provenance, "constraints_file", lambda: None)
    assert lock_state() == "none"


def test_installed_lock_reads_the_marker_make_install_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert installed_lock() is None
    (tmp_path / "harness-lock").write_text("none\n", encoding="utf-8")
    assert installed_lock() == "none"
    assert lock_state()["installed_with"] == "none"


def test_provenance_records_the_lock():
    versions = provenance.library_versions()
    assert versions["lock"]["file"] == "constraints.txt"
    assert versions["lock"]["held"] == (versions["lock"]["differs"] == {})
    assert {"torch", "transformers", "sentence-transformers", "numpy"} <= set(versions)
