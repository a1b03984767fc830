"""OpenAI-compatible embeddings API (`POST {base_url}/embeddings`), as JMTEB's OpenAIEmbedder calls it.

JMTEB sends each text as cl100k_base token ids cut at 8,191 tokens, replaces an empty text with " ", ignores
prefixes, and asks 3-small/3-large for their full `dimensions`. With `api.tokenizer: cl100k_base` (needs
`tiktoken` and its encoding file) we do the same; with `api.tokenizer: null` texts are sent as strings and
their UTF-8 byte count, an upper bound on any BPE token count, sizes the requests.

Requests hold at most `max_inputs_per_request` texts and `max_tokens_per_request` tokens; 429 and 5xx answers
and network errors are retried with exponential backoff (`Retry-After` honoured). The key is read from the
environment variable named by `api.key_env` and is scrubbed from every message we raise or log.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.encoders.base import EncoderConfig, Side, check_embeddings
from harness.errors import HarnessError
from harness.schema import check_fields

log = logging.getLogger(__name__)

API_FIELDS = {
    "base_url": (str, False), "key_env": (str, False), "dimensions": (int, False), "tokenizer": (str, False),
    "max_tokens_per_text": (int, False), "max_tokens_per_request": (int, False),
    "max_inputs_per_request": (int, False), "max_retries": (int, False), "backoff_seconds": (float, False),
    "timeout_seconds": (float, False),
}
DEFAULTS = {"base_url": "https://api.openai.com/v1", "key_env": "OPENAI_API_KEY", "dimensions": None,
            "tokenizer": None, "max_tokens_per_text": 8191, "max_tokens_per_request": 300_000,
            "max_inputs_per_request": 2048, "max_retries": 6, "backoff_seconds": 1.0, "timeout_seconds": 120.0}
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


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


class OpenAIEncoder:
    def __init__(self, config: EncoderConfig):
        self.config = config
        self.api = {**DEFAULTS, **check_fields(dict(config.api), API_FIELDS, f"model {config.name}", "api.")}
        self.sleep: Callable[[float], None] = time.sleep  # tests replace it
        self._encoding = None
        self._key()  # a missing key stops the run at start, before any data is loaded

    def _key(self) -> str:
        key = os.environ.get(self.api["key_env"], "")
        if not key:
            raise HarnessError(f"model {self.config.name}: field 'api.key_env': environment variable "
                               f"{self.api['key_env']} is not set")
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
                    raise HarnessError(f"model {self.config.name}: field 'api.tokenizer': cannot load "
                                       f"{self.api['tokenizer']!r} ({type(exc).__name__}); pip install tiktoken "
                                       f"with network access once") from None
            ids = [self._encoding.encode(t)[:limit] for t in texts]
            return ids, [len(i) for i in ids]
        costs = [len(t.encode("utf-8")) for t in texts]
        too_long = [i for i, c in enumerate(costs) if c > limit]
        if too_long:
            raise HarnessError(f"model {self.config.name}: text {too_long[0]} may exceed {limit} tokens and "
                               f"api.tokenizer is null, so it cannot be truncated as JMTEB does; set "
                               f"api.tokenizer: cl100k_base")
        return texts, costs

    def encode(self, texts: list[str], side: Side) -> np.ndarray:
        # A prompt is sent as text before each input. The card models' configs set none: JMTEB's OpenAI
        # embedder ignores prefixes.
        key = self._key()
        inputs, costs = self._inputs([(side.prompt or "") + t for t in texts])
        parts = []
        for batch in plan_requests(costs, self.api["max_inputs_per_request"], self.api["max_tokens_per_request"]):
            parts.append(self._request([inputs[i] for i in batch], key))
        array = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        return check_embeddings(array, len(texts), f"model {self.config.name} on task {side.task}")

    def _request(self, inputs: list[Any], key: str) -> np.ndarray:
        body = {"model": self.config.path, "input": inputs}
        if self.api["dimensions"]:
            body["dimensions"] = self.api["dimensions"]
        request = urllib.request.Request(
            self.api["base_url"].rstrip("/") + "/embeddings", data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"}, method="POST")
        for attempt in range(self.api["max_retries"] + 1):
            wait = self.api["backoff_seconds"] * 2 ** attempt
            try:
                with urllib.request.urlopen(request, timeout=self.api["timeout_seconds"]) as response:
                    data = json.loads(response.read().decode("utf-8"))
                rows = sorted(data["data"], key=lambda row: row["index"])
                if len(rows) != len(inputs):
                    raise HarnessError(f"model {self.config.name}: API returned {len(rows)} embeddings for "
                                       f"{len(inputs)} inputs")
                return np.asarray([row["embedding"] for row in rows], dtype=np.float32)
            except urllib.error.HTTPError as exc:
                message = _scrub(_error_message(exc), key)
                if exc.code not in RETRY_STATUS:
                    raise HarnessError(f"model {self.config.name}: API answered HTTP {exc.code}: {message}") from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait = float(retry_after)
                problem = f"HTTP {exc.code}: {message}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                problem = _scrub(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", key)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise HarnessError(f"model {self.config.name}: malformed API answer ({type(exc).__name__})") from None
            if attempt < self.api["max_retries"]:
                log.warning("model %s: %s; retry %d in %.1fs", self.config.name, problem, attempt + 1, wait)
                self.sleep(wait)
        raise HarnessError(f"model {self.config.name}: API still failing after {self.api['max_retries']} "
                           f"retries ({problem})")


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read().decode("utf-8", "replace"))
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error")
        return str(message or data)[:300]
    except Exception:
        return str(exc.reason)[:300]


def _scrub(text: str, key: str) -> str:
    """Servers echo keys back ("Incorrect API key provided: sk-..."): never let one through."""
    if key:
        text = text.replace(key, "***")
        for size in (16, 8):  # partial echoes, e.g. a key's first or last characters
            if len(key) > size:
                text = text.replace(key[:size], "***").replace(key[-size:], "***")
    return text
