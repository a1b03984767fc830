"""The Hugging Face Hub as the harness uses it: is it reachable, and which commit does a revision name.

Every hub read (a dataset part, a model, an export) first resolves the revision the YAML asks for (a branch
such as `main`, or a sha) to the commit the Hub serves now, then reads that commit: provenance records both,
and an unknown repository or revision stops the run in one line before any download. The endpoint is
HF_ENDPOINT (default https://huggingface.co), as for the clients themselves.

Standard library plus `huggingface_hub`, imported lazily: `harness.export` uses this module in the side
environment of `make jmteb-data` too (datasets 2.19.2, huggingface_hub 0.23).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from harness.errors import HarnessError

HUB_TIMEOUT_S = 3.0  # a TCP connect or an API answer slower than this counts as "the Hub is unreachable"
_OFF = ("0", "", "false", "no", "off")
_resolved: dict[tuple[str, str, str | None], str] = {}  # (kind, repo id, revision asked) -> commit sha


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline() -> bool:
    return any(os.environ.get(k, "0").lower() not in _OFF for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_reachable() -> bool:
    """True when the Hub answers a TCP connect within HUB_TIMEOUT_S (and offline mode is not forced)."""
    if offline():
        return False
    url = urlparse(endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=HUB_TIMEOUT_S):
            return True
    except OSError:
        return False


def client_env() -> None:
    """Keep the clients' traffic on HF_ENDPOINT (unless the user set these variables).

    `datasets` counts each load with a HEAD request to a fixed S3 bucket, not to HF_ENDPOINT: behind a mirror
    that request would leave the network, and a firewall would stall it. Telemetry is off for the same
    reason. `datasets` reads the variable at import, so an already imported one is told directly."""
    if "HF_UPDATE_DOWNLOAD_COUNTS" not in os.environ:
        os.environ["HF_UPDATE_DOWNLOAD_COUNTS"] = "0"
        config = sys.modules.get("datasets.config")
        if config is not None:
            config.HF_UPDATE_DOWNLOAD_COUNTS = False
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def resolve(repo_id: str, revision: str | None, kind: str, what: str) -> str:
    """The commit sha the Hub serves for `revision` (None: main) of a `kind` ("model"/"dataset") repository.

    One HarnessError line, naming `what` (e.g. "dataset X for task Y"), for an unknown repository or revision
    or a Hub that does not answer. Resolved once per process; `resolved()` reads it back for provenance."""
    key = (kind, repo_id, revision)
    if key in _resolved:
        return _resolved[key]
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.utils import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        raise HarnessError(f"{what}: huggingface_hub is not installed") from None
    asked = revision or "main"
    try:
        sha = HfApi().repo_info(repo_id, repo_type=kind, revision=revision, timeout=HUB_TIMEOUT_S * 10).sha
    except RevisionNotFoundError:  # subclass of the HTTP error: caught first
        raise HarnessError(f"{what}: revision '{asked}' of {kind} {repo_id} does not exist on the Hub "
                           f"({endpoint()})") from None
    except RepositoryNotFoundError:
        raise HarnessError(f"{what}: {kind} repository {repo_id} does not exist on the Hub ({endpoint()}), "
                           f"or is private or gated") from None
    except Exception as exc:  # connection refused, timeout, 5xx: the clients raise many types
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise HarnessError(f"{what}: the Hugging Face Hub ({endpoint()}) did not resolve revision '{asked}' "
                           f"of {repo_id} ({reason})") from None
    if not sha:
        raise HarnessError(f"{what}: the Hub ({endpoint()}) gave no commit for revision '{asked}' of {repo_id}")
    _resolved[key] = sha
    return sha


def resolved(repo_id: str, revision: str | None, kind: str) -> str | None:
    """The commit `resolve` found in this process, else the one the local cache maps `revision` to, else
    None (a local directory, or nothing known)."""
    if (kind, repo_id, revision) in _resolved:
        return _resolved[(kind, repo_id, revision)]
    return cached_commit(repo_id, revision, kind)


def cached_commit(repo_id: str, revision: str | None, kind: str) -> str | None:
    """The commit the Hugging Face cache holds for `revision` (offline runs): the revision itself when it is a
    sha with a snapshot, else the cache's refs/<revision>."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    folder = Path(constants.HF_HUB_CACHE) / f"{kind}s--{repo_id.replace('/', '--')}"
    asked = revision or "main"
    if (folder / "snapshots" / asked).is_dir():
        return asked
    ref = folder / "refs" / asked
    return ref.read_text().strip() if ref.is_file() else None


def model_commit(path: str, revision: str | None) -> str | None:
    """For provenance: the commit a model given by hub id was read at; None for a local directory."""
    if Path(path).expanduser().exists():
        return None
    return resolved(path, revision, "model")
