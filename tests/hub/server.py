"""A stand-in for the Hugging Face Hub's HTTP API, serving repositories built in memory, on 127.0.0.1 only.

The real clients (`huggingface_hub` 0.2x-2.x, `datasets` 2.19-5.x, `sentence-transformers`, `transformers`) are
pointed at it with HF_ENDPOINT=http://127.0.0.1:<port>. It speaks the part of the protocol they use to resolve
a revision, list a repository and download files:

    GET  /api/{models,datasets}/<repo>[/revision/<rev>]      repo info at a revision: sha, siblings, cardData
    GET  /api/{models,datasets}/<repo>/tree/<rev>[/<path>]    listing (?recursive=, ?expand= adds lastCommit)
    POST /api/{models,datasets}/<repo>/paths-info/<rev>       form or JSON {paths: [...], expand}
    GET  /api/{models,datasets}/<repo>/refs                   branches
    GET  /api/{models,datasets}/<repo>/commits/<rev>          history
    HEAD|GET /<repo>/resolve/<rev>/<file>, /datasets/<repo>/resolve/<rev>/<file>
    HEAD|GET /lfs/<sha256>                                    the "CDN" that large files are redirected to

Headers are the Hub's: X-Repo-Commit on every resolve; small (git) files answer 200 with ETag = git blob sha1;
large (LFS) files answer 302 to /lfs/<sha256> with X-Linked-Etag = sha256 and X-Linked-Size, as the Hub
redirects them to its CDN; GET honours Range (HfFileSystem reads parquet files by ranges). An unknown repo,
revision or file is a 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound and X-Error-Message,
which the clients turn into their typed errors.

Any request for another host (a proxy-style absolute URL, or CONNECT) is recorded in `stray` and refused: the
tests point HTTP(S)_PROXY here, so a client that tried to leave loopback is caught instead of reaching out.

    python -m tests.hub.server --port 8000 [--jmteb-layout script|parquet]   # tests/hub/repos.py, until Ctrl-C
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".parquet", ".arrow", ".onnx", ".h5", ".pt", ".npy")
LFS_MIN_BYTES = 10 << 20  # the Hub stores large files in LFS whatever their suffix
EPOCH = datetime(2024, 6, 1, tzinfo=timezone.utc)


class Blob:
    """One file's content (bytes, or a path read on demand), with the hashes the Hub reports."""

    def __init__(self, content: bytes | Path):
        self._content = content
        self._hashes: tuple[int, str, str] | None = None
        self._lock = threading.Lock()

    def read(self) -> bytes:
        return self._content if isinstance(self._content, bytes) else Path(self._content).read_bytes()

    def _hash(self) -> tuple[int, str, str]:
        with self._lock:
            if self._hashes is None:
                data = self.read()
                git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                self._hashes = (len(data), git, hashlib.sha256(data).hexdigest())
            return self._hashes

    size = property(lambda self: self._hash()[0])
    git_sha1 = property(lambda self: self._hash()[1])
    sha256 = property(lambda self: self._hash()[2])

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES) or self.size >= LFS_MIN_BYTES


@dataclass
class Commit:
    sha: str
    title: str
    date: datetime
    files: dict[str, Blob]


@dataclass
class Repo:
    kind: str  # "model" or "dataset"
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)  # in commit order (oldest first)
    refs: dict[str, str] = field(default_factory=dict)  # branch -> sha

    def commit(self, files: dict[str, bytes | str | Path], *, sha: str | None = None, branch: str = "main",
               title: str = "Upload") -> str:
        """Add a commit whose tree is exactly `files` on top of `branch`; returns its sha (given, or derived)."""
        blobs = {p: Blob(c.encode("utf-8") if isinstance(c, str) else c) for p, c in sorted(files.items())}
        if sha is None:  # deterministic: the same history gives the same shas in every run
            digest = hashlib.sha1(f"{self.repo_id}\n{self.refs.get(branch, '')}\n{title}\n".encode())
            for path, blob in blobs.items():
                digest.update(f"{path}\0{blob.git_sha1}\n".encode())
            sha = digest.hexdigest()
        if len(sha) != 40 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"commit sha must be 40 lowercase hex digits, got {sha!r}")
        self.commits[sha] = Commit(sha, title, EPOCH + timedelta(days=len(self.commits)), blobs)
        self.refs[branch] = sha
        return sha

    def resolve(self, revision: str) -> Commit | None:
        sha = self.refs.get(revision, revision)
        return self.commits.get(sha)


class HubStandIn:
    """Repositories plus a loopback HTTP server for them. `requests` logs (method, path) of every request."""

    def __init__(self):
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.stray: list[str] = []
        self._servers: list[ThreadingHTTPServer] = []  # the API, and the "CDN" (another origin, as on the Hub)

    def repo(self, kind: str, repo_id: str) -> Repo:
        """The repository (created empty on first use)."""
        if kind not in ("model", "dataset"):
            raise ValueError(f"kind must be model or dataset, got {kind!r}")
        return self.repos.setdefault((kind, repo_id), Repo(kind, repo_id))

    @property
    def url(self) -> str:
        """The endpoint (HF_ENDPOINT)."""
        return _url(self._servers[0])

    @property
    def cdn_url(self) -> str:
        """Where large files are redirected: another port, so the clients treat it as another origin."""
        return _url(self._servers[1])

    def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1:`port` (0: a free port) and on a free port for the CDN, in daemon threads;
        returns the endpoint URL."""
        for bind in (port, 0):
            server = ThreadingHTTPServer(("127.0.0.1", bind), _Handler)
            server.daemon_threads = True
            server.hub = self
            self._servers.append(server)
            threading.Thread(target=server.serve_forever, name="hub-stand-in", daemon=True).start()
        return self.url

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> HubStandIn:
        if not self._servers:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    server_version = "hub-stand-in"

    def log_message(self, format, *args):  # quiet: the request log is `HubStandIn.requests`
        pass

    @property
    def hub(self) -> HubStandIn:
        return self.server.hub

    def do_CONNECT(self):
        self._stray()

    def do_HEAD(self):
        self._dispatch(head=True)

    def do_GET(self):
        self._dispatch(head=False)

    def do_POST(self):
        self._dispatch(head=False)

    def _stray(self):
        self.hub.stray.append(f"{self.command} {self.path}")
        self._send(502, b"stand-in: no traffic beyond loopback\n", {"Content-Type": "text/plain"})
        self.close_connection = True

    def _dispatch(self, head: bool):
        if self.path.startswith(("http://", "https://")):  # a proxied request for another host
            return self._stray()
        self.hub.requests.append((self.command, self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._route(urlsplit(self.path), body, head)
        except _HubError as err:
            headers = {"Content-Type": "application/json", "X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send(err.status, json.dumps({"error": err.message}).encode(), headers, head)

    def _route(self, url, body: bytes, head: bool):
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in ("models", "datasets"):
            repo = self._repo(parts[1][:-1], parts[2], parts[3])
            rest = parts[4:]
            if not rest and self.command == "GET":
                return self._info(repo, "main", query)
            action = rest[0]
            if action == "revision" and len(rest) >= 2 and self.command == "GET":
                return self._info(repo, "/".join(rest[1:]), query)
            if action == "tree" and len(rest) >= 2 and self.command == "GET":
                revision, path = _split_revision(rest[1:])
                return self._tree(repo, revision, path, query)
            if action == "paths-info" and len(rest) >= 2 and self.command == "POST":
                return self._paths_info(repo, "/".join(rest[1:]), body)
            if action == "refs" and len(rest) == 1 and self.command == "GET":
                return self._json({"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": s}
                                                for b, s in repo.refs.items()], "converts": [], "tags": []})
            if action == "commits" and len(rest) >= 2 and self.command == "GET":
                return self._commits(repo, "/".join(rest[1:]))
        elif parts[0] == "lfs" and len(parts) == 2 and self.command in ("GET", "HEAD"):
            return self._lfs(parts[1], head)
        else:
            kind, parts = ("dataset", parts[1:]) if parts[0] == "datasets" else ("model", parts)
            if len(parts) >= 5 and parts[2] == "resolve" and self.command in ("GET", "HEAD"):
                repo = self._repo(kind, parts[0], parts[1])
                revision, path = _split_revision(parts[3:])
                return self._resolve(repo, revision, path, head)
        raise _HubError(404, None, f"stand-in: no route for {self.command} {url.path}")

    # ---- answers -------------------------------------------------------------------------------------------

    def _repo(self, kind: str, owner: str, name: str) -> Repo:
        repo = self.hub.repos.get((kind, f"{owner}/{name}"))
        if repo is None:
            raise _HubError(404, "RepoNotFound", "Repository not found")
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    def _info(self, repo: Repo, revision: str, query: dict):
        commit = self._commit(repo, revision)
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = []
        for path, blob in commit.files.items():
            sibling = {"rfilename": path}
            if blobs:
                sibling.update(size=blob.size, blobId=blob.git_sha1)
                if blob.is_lfs(path):
                    sibling["lfs"] = {"sha256": blob.sha256, "size": blob.size, "pointerSize": 134}
            siblings.append(sibling)
        owner = repo.repo_id.split("/")[0]
        info = {"_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id, "author": owner,
                "sha": commit.sha, "lastModified": _iso(commit.date), "createdAt": _iso(EPOCH), "private": False,
                "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                "siblings": siblings, "cardData": _card_data(commit)}
        if repo.kind == "model":
            info.update(modelId=repo.repo_id, library_name="sentence-transformers")
        self._json(info)

    def _entries(self, commit: Commit, path: str, recursive: bool, expand: bool) -> list[dict]:
        """The entries below folder `path` ("" = the root): its children, or all descendants."""
        prefix = f"{path}/" if path else ""
        if path and (path in commit.files or not any(p.startswith(prefix) for p in commit.files)):
            raise _HubError(404, "EntryNotFound", f"{path} is not a folder on \"{commit.sha}\"")
        names = set()
        for file in commit.files:
            if not file.startswith(prefix):
                continue
            tail = file[len(prefix):].split("/")
            names.update(prefix + "/".join(tail[:i]) for i in range(1, len(tail) + 1) if recursive or i == 1)
        return [self._entry(commit, name, expand) for name in sorted(names)]

    def _entry(self, commit: Commit, path: str, expand: bool) -> dict:
        blob = commit.files.get(path)
        if blob is None:  # a folder: its oid stands for the names and blobs below it
            below = sorted(f"{p}\0{b.git_sha1}" for p, b in commit.files.items() if p.startswith(path + "/"))
            entry = {"type": "directory", "oid": hashlib.sha1("\n".join(below).encode()).hexdigest(), "size": 0,
                     "path": path}
        else:
            entry = {"type": "file", "oid": blob.git_sha1, "size": blob.size, "path": path}
            if blob.is_lfs(path):
                entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": 134}
        if expand:
            entry["lastCommit"] = {"id": commit.sha, "title": commit.title, "date": _iso(commit.date)}
        return entry

    def _tree(self, repo: Repo, revision: str, path: str, query: dict):
        commit = self._commit(repo, revision)
        flag = lambda key: query.get(key, ["false"])[0].lower() in ("1", "true")  # noqa: E731
        self._json(self._entries(commit, path, flag("recursive"), flag("expand")))

    def _paths_info(self, repo: Repo, revision: str, body: bytes):
        commit = self._commit(repo, revision)
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(body or b"{}")
            paths, expand = data.get("paths", []), bool(data.get("expand"))
        else:
            form = parse_qs(body.decode())
            paths, expand = form.get("paths", []), form.get("expand", ["False"])[0].lower() in ("1", "true")
        found = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files or any(p.startswith(path + "/") for p in commit.files):
                found.append(self._entry(commit, path, expand))
        self._json(found)

    def _commits(self, repo: Repo, revision: str):
        head = self._commit(repo, revision)
        history = list(repo.commits.values())
        history = history[:history.index(head) + 1][::-1]  # a linear history: the branch up to `head`
        self._json([{"id": c.sha, "title": c.title, "message": "", "authors": [], "date": _iso(c.date)}
                    for c in history])

    def _resolve(self, repo: Repo, revision: str, path: str, head: bool):
        commit = self._commit(repo, revision)
        blob = commit.files.get(path)
        if blob is None:
            raise _HubError(404, "EntryNotFound", "Entry not found")
        headers = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if blob.is_lfs(path):  # the Hub redirects LFS files to its CDN; the headers carry the real etag and size
            headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(blob.size),
                            "ETag": f'"{blob.sha256}"', "Location": f"{self.hub.cdn_url}/lfs/{blob.sha256}"})
            return self._send(302, b"", headers, head)
        headers.update({"ETag": f'"{blob.git_sha1}"', "Content-Type": "application/octet-stream"})
        self._send_content(blob, headers, head)

    def _lfs(self, sha256: str, head: bool):
        for repo in self.hub.repos.values():
            for commit in repo.commits.values():
                for path, blob in commit.files.items():
                    if blob.is_lfs(path) and blob.sha256 == sha256:
                        return self._send_content(blob, {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes",
                                                         "Content-Type": "application/octet-stream"}, head)
        raise _HubError(404, None, "no such object")

    # ---- transport -----------------------------------------------------------------------------------------

    def _send_content(self, blob: Blob, headers: dict, head: bool):
        data = blob.read()
        spec = self.headers.get("Range")
        if spec and spec.startswith("bytes=") and not head:
            first, _, last = spec[len("bytes="):].split(",")[0].partition("-")
            start = int(first) if first else max(len(data) - int(last), 0)
            end = min(int(last), len(data) - 1) if first and last else len(data) - 1
            if start >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return self._send(206, data[start:end + 1], headers)
        self._send(200, data, headers, head)

    def _json(self, value):
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict, head: bool = False):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


def _split_revision(parts: list[str]) -> tuple[str, str]:
    """(revision, path) from the segments after tree/ or resolve/: a revision is one (quoted) segment, or an
    unquoted refs/<kind>/<name>."""
    if parts[0] == "refs" and len(parts) >= 3:
        return "/".join(parts[:3]), "/".join(parts[3:])
    return parts[0], "/".join(parts[1:])


def _url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _card_data(commit: Commit) -> dict | None:
    """The YAML header of README.md, as the Hub returns it in cardData."""
    readme = commit.files.get("README.md")
    if readme is None:
        return None
    text = readme.read().decode("utf-8", "replace")
    if not text.startswith("---"):
        return None
    import yaml

    try:
        return yaml.safe_load(text.split("---", 2)[1]) or None
    except (yaml.YAMLError, IndexError):
        return None


def resolve_url(endpoint: str, kind: str, repo_id: str, revision: str, path: str) -> str:
    """The URL the clients download a file from (hf_hub_url's layout)."""
    prefix = "datasets/" if kind == "dataset" else ""
    return f"{endpoint}/{prefix}{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hub.server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--jmteb-layout", choices=["script", "parquet"], default="script",
                        help="sbintuitions/JMTEB as a loading script (make jmteb-data) or script-free parquet")
    args = parser.parse_args(argv)
    from tests.hub.repos import add_fixture_repos

    hub = HubStandIn()
    add_fixture_repos(hub, jmteb_layout=args.jmteb_layout)
    url = hub.start(args.port)
    for (kind, repo_id), repo in sorted(hub.repos.items()):
        print(f"{kind:7} {repo_id:40} " + " ".join(f"{b}={s[:12]}" for b, s in repo.refs.items())
              + f" ({len(repo.commits)} commits)", flush=True)
    print(f"serving on {url}  (export HF_ENDPOINT={url} HF_HUB_OFFLINE=0); Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
