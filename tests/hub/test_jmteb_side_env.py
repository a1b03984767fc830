"""`make jmteb-data`: the side environment (datasets 2.19.2 and huggingface_hub 0.23, pinned completely by
constraints-jmteb-export.txt) runs sbintuitions/JMTEB's loading script from the stand-in, at the revision each
suite asks for, and writes the same files as `harness data export` of a script-free copy.

The side environment is built once by the Makefile into .venv-jmteb-export/ (ignored by git) and reused
while constraints-jmteb-export.txt is unchanged: the first run of this module installs it from PyPI
(about 30 s here); later runs only export (a few seconds each). Deselect with -m "not side_env".
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.hub.conftest import ROOT, check_export, closed_port_url, export, hub_env, run
from tests.hub.repos import JMTEB_TASKS, jmteb_revisions
from tests.hub.test_standin import check_protocol, client_observations

pytestmark = pytest.mark.side_env
SIDE_PYTHON = ROOT / ".venv-jmteb-export" / "bin" / "python"


@pytest.fixture(scope="module", autouse=True)
def side_env():
    """Build (or find up to date) the side environment, with the machine's own environment: installing it is
    the one step that talks to PyPI. Everything after runs with the stand-in's environment."""
    result = subprocess.run(["make", "--no-print-directory", ".venv-jmteb-export/.installed"], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return SIDE_PYTHON


def make_export(hub_url: str, tmp_path, suite: str, tasks, name: str) -> tuple:
    out = tmp_path / name
    result = run(["make", "--no-print-directory", "jmteb-data", f"SUITE={suite}", f"OUT={out}",
                  f"TASKS={','.join(tasks)}"], hub_env(hub_url, tmp_path / "hf"), timeout=900)
    return out, result


def test_make_jmteb_data_runs_the_loading_script_at_each_suites_revision(script_hub, parquet_hub, tmp_path):
    hub, fixture = script_hub
    v1, v2, _, lite_revision = jmteb_revisions()
    out, result = make_export(hub.url, tmp_path, "jmteb_v1", ["jsts", "jaqket"], "v1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    check_export(out, fixture, "jmteb_v1", ["jsts", "jaqket"], v1)
    out, result = make_export(hub.url, tmp_path, "jmteb_v2", JMTEB_TASKS, "v2")
    assert result.returncode == 0, result.stderr[-3000:]
    check_export(out, fixture, "jmteb_v2", JMTEB_TASKS, v2)
    lite, result = make_export(hub.url, tmp_path, "jmteb_lite", ["jsts"], "lite")
    assert result.returncode == 0, result.stderr[-3000:]
    check_export(lite, fixture, "jmteb_lite", ["jsts"], lite_revision)
    # the script route and the script-free route write the same bytes (both layouts carry the same rows)
    parquet, parquet_fixture = parquet_hub
    assert parquet_fixture.rows == fixture.rows
    again, result = export(parquet, tmp_path, "jmteb_v2", JMTEB_TASKS, "v2-parquet")
    assert result.returncode == 0, result.stderr[-3000:]
    data = lambda root: sorted(p.relative_to(root) for p in root.rglob("*.jsonl") if p.name != "_source.jsonl")  # noqa: E731
    files = data(out)
    assert files == data(again) and len(files) == 8  # _source.jsonl differ: the two layouts are other commits
    for file in files:
        assert (out / file).read_bytes() == (again / file).read_bytes(), file


def test_make_jmteb_data_without_a_hub_fails_in_one_line(tmp_path):
    url = closed_port_url()
    out, result = make_export(url, tmp_path, "jmteb_v1", ["jsts"], "d")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert ours == [f"error: the Hugging Face Hub ({url}) is unreachable (or HF_HUB_OFFLINE is set): exporting "
                    f"needs it; set HF_ENDPOINT to a reachable Hub or mirror"], result.stderr
    assert not out.exists()


def test_side_environment_is_exactly_the_constraints_file():
    pinned = {}
    for line in (ROOT / "constraints-jmteb-export.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pinned[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert pinned["datasets"] == "2.19.2" and pinned["huggingface-hub"].startswith("0.")
    frozen = subprocess.run([str(SIDE_PYTHON), "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    installed = {re.sub(r"[-_.]+", "-", n).lower(): v for n, _, v in (line.partition("==") for line in frozen)}
    for tool in ("pip", "setuptools", "wheel"):  # the installer, not the environment
        installed.pop(tool, None)
    assert installed == pinned


def test_side_environment_clients_speak_to_the_stand_in(script_hub, tmp_path):
    hub, fixture = script_hub
    seen = client_observations(hub, fixture, tmp_path / "hf", python=str(SIDE_PYTHON), harness=False)
    assert seen["huggingface_hub"] == "0.23.3"
    check_protocol(seen, hub, fixture)
