"""Fixtures for the hub route: stand-ins for the Hub on 127.0.0.1, and the environment that points the real
clients at one.

The clients read HF_ENDPOINT and HF_HUB_OFFLINE when they are imported, and the rest of the test session
runs with HF_HUB_OFFLINE=1; so every test here runs the harness (or a client) in a subprocess with its own
environment: HF_ENDPOINT = the stand-in, HF_HOME in the test's tmp dir, offline mode off, and HTTP(S)_PROXY
pointed at the stand-in, so that a request for any other host lands there, is refused and is recorded
(`HubStandIn.stray`) instead of leaving the machine. Each stand-in asserts at teardown that nothing strayed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub.repos import Fixture, add_fixture_repos, task_yaml
from tests.hub.server import HubStandIn

ROOT = Path(__file__).resolve().parents[2]


def hub_env(url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a client pointed at the stand-in at `url` (and at nothing else)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGINGFACE_")) and k not in ("TRANSFORMERS_OFFLINE", "HARNESS_DATA_DIR")}
    env.update(HF_ENDPOINT=url, HF_HOME=str(home), HF_HUB_OFFLINE="0", HF_DATASETS_OFFLINE="0",
               TRANSFORMERS_OFFLINE="0", HTTP_PROXY=url, HTTPS_PROXY=url, http_proxy=url, https_proxy=url,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """A command in the repository root; `args[0] == "harness"` runs this interpreter's `python -m harness`."""
    if args[0] == "harness":
        args = [sys.executable, "-m", "harness", *args[1:]]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single `error: ...` line of a run that failed as the project's errors must (exit 2, no traceback)."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def closed_port_url() -> str:
    """An endpoint on loopback where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def export(hub, tmp_path: Path, suite: str, tasks, name: str):
    out = tmp_path / name
    result = run(["harness", "data", "export", f"suite={suite}", f"output={out}", f"tasks=[{','.join(tasks)}]"],
                 hub_env(hub.url, tmp_path / "hf"))
    return out, result


def check_export(out: Path, fixture, label: str, tasks, revision: str) -> None:
    """Every exported file holds exactly the rows of commit `label`; _source.jsonl records the revision asked
    and the commit it resolved to."""
    for task in tasks:
        spec = task_yaml(task)
        source = read_jsonl(out / task / "_source.jsonl")
        assert len(source) == 1 and source[0]["task"] == task
        parts = dict(spec["splits"])
        if spec["family"] == "retrieval":
            parts["corpus"] = "corpus"
        assert set(source[0]["parts"]) == set(parts.values())
        for role, stem in parts.items():
            assert read_jsonl(out / task / f"{stem}.jsonl") == fixture.expected(label, task, role), (task, stem)
            meta = source[0]["parts"][stem]
            assert meta["path"] == fixture.repos[label]
            assert (meta["revision"], meta["resolved"]) == (revision, fixture.shas[label])


def _serve(layout: str):
    hub = HubStandIn()
    fixture = add_fixture_repos(hub, jmteb_layout=layout)
    hub.start()
    yield hub, fixture
    hub.stop()
    assert not hub.stray, f"requests for hosts other than the stand-in: {hub.stray}"


@pytest.fixture(scope="module")
def parquet_hub() -> tuple[HubStandIn, Fixture]:
    """The fixture repositories, sbintuitions/JMTEB(-lite) script-free (parquet + README configs)."""
    yield from _serve("parquet")


@pytest.fixture(scope="module")
def script_hub() -> tuple[HubStandIn, Fixture]:
    """The fixture repositories, sbintuitions/JMTEB(-lite) as loading scripts (JMTEB.py + jsonl data)."""
    yield from _serve("script")
