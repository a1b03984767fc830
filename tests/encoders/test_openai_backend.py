"""The OpenAI-compatible backend against a stub server on 127.0.0.1 started here."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import asdict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from harness.encoders.base import build_encoder
from harness.encoders.openai_backend import parse_embeddings, plan_requests, retry_after_seconds
from harness.errors import HarnessError
from harness.prompts import encode_for
from harness.taskspec import load_task
from tests.encoders.test_backend_parity import config

KEY = "sk-test-5ecret-k3y-never-to-be-printed-0123456789"


def vector(text: str, dimensions: int = 3) -> list[float]:
    """A vector of the size the request asks for (3 when it does not say)."""
    return [float(len(text)), float(sum(map(ord, text)) % 97), 1.0] + [0.0] * (dimensions - 3)


class Stub:
    """Scripted answers: `fail` holds (status, body, headers) to return before answering normally."""

    def __init__(self):
        self.requests: list[dict] = []
        self.fail: list[tuple[int, dict, dict]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
                if stub.fail:
                    status, payload, headers = stub.fail.pop(0)
                else:
                    rows = [{"index": i, "embedding": vector(t, body.get("dimensions", 3))}
                            for i, t in enumerate(body["input"])]
                    status, payload, headers = 200, {"data": rows[::-1]}, {}  # out of order on purpose
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def stub(monkeypatch):
    monkeypatch.setenv("STUB_KEY", KEY)
    server = Stub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def encoder_for(stub, **api):
    cfg = config("text-embedding-3-small", "openai", prompts={},
                 api={"base_url": stub.url, "key_env": "STUB_KEY", "backoff_seconds": 0.5, **api})
    encoder = build_encoder(cfg)
    encoder.sleeps = []
    encoder.sleep = encoder.sleeps.append
    return encoder


def test_plan_requests_by_hand():
    assert [list(r) for r in plan_requests([5, 5, 5, 5, 5], 3, 100)] == [[0, 1, 2], [3, 4]]
    assert [list(r) for r in plan_requests([5, 9, 3, 30, 1], 10, 12)] == [[0], [1, 2], [3], [4]]
    assert plan_requests([], 3, 10) == []


def test_batches_within_limits_in_order(stub):
    texts = ["犬", "a cat sleeps", "", "男性がギターを弾いている", "kids", "x" * 19, "猫"]
    encoder = encoder_for(stub, max_inputs_per_request=3, max_tokens_per_request=20)
    out = encode_for(encoder, texts, role="document", task=load_task("jaquad_retrieval"))
    sent = [t if t else " " for t in texts]  # JMTEB: an empty text becomes " "
    assert np.array_equal(out, np.asarray([vector(t) for t in sent], np.float32))
    batches = [r["body"]["input"] for r in stub.requests]
    assert [x for b in batches for x in b] == sent
    assert all(len(b) <= 3 and (len(b) == 1 or sum(len(x.encode()) for x in b) <= 20) for b in batches)
    # UTF-8 byte costs 3, 12, 1, 36, 4, 19, 3 under limits of 3 inputs / 20 tokens, greedy in order:
    assert batches == [["犬", "a cat sleeps", " "], ["男性がギターを弾いている"], ["kids"], ["x" * 19], ["猫"]]
    assert all(r["path"] == "/v1/embeddings" and r["body"]["model"] == "text-embedding-3-small" for r in stub.requests)
    assert stub.requests[0]["auth"] == f"Bearer {KEY}"


def test_retries_429_and_5xx_with_exponential_backoff(stub):
    stub.fail = [(429, {"error": {"message": "slow down"}}, {}), (503, {"error": "busy"}, {}),
                 (500, {"error": "oops"}, {"Retry-After": "7"})]
    encoder = encoder_for(stub)
    out = encode_for(encoder, ["a", "bb"], role="query", task=load_task("jsts"))
    assert out.tolist() == [vector("a"), vector("bb")]
    assert encoder.sleeps == [0.5, 1.0, 7.0]  # 0.5 * 2**attempt, then the server's Retry-After
    assert len(stub.requests) == 4


def test_bad_key_stops_without_leaking_it(stub, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}. Also {KEY[:10]}...{KEY[-8:]}"}}
    stub.fail = [(401, echo, {})]
    encoder = encoder_for(stub)
    with pytest.raises(HarnessError) as err:
        encode_for(encoder, ["a"], role="query", task=load_task("jsts"))
    message = str(err.value)
    assert "HTTP 401" in message and "Incorrect API key provided" in message
    assert KEY not in message and KEY[-8:] not in message and KEY[:16] not in message
    stub.fail = [(503, echo, {})] * 3
    encoder = encoder_for(stub, max_retries=2)
    with pytest.raises(HarnessError, match="gave up after 3 attempts") as err:
        encode_for(encoder, ["a"], role="query", task=load_task("jsts"))
    assert KEY[-8:] not in str(err.value) and KEY[-8:] not in caplog.text and KEY[:16] not in caplog.text
    assert KEY not in json.dumps(asdict(encoder.config)) and KEY not in json.dumps(encoder.config.identity())


def test_missing_key_names_the_variable(stub, monkeypatch):
    monkeypatch.delenv("STUB_KEY")
    with pytest.raises(HarnessError, match="field 'api.key_env': environment variable STUB_KEY is not set"):
        encoder_for(stub)
    assert stub.requests == []


def test_overlong_text_without_tokenizer_is_refused(stub):
    with pytest.raises(HarnessError, match="may exceed 10 tokens"):
        encode_for(encoder_for(stub, max_tokens_per_text=10), ["x" * 11], role="query", task=load_task("jsts"))


def test_run_through_the_cli_keeps_the_key_out_of_every_file(stub, tmp_path, capsys):
    from harness.cli import main
    from tests.core.test_end_to_end_tiny import _make_data

    _make_data(tmp_path / "data")
    out = tmp_path / "out"
    code = main(["run", "model=openai-text-embedding-3-small", f"model.api.base_url={stub.url}",
                 "model.api.key_env=STUB_KEY", "model.api.tokenizer=null", f"data_dir={tmp_path / 'data'}",
                 "tasks=[jsts]", "protocol=mteb", f"output_dir={out}", f"cache_dir={tmp_path / 'cache'}",
                 "encode.show_progress=false"])
    assert code == 0
    assert stub.requests and all(r["body"]["dimensions"] == 1536 for r in stub.requests)
    files = [p for p in out.rglob("*") if p.is_file()] + [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(files) >= 3
    assert all(KEY.encode() not in p.read_bytes() for p in files)
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err


def test_parse_embeddings_puts_each_vector_at_its_index():
    body = json.dumps({"data": [{"index": 2, "embedding": [3, 0.5]}, {"index": 0, "embedding": [1.0, -1e-3]},
                                {"index": 1, "embedding": [2.0, 7]}]}).encode()
    out = parse_embeddings(body, 3, None, "here")
    assert out.dtype == np.float32 and out.tolist() == [[1.0, np.float32(-1e-3)], [2.0, 7.0], [3.0, 0.5]]
    with pytest.raises(HarnessError, match="^here: response field 'data\\[0\\].embedding' has 2 numbers, but "
                                           "api.dimensions has 3$"):
        parse_embeddings(body, 3, 3, "here", "api.dimensions")


def test_retry_after_header_values():
    now = datetime(2015, 10, 21, 7, 27, tzinfo=timezone.utc)
    assert [retry_after_seconds(v, now) for v in ("3600", " 1.5 ", "-3", "0")] == [3600.0, 1.5, 0.0, 0.0]
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0.0  # a date in the past: now
    assert [retry_after_seconds(v, now) for v in (None, "", "soon", "nan", "0x10")] == [None] * 5
    assert retry_after_seconds("inf", now) == float("inf")  # the cap bounds it


def test_retry_after_is_capped_at_max_wait_seconds(stub):
    stub.fail = [(429, {"error": "later"}, {"Retry-After": "3600"})] * 2
    encoder = encoder_for(stub)  # default cap: 60 s
    assert encode_for(encoder, ["a"], role="query", task=load_task("jsts")).tolist() == [vector("a")]
    assert encoder.sleeps == [60.0, 60.0]
    stub.fail = [(503, {"error": "busy"}, {})] * 4
    encoder = encoder_for(stub, backoff_seconds=2, max_wait_seconds=5)
    assert encode_for(encoder, ["a"], role="query", task=load_task("jsts")).tolist() == [vector("a")]
    assert encoder.sleeps == [2.0, 4.0, 5.0, 5.0]  # exponential backoff, capped too


def test_retry_budget_refuses_a_wait_that_would_end_past_it(stub):
    stub.fail = [(429, {"error": "later"}, {"Retry-After": "3600"})] * 3
    encoder = encoder_for(stub, retry_budget_seconds=30, max_retries=10)
    with pytest.raises(HarnessError, match="gave up after 1 attempt in .*api.retry_budget_seconds=30\\): HTTP 429"):
        encode_for(encoder, ["a"], role="query", task=load_task("jsts"))
    assert encoder.sleeps == [] and len(stub.requests) == 1


def test_dimension_is_one_for_the_whole_run(stub):
    encoder = encoder_for(stub)
    encode_for(encoder, ["a", "b"], role="query", task=load_task("jsts"))
    assert encoder.dimension == 3
    stub.fail = [(200, {"data": [{"index": 0, "embedding": [1.0, 2.0]}]}, {})]
    with pytest.raises(HarnessError, match="'data\\[0\\].embedding' has 2 numbers, but an earlier answer of "
                                           "this run has 3"):
        encode_for(encoder, ["c"], role="document", task=load_task("jsts"))
    stub.fail = [(200, {"data": [{"index": 0, "embedding": [1.0, 2.0, 3.0]}]}, {})]
    with pytest.raises(HarnessError, match="'data\\[0\\].embedding' has 3 numbers, but api.dimensions has 8"):
        encode_for(encoder_for(stub, dimensions=8), ["c"], role="document", task=load_task("jsts"))


@pytest.mark.parametrize("field, value, message", [
    ("max_retries", -1, "field 'api.max_retries' must be an integer >= 0, got -1"),
    ("max_wait_seconds", float("nan"), "field 'api.max_wait_seconds' must be a finite number >= 0, got nan"),
    ("retry_budget_seconds", -0.5, "field 'api.retry_budget_seconds' must be a finite number >= 0"),
    ("timeout_seconds", 0, "field 'api.timeout_seconds' must be a finite number >= 0.001, got 0"),
    ("max_inputs_per_request", 0, "field 'api.max_inputs_per_request' must be an integer >= 1, got 0"),
    ("dimensions", -5, "field 'api.dimensions' must be an integer >= 1, got -5"),
    ("base_url", "ftp://127.0.0.1/v1", "field 'api.base_url' must be an http:// or https:// URL with a host"),
    ("base_url", "http://user:pw@127.0.0.1/v1", "field 'api.base_url' must not hold a user, password, query"),
    ("base_url", "http://127.0.0.1/v1?key=x", "field 'api.base_url' must not hold a user, password, query"),
])
def test_api_values_out_of_range_are_refused(stub, field, value, message):
    with pytest.raises(HarnessError, match="^model tiny-openai: " + re.escape(message)):
        encoder_for(stub, **{field: value})
    assert stub.requests == []


def test_key_that_cannot_be_a_header_is_refused_without_printing_it(stub, monkeypatch):
    monkeypatch.setenv("STUB_KEY", KEY + "\nX-Injected: 1")
    with pytest.raises(HarnessError, match="STUB_KEY holds characters an HTTP header cannot carry") as err:
        encoder_for(stub)
    assert KEY[:16] not in str(err.value)
