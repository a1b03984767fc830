"""OpenAI-compatible embeddings API (`POST {base_url}/embeddings`), as JMTEB's OpenAIEmbedder calls it.

JMTEB sends each text as cl100k_base token ids cut at 8,191 tokens, replaces an empty text with " ", ignores
prefixes, and asks 3-small/3-large for their full `dimensions`. With `api.tokenizer: cl100k_base` (needs
`tiktoken` and its encoding file) we do the same; with `api.tokenizer: null` texts are sent as strings and
their UTF-8 byte count, an upper bound on any BPE token count, sizes the requests.

The server is not trusted:
- the key (read from the variable named by `api.key_env`) goes only to the origin of `api.base_url`: a
  redirect within that origin is followed (the same POST is sent again), a redirect anywhere else is refused;
- 429/5xx answers, network errors and cut-off bodies are retried (httpx + tenacity) with exponential backoff
  or the server's `Retry-After`, each wait capped at `api.max_wait_seconds`, a request giving up after
  `api.max_retries` retries or `api.retry_budget_seconds`, whichever comes first;
- every answer is validated (`parse_embeddings`) before a vector is used;
- every failure is one HarnessError line naming the URL and the response field, with the key scrubbed.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import numpy as np
import tenacity

from harness.encoders.base import EncoderConfig, Side, check_embeddings
from harness.errors import HarnessError
from harness.schema import check_fields

log = logging.getLogger(__name__)

API_FIELDS = {
    "base_url": (str, False), "key_env": (str, False), "dimensions": (int, False), "tokenizer": (str, False),
    "max_tokens_per_text": (int, False), "max_tokens_per_request": (int, False),
    "max_inputs_per_request": (int, False), "max_retries": (int, False), "backoff_seconds": (float, False),
    "timeout_seconds": (float, False), "max_wait_seconds": (float, False), "retry_budget_seconds": (float, False),
}
DEFAULTS = {"base_url": "https://api.openai.com/v1", "key_env": "OPENAI_API_KEY", "dimensions": None,
            "tokenizer": None, "max_tokens_per_text": 8191, "max_tokens_per_request": 300_000,
            "max_inputs_per_request": 2048, "max_retries": 6, "backoff_seconds": 1.0, "timeout_seconds": 120.0,
            "max_wait_seconds": 60.0, "retry_budget_seconds": 600.0}
# Smallest allowed value of each numeric field (None: no bound beyond the type).
MINIMA = {"dimensions": 1, "max_tokens_per_text": 1, "max_tokens_per_request": 1, "max_inputs_per_request": 1,
          "max_retries": 0, "backoff_seconds": 0.0, "timeout_seconds": 1e-3, "max_wait_seconds": 0.0,
          "retry_budget_seconds": 0.0}
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# 301/302 keep the method when the client chooses to (RFC 9110 15.4.2-3); an embeddings API has only POST.
REDIRECT_STATUS = frozenset({301, 302, 307, 308})
MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}


class _Transient(Exception):
    """A failure worth another attempt; `retry_after` is the server's Retry-After in seconds, if it sent one."""

    def __init__(self, problem: str, retry_after: float | None = None):
        super().__init__(problem)
        self.problem, self.retry_after = problem, retry_after


def plan_requests(costs: list[int], max_inputs: int, max_tokens: int) -> list[range]:
    """Consecutive runs of inputs, each within both limits (an input over `max_tokens` goes alone)."""
    batches, start, used = [], 0, 0
    for i, cost in enumerate(costs):
        if i > start and (i - start >= max_inputs or used + cost > max_tokens):
            batches.append(range(start, i))
            start, used = i, 0
        used += cost
    if start < len(costs):
        batches.append(range(start, len(costs)))
    return batches


def check_api(api: dict[str, Any], where: str) -> httpx.URL:
    """Range checks of the `api:` block (types are checked by check_fields); returns the embeddings URL."""
    for field, low in MINIMA.items():
        value = api[field]
        if value is not None and (not math.isfinite(value) or value < low):
            kind = "an integer" if API_FIELDS[field][0] is int else "a finite number"
            raise HarnessError(f"{where}: field 'api.{field}' must be {kind} >= {low:g}, got {value!r}")
    if not api["key_env"]:
        raise HarnessError(f"{where}: field 'api.key_env' must name an environment variable")
    try:
        url = httpx.URL(api["base_url"].rstrip("/") + "/embeddings")
    except httpx.InvalidURL as exc:
        raise HarnessError(f"{where}: field 'api.base_url': not a URL ({exc})") from None
    if url.scheme not in DEFAULT_PORTS or not url.host:
        raise HarnessError(f"{where}: field 'api.base_url' must be an http:// or https:// URL with a host")
    if url.userinfo or url.query or url.fragment:
        # Credentials come only from api.key_env: a URL is printed in messages and recorded in results.
        raise HarnessError(f"{where}: field 'api.base_url' must not hold a user, password, query or fragment")
    return url


def origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme, 0)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            date = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        date = date if date.tzinfo else date.replace(tzinfo=timezone.utc)
        seconds = (date - (now or datetime.now(timezone.utc))).total_seconds()
    return None if math.isnan(seconds) else max(0.0, seconds)  # inf stays: the cap bounds it


def _kind(value: Any) -> str:
    """A JSON value's type in words; the value itself is never echoed (a hostile server chooses it)."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def parse_embeddings(content: bytes, count: int, dimension: int | None, where: str,
                     dimension_from: str = "") -> np.ndarray:
    """The float32 vectors of an embeddings answer, row i for input i, or HarnessError naming the field.

    The body must be one JSON object whose `data` is a list of exactly `count` objects, each with an integer
    `index` (unique, in 0..count-1, so together they cover every input) and an `embedding` list of
    `dimension` (or, when None, one common number of) finite float32 numbers.
    """
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise HarnessError(f"{where}: response body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{where}: response body is not valid JSON ({exc.msg} at line {exc.lineno} column "
                           f"{exc.colno} of {len(content)} bytes)") from None
    except RecursionError:
        raise HarnessError(f"{where}: response body nests too deeply to be an embeddings answer") from None
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        got = _kind(data) if not isinstance(data, dict) else "missing" if "data" not in data else _kind(rows)
        raise HarnessError(f"{where}: response field 'data' must be a list of embedding objects, got {got}")
    if len(rows) != count:
        raise HarnessError(f"{where}: response field 'data' holds {len(rows)} embeddings for {count} inputs")
    out: list[np.ndarray | None] = [None] * count
    position: dict[int, int] = {}
    for i, row in enumerate(rows):
        field = f"data[{i}]"
        if not isinstance(row, dict):
            raise HarnessError(f"{where}: response field '{field}' must be an object, got {_kind(row)}")
        index = row.get("index")
        if type(index) is not int:
            got = "missing" if "index" not in row else _kind(index)
            raise HarnessError(f"{where}: response field '{field}.index' must be an integer, got {got}")
        if not 0 <= index < count:
            raise HarnessError(f"{where}: response field '{field}.index' is {index}, outside 0..{count - 1}")
        if index in position:
            raise HarnessError(f"{where}: response field '{field}.index' is {index}, as is "
                               f"'data[{position[index]}].index': two vectors for one input")
        position[index] = i
        vector = row.get("embedding")
        if not isinstance(vector, list) or not vector:
            got = "missing" if "embedding" not in row else "an empty list" if vector == [] else _kind(vector)
            raise HarnessError(f"{where}: response field '{field}.embedding' must be a list of numbers, got {got}")
        if not set(map(type, vector)) <= {int, float}:  # bool is not a number here, nor is "0.5"
            k = next(k for k, x in enumerate(vector) if type(x) not in (int, float))
            raise HarnessError(f"{where}: response field '{field}.embedding[{k}]' must be a number, "
                               f"got {_kind(vector[k])}")
        if dimension is None:
            dimension, dimension_from = len(vector), f"'data[{i}].embedding'"
        if len(vector) != dimension:
            raise HarnessError(f"{where}: response field '{field}.embedding' has {len(vector)} numbers, but "
                               f"{dimension_from or 'this run'} has {dimension}")
        with np.errstate(over="ignore"):
            try:
                values = np.asarray(vector, dtype=np.float64).astype(np.float32)
            except OverflowError:  # an integer beyond float64
                values = np.full(len(vector), np.inf, np.float32)
        if not np.isfinite(values).all():
            k = int(np.argmin(np.isfinite(values)))
            raise HarnessError(f"{where}: response field '{field}.embedding[{k}]' is not a finite float32 number "
                               f"(NaN, infinite or beyond 3.4e38)")
        out[index] = values
    return np.stack(out) if count else np.zeros((0, dimension or 0), np.float32)


class OpenAIEncoder:
    def __init__(self, config: EncoderConfig):
        self.config = config
        self.where = f"model {config.name}"
        given = check_fields(dict(config.api), API_FIELDS, self.where, "api.")
        # null keeps the default (for dimensions and tokenizer the default is null: the model's own size, strings)
        self.api = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
        self.url = check_api(self.api, self.where)
        self.sleep: Callable[[float], None] = time.sleep  # tests replace it
        self.dimension: int | None = self.api["dimensions"]  # one size for every answer of the run
        self._encoding = None
        self._key()  # a missing key stops the run at start, before any data is loaded
        if self.url.scheme == "http" and self.url.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("%s: api.base_url is plain http to %s: the key travels unencrypted", self.where,
                        self.url.host)

    def _key(self) -> str:
        key = os.environ.get(self.api["key_env"], "")
        if not key:
            raise HarnessError(f"{self.where}: field 'api.key_env': environment variable "
                               f"{self.api['key_env']} is not set")
        if not (key.isascii() and key.isprintable()) or any(c.isspace() for c in key):
            raise HarnessError(f"{self.where}: field 'api.key_env': environment variable {self.api['key_env']} "
                               f"holds characters an HTTP header cannot carry (spaces, newlines, non-ASCII)")
        return key

    def _inputs(self, texts: list[str]) -> tuple[list[Any], list[int]]:
        """What is sent for each text, and its token cost."""
        texts = [t if t else " " for t in texts]
        limit = self.api["max_tokens_per_text"]
        if self.api["tokenizer"]:
            if self._encoding is None:
                try:
                    import tiktoken

                    self._encoding = tiktoken.get_encoding(self.api["tokenizer"])
                except Exception as exc:
                    raise HarnessError(f"{self.where}: field 'api.tokenizer': cannot load "
                                       f"{self.api['tokenizer']!r} ({type(exc).__name__}); pip install tiktoken "
                                       f"with network access once") from None
            ids = [self._encoding.encode(t)[:limit] for t in texts]
            return ids, [len(i) for i in ids]
        costs = [len(t.encode("utf-8")) for t in texts]
        too_long = [i for i, c in enumerate(costs) if c > limit]
        if too_long:
            raise HarnessError(f"{self.where}: text {too_long[0]} may exceed {limit} tokens and "
                               f"api.tokenizer is null, so it cannot be truncated as JMTEB does; set "
                               f"api.tokenizer: cl100k_base")
        return texts, costs

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        # A prompt is sent as text before each input. The card models' configs set none: JMTEB's OpenAI
        # embedder ignores prefixes.
        key = self._key()
        inputs, costs = self._inputs([(side.prompt or "") + t for t in texts])
        parts = []
        # follow_redirects=False: redirects are ours to judge (_attempt), never followed with the key blindly.
        with httpx.Client(timeout=self.api["timeout_seconds"], follow_redirects=False) as client:
            for batch in plan_requests(costs, self.api["max_inputs_per_request"], self.api["max_tokens_per_request"]):
                parts.append(self._request(client, [inputs[i] for i in batch], key))
        array = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        return check_embeddings(array, len(texts), f"{self.where} on task {side.task}")

    def _request(self, client: httpx.Client, inputs: list[Any], key: str) -> np.ndarray:
        body = {"model": self.config.path, "input": inputs}
        if self.api["dimensions"]:
            body["dimensions"] = self.api["dimensions"]
        payload = json.dumps(body).encode("utf-8")
        where = f"{self.where}: {self.url}"
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient), wait=self._wait, sleep=self.sleep, reraise=True,
            # stop_before_delay: no wait is started that would end past the budget (a 1-hour Retry-After
            # ends the request at once instead of sleeping)
            stop=(tenacity.stop_after_attempt(self.api["max_retries"] + 1)
                  | tenacity.stop_before_delay(self.api["retry_budget_seconds"])),
            before_sleep=lambda state: log.info("%s: %s; attempt %d failed, next in %.2fs", where,
                                                state.outcome.exception(), state.attempt_number,
                                                state.upcoming_sleep))
        started = time.monotonic()
        try:
            content = retrying(self._attempt, client, payload, key, where)
        except _Transient as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise HarnessError(f"{where}: gave up after {attempts} attempt{'s' * (attempts > 1)} in "
                               f"{time.monotonic() - started:.1f}s (api.max_retries={self.api['max_retries']}, "
                               f"api.retry_budget_seconds={self.api['retry_budget_seconds']:g}): "
                               f"{exc.problem}") from None
        expected_from = "api.dimensions" if self.api["dimensions"] else "an earlier answer of this run"
        vectors = parse_embeddings(content, len(inputs), self.dimension, where, expected_from)
        self.dimension = vectors.shape[1]
        return vectors

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        wait = self.api["backoff_seconds"] * 2.0 ** min(state.attempt_number - 1, 60)
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            wait = exc.retry_after
        return min(wait, self.api["max_wait_seconds"])

    def _attempt(self, client: httpx.Client, payload: bytes, key: str, where: str) -> bytes:
        """One POST, following redirects within the origin; the body of a 2xx answer."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = client.post(url, content=payload, headers=headers)
            except httpx.TransportError as exc:  # refused, reset, timed out, or a body cut short
                raise _Transient(_one_line(f"{type(exc).__name__}: {exc}", key)) from None
            if response.status_code not in REDIRECT_STATUS:
                break
            url = self._redirect_target(url, response, where)
        else:
            raise HarnessError(f"{where}: more than {MAX_REDIRECTS} redirects")
        status = response.status_code
        if 200 <= status < 300:
            return response.content
        message = _one_line(f"HTTP {status}: {_error_message(response)}", key)
        if status in RETRY_STATUS:
            raise _Transient(message, retry_after_seconds(response.headers.get("Retry-After")))
        raise HarnessError(f"{where}: API answered {message}")

    def _redirect_target(self, url: httpx.URL, response: httpx.Response, where: str) -> httpx.URL:
        location = response.headers.get("Location")
        try:
            target = url.join(location) if location else None
        except httpx.InvalidURL:
            target = None
        if target is None:
            raise HarnessError(f"{where}: API answered HTTP {response.status_code} without a usable Location")
        if origin(target) != origin(self.url) or target.userinfo:
            shown = f"{target.scheme}://{target.host}" + (f":{target.port}" if target.port else "")
            raise HarnessError(f"{where}: API answered HTTP {response.status_code} redirecting to another origin "
                               f"({shown}); refused, the key is sent only to api.base_url's origin (set "
                               f"api.base_url to the new address if you trust it)")
        return target


def _error_message(response: httpx.Response) -> str:
    try:
        data = json.loads(response.content.decode("utf-8", "replace"))
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        return str(message or data)[:300]
    except Exception:
        return (response.reason_phrase or "no message")[:300]


def _one_line(text: str, key: str) -> str:
    """A server-chosen text fit for our one-line error: no control characters, no newline, no key."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(_scrub(text, key).split())[:400]


def _scrub(text: str, key: str) -> str:
    """Servers echo keys back ("Incorrect API key provided: sk-..."): never let one through."""
    if key:
        text = text.replace(key, "***")
        for size in (16, 8):  # partial echoes, e.g. a key's first or last characters
            if len(key) > size:
                text = text.replace(key[:size], "***").replace(key[-size:], "***")
    return text
