"""A hostile OpenAI-compatible server: every bad answer ends the run with one line (exit 2), nothing written,
and the key never leaves the origin of api.base_url.

Two loopback servers per test: `api` (api.base_url) and `elsewhere` (another port, so another origin) that
records every request it gets. The key is chosen so that neither its variable's name nor its shape is
caught by harness.provenance's scrubber: only the client itself keeps it out of messages and files.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.cli import main
from tests.faults.conftest import files_under

KEY_ENV = "STUB_EMBEDDING_SERVICE_VAR"
KEY = "k3y-0f-the-stub-9f8e7d6c5b4a3210-never-shown"


class Server:
    """A loopback HTTP server; `respond(request_number, body)` gives (status, headers, body bytes, length)
    where `length` overrides Content-Length (None: the body's length; -1: no Content-Length at all)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.respond = lambda n, body: answer(body)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                        "body": raw})
                body = json.loads(raw) if raw else {}
                status, headers, data, length = server.respond(len(server.requests), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if length != -1:
                    self.send_header("Content-Length", str(len(data) if length is None else length))
                self.end_headers()
                self.wfile.write(data)  # HTTP/1.0: the connection closes after each answer

            do_POST = do_GET = _serve

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def vector(text, dim: int = 3) -> list[float]:
    text = str(text)
    return [float(len(text)), float(sum(map(ord, text)) % 97), 1.0, 0.5][:dim] + [0.25] * max(0, dim - 4)


def answer(body: dict, rows=None, status: int = 200, headers: dict | None = None, raw: bytes | None = None,
           length: int | None = None):
    """A normal embeddings answer (rows in reverse order, as a server may send them), or `rows` instead."""
    if rows is None:
        rows = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(body["input"])]
        rows = rows[::-1]
    data = raw if raw is not None else json.dumps({"object": "list", "data": rows, "model": body.get("model")}).encode()
    return status, headers or {}, data, length


def rows_of(body: dict, dim: int = 3) -> list[dict]:
    return [{"index": i, "embedding": vector(t, dim)} for i, t in enumerate(body["input"])]


@pytest.fixture
def servers(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    api, elsewhere = Server(), Server()
    yield api, elsewhere
    api.close()
    elsewhere.close()


def api_run(tmp_path: Path, api: Server, *extra: str) -> list[str]:
    return ["run", "model=openai-text-embedding-3-small", f"model.api.base_url={api.origin}/v1",
            f"model.api.key_env={KEY_ENV}", "model.api.tokenizer=null", "model.api.dimensions=null",
            "++model.api.max_inputs_per_request=4", "++model.api.max_retries=3", "++model.api.backoff_seconds=0.01",
            "++model.api.max_wait_seconds=0.01", f"data_dir={tmp_path / 'data'}", "tasks=[jsts]",
            f"output_dir={tmp_path / 'out'}", f"cache_dir={tmp_path / 'cache'}", "encode.show_progress=false",
            *extra]


def check_key_stays_home(tmp_path: Path, elsewhere: Server, *texts: str) -> None:
    """The key is in no file under tmp_path, no captured text, and no request the other origin received."""
    for path in files_under(tmp_path):
        assert KEY.encode() not in path.read_bytes(), path
    for text in texts:
        assert KEY not in text and KEY[:16] not in text and KEY[-8:] not in text
    assert elsewhere.requests == []
    assert all(KEY not in json.dumps(r["headers"]) and KEY.encode() not in r["body"] for r in elsewhere.requests)


def fails_in_one_line(tmp_path, servers, capsys, caplog, extra=(), needles=()) -> str:
    api, elsewhere = servers
    caplog.set_level(logging.DEBUG)  # every log line, httpx's included, is checked for the key
    code = main(api_run(tmp_path, api, *extra))
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert f"model openai-text-embedding-3-small: {api.origin}/v1/embeddings: " in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert files_under(tmp_path / "out") == [] and files_under(tmp_path / "cache") == []
    assert api.requests and all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in api.requests)
    check_key_stays_home(tmp_path, elsewhere, captured.out, captured.err, caplog.text)
    return lines[0]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_faults_api_redirect_to_another_origin_refused(status, tmp_path, data_dir, servers, capsys, caplog):
    api, elsewhere = servers
    api.respond = lambda n, body: answer(body, status=status, raw=b"",
                                         headers={"Location": f"{elsewhere.origin}/v1/embeddings"})
    fails_in_one_line(tmp_path, servers, capsys, caplog, needles=(
        f"API answered HTTP {status} redirecting to another origin ({elsewhere.origin})", "refused"))
    assert len(api.requests) == 1  # not retried


def test_faults_api_redirect_to_another_scheme_refused(tmp_path, data_dir, servers, capsys, caplog):
    """Same host and port but https: another origin."""
    api, _ = servers
    port = api.origin.rsplit(":", 1)[1]
    api.respond = lambda n, body: answer(body, status=307, raw=b"",
                                         headers={"Location": f"https://127.0.0.1:{port}/v1/embeddings"})
    fails_in_one_line(tmp_path, servers, capsys, caplog, needles=(f"another origin (https://127.0.0.1:{port})",))


def test_faults_api_same_origin_redirect_then_another_origin(tmp_path, data_dir, servers, capsys, caplog):
    """A same-origin hop is followed, the next hop to another origin is refused."""
    api, elsewhere = servers

    def respond(n, body):
        if n == 1:
            return answer(body, status=307, raw=b"", headers={"Location": "/v2/embeddings"})
        return answer(body, status=302, raw=b"", headers={"Location": f"{elsewhere.origin}/v1/embeddings"})

    api.respond = respond
    fails_in_one_line(tmp_path, servers, capsys, caplog, needles=("HTTP 302 redirecting to another origin",))
    assert [r["path"] for r in api.requests] == ["/v1/embeddings", "/v2/embeddings"]


@pytest.mark.parametrize("status", [302, 307])
def test_faults_api_same_origin_redirect_is_followed(status, tmp_path, data_dir, servers, capsys, caplog):
    """A redirect within the origin of api.base_url is followed with the same POST, and the run succeeds."""
    api, elsewhere = servers

    def respond(n, body):
        if n % 2 == 1:  # every request is redirected once, relative Location
            return answer(body, status=status, raw=b"", headers={"Location": "/moved/v1/embeddings"})
        return answer(body)

    api.respond = respond
    assert main(api_run(tmp_path, api)) == 0
    captured = capsys.readouterr()
    redirected = json.loads((tmp_path / "out" / "STS" / "scores_jsts.json").read_text())["metric_value"]
    assert [r["path"] for r in api.requests[:2]] == ["/v1/embeddings", "/moved/v1/embeddings"]
    assert all(r["method"] == "POST" and r["headers"]["Authorization"] == f"Bearer {KEY}" for r in api.requests)
    assert api.requests[0]["body"] == api.requests[1]["body"]
    check_key_stays_home(tmp_path, elsewhere, captured.out, captured.err, caplog.text)
    # the same vectors as without the redirect: the same score
    api.respond = lambda n, body: answer(body)
    assert main([*api_run(tmp_path, api), f"output_dir={tmp_path / 'direct'}", f"cache_dir={tmp_path / 'c2'}"]) == 0
    assert json.loads((tmp_path / "direct" / "STS" / "scores_jsts.json").read_text())["metric_value"] == redirected


def test_faults_api_retry_after_an_hour_is_capped(tmp_path, data_dir, servers, capsys, caplog):
    """Retry-After: 3600 forever: each wait is api.max_wait_seconds (0.01 here, not an hour); the 4th attempt
    (api.max_retries=3) is the last."""
    api, _ = servers
    api.respond = lambda n, body: answer(body, status=429, headers={"Retry-After": "3600"},
                                         rows=[], raw=b'{"error": {"message": "rate limited"}}')
    fails_in_one_line(tmp_path, servers, capsys, caplog, needles=(
        "gave up after 4 attempts", "api.max_retries=3", "HTTP 429: rate limited"))
    assert len(api.requests) == 4


def test_faults_api_retry_budget_refuses_a_wait_past_it(tmp_path, data_dir, servers, capsys, caplog):
    """With the default cap (60 s) a Retry-After of an hour does not fit a 5-second budget: no wait at all."""
    api, _ = servers
    api.respond = lambda n, body: answer(body, status=503, headers={"Retry-After": "3600"}, raw=b"busy")
    fails_in_one_line(tmp_path, servers, capsys, caplog, extra=(
        "++model.api.max_wait_seconds=60", "++model.api.retry_budget_seconds=5", "++model.api.max_retries=100"),
        needles=("gave up after 1 attempt in", "api.retry_budget_seconds=5", "HTTP 503"))
    assert len(api.requests) == 1


def test_faults_api_429_forever_gives_up_within_the_budget(tmp_path, data_dir, servers, capsys, caplog):
    api, _ = servers
    api.respond = lambda n, body: answer(body, status=429, raw=b'{"error": "slow down"}')
    line = fails_in_one_line(tmp_path, servers, capsys, caplog, extra=(
        "++model.api.max_retries=100000", "++model.api.retry_budget_seconds=0.3", "++model.api.max_wait_seconds=0.02"),
        needles=("gave up after", "api.retry_budget_seconds=0.3", "HTTP 429: slow down"))
    attempts = int(line.split("gave up after ")[1].split()[0])
    assert 1 <= attempts == len(api.requests) < 100000


def test_faults_api_error_echoing_the_key(tmp_path, data_dir, servers, capsys, caplog):
    api, _ = servers
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}.\n\x1b[31m{KEY[:12]}..{KEY[-8:]}"}})
    api.respond = lambda n, body: answer(body, status=401, raw=echo.encode())
    fails_in_one_line(tmp_path, servers, capsys, caplog, needles=("API answered HTTP 401: Incorrect API key",))


def nan_body(body):
    rows = rows_of(body)
    rows[1]["embedding"][2] = float("nan")
    return answer(body, raw=json.dumps({"data": rows}).encode())  # json writes the literal NaN


def huge_body(body):
    rows = rows_of(body)
    rows[0]["embedding"][2] = "HUGE"
    return answer(body, raw=json.dumps({"data": rows}).encode().replace(b'"HUGE"', b"1e999"))  # inf for json


def edit(change):
    """An answer whose rows (in input order) `change` edits."""
    def respond(n, body):
        rows = rows_of(body)
        change(rows)
        return answer(body, rows=rows)
    return respond


BAD_ANSWERS = {  # name: (respond, needles)
    "ragged": (edit(lambda rows: rows[2].update(embedding=[1.0, 2.0])),
               ("'data[2].embedding' has 2 numbers, but 'data[0].embedding' has 3",)),
    "null_vector": (edit(lambda rows: rows[1].update(embedding=None)),
                    ("'data[1].embedding' must be a list of numbers, got null",)),
    "string_vector": (edit(lambda rows: rows[0].update(embedding="AACAPwAAAEA=")),
                      ("'data[0].embedding' must be a list of numbers, got a string",)),
    "string_number": (edit(lambda rows: rows[3]["embedding"].__setitem__(1, "0.5")),
                      ("'data[3].embedding[1]' must be a number, got a string",)),
    "boolean_number": (edit(lambda rows: rows[3]["embedding"].__setitem__(0, True)),
                       ("'data[3].embedding[0]' must be a number, got a boolean",)),
    "empty_vector": (edit(lambda rows: rows[0].update(embedding=[])),
                     ("'data[0].embedding' must be a list of numbers, got an empty list",)),
    "nan": (lambda n, body: nan_body(body), ("'data[1].embedding[2]' is not a finite float32 number",)),
    "infinity": (lambda n, body: huge_body(body), ("'data[0].embedding[2]' is not a finite float32 number",)),
    "beyond_float32": (edit(lambda rows: rows[2]["embedding"].__setitem__(0, 1e39)),
                       ("'data[2].embedding[0]' is not a finite float32 number",)),
    "dimension_change": (lambda n, body: answer(body, rows=rows_of(body, 3 if n == 1 else 4)),
                         ("'data[0].embedding' has 4 numbers, but an earlier answer of this run has 3",)),
    "truncated_body": (lambda n, body: answer(body, raw=json.dumps({"data": rows_of(body)}).encode()[:40],
                                              length=400),
                       ("gave up after 4 attempts", "RemoteProtocolError", "peer closed connection")),
    "truncated_no_length": (lambda n, body: answer(body, raw=json.dumps({"data": rows_of(body)}).encode()[:40],
                                                   length=-1),
                            ("response body is not valid JSON",)),
    "not_json": (lambda n, body: answer(body, raw=b"<html><body>502 Bad Gateway</body></html>"),
                 ("response body is not valid JSON", "line 1 column 1")),
    "not_utf8": (lambda n, body: answer(body, raw=b'{"data": "\xff"}'), ("response body is not UTF-8",)),
    "deeply_nested": (lambda n, body: answer(body, raw=b"[" * 100000 + b"]" * 100000),
                      ("response body nests too deeply",)),
    "data_not_a_list": (lambda n, body: answer(body, raw=b'{"data": {"0": [1, 2, 3]}}'),
                        ("response field 'data' must be a list of embedding objects, got an object",)),
    "no_data": (lambda n, body: answer(body, raw=b'{"error": null}'),
                ("response field 'data' must be a list of embedding objects, got missing",)),
    "row_not_object": (edit(lambda rows: rows.__setitem__(1, [0.1, 0.2, 0.3])),
                       ("'data[1]' must be an object, got a list",)),
    "duplicate_index": (edit(lambda rows: rows[3].update(index=0)),
                        ("'data[3].index' is 0, as is 'data[0].index'",)),
    "index_out_of_range": (edit(lambda rows: rows[3].update(index=4)), ("'data[3].index' is 4, outside 0..3",)),
    "negative_index": (edit(lambda rows: rows[1].update(index=-1)), ("'data[1].index' is -1, outside 0..3",)),
    "missing_index": (edit(lambda rows: rows[2].pop("index")),
                      ("'data[2].index' must be an integer, got missing",)),
    "string_index": (edit(lambda rows: rows[2].update(index="2")),
                     ("'data[2].index' must be an integer, got a string",)),
    "wrong_count": (edit(lambda rows: rows.pop()), ("response field 'data' holds 3 embeddings for 4 inputs",)),
    "extra_row": (edit(lambda rows: rows.append({"index": 4, "embedding": [1.0, 2.0, 3.0]})),
                  ("response field 'data' holds 5 embeddings for 4 inputs",)),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_faults_api_bad_answer(case, tmp_path, data_dir, servers, capsys, caplog):
    respond, needles = BAD_ANSWERS[case]
    servers[0].respond = respond
    fails_in_one_line(tmp_path, servers, capsys, caplog, needles=needles)
