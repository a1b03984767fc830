"""Prompt selection: which literal prefix a model puts before a text, for (model, suite, protocol, task, side).

A model config's `prompts` holds named profiles, each a flat mapping of prompt keys; a flat `prompts` (no
mapping values) is the one profile `default`. A task's profile is the first that exists of:

    the suite's profile (suite field `prompt_profile`, default the suite's name; only for tasks run under the
    suite's own protocol: it names what the suite's published runs used) -> the protocol's name -> `default`

so one model config reproduces JMTEB v1 (e5: no prefixes) and v2 (e5: "query: ") and MTEB's registry alike.
An empty profile (`{}`) means: nothing from the harness; the model's own behaviour applies.

Keys within a profile say where a prompt applies, most specific first (MTEB's model-prompt precedence):
    "<task>-<role>", "<task>", "<Category>-<role>", "<Category>", "<role>"
with role = query | document; single-text tasks (STS both sentences, pair classification, classification,
clustering) encode their texts as queries.

How a protocol applies the profile is written once per protocol, in PROTOCOL_PROMPTS:
- `jmteb` (and `card`): JMTEB's embedder puts the configured prefix of each side before the text
  (`SentenceTransformer.encode(prompt=prefix)`); nothing configured = None = the model's default prompt, if
  its config names one (JMTEB 1.3.3/1.4.0 evaluators' `prefix` / `query_prefix` / `doc_prefix` arguments).
- `mteb`: prompts by MTEB's prompt types. Retrieval and reranking encode with prompt type query/document
  (mteb/models/search_wrappers.py); STS, pair classification, classification and clustering with none
  (abstasks/sts.py, pair_classification.py, classification.py, clustering.py), so only `<task>` and
  `<Category>` keys reach them and a query/document-only profile applies nothing (mteb abs_encoder
  `get_prompt_name`). A typed side the profile does not cover gets what `encode_query` / `encode_document`
  give: the model's own prompt when the profile is empty (MTEB then uses the model's built-in prompts), else ""
  (registry prompts replace the built-in ones).
- `nanobeir`: sentence-transformers' InformationRetrievalEvaluator (NanoBEIREvaluator without
  query_prompts/corpus_prompts) calls `encode_query` / `encode_document`: the model's own `query` prompt and
  the first of its `document`, `passage`, `corpus` prompts (sentence-transformers >= 5; its config always
  holds "query" and "document", "" when unset). A profile's prompt for a side overrides it, as the
  evaluator's query_prompts / corpus_prompts would.

"The model's own prompts" come from its config_sentence_transformers.json (harness.encoders.base.model_prompts);
they are read only when a protocol needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from harness.encoders.base import ST_DEFAULT_PROMPTS, Encoder, Side, model_prompts
from harness.errors import HarnessError
from harness.spec import CATEGORIES, TaskSpec

ROLES = ("query", "document")
DEFAULT_PROFILE = "default"

# encode_document's candidates, in sentence-transformers' order.
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")

# The sides a task type encodes: retrieval and reranking have two; every other type encodes its texts (both
# sentences of an STS or pair-classification pair included) as queries.
TWO_SIDED = ("Retrieval", "Reranking")
# Task types MTEB encodes with a prompt type (query / document): the two-sided ones; every other type gets none.
MTEB_TYPED = TWO_SIDED


def task_roles(category: str) -> tuple[str, ...]:
    return ROLES if category in TWO_SIDED else ("query",)


Profile = Mapping[str, str]
OwnPrompts = Callable[[], Mapping[str, str]]  # the model's own prompts, read when first needed


def resolve_prompt(prompts: Profile, task: str, category: str, role: str, typed: bool = True) -> str | None:
    """The first key of `prompts` that applies; `typed=False` (no prompt type, as MTEB's single-text tasks)
    consults only `<task>` and `<Category>`."""
    keys = (f"{task}-{role}", task, f"{category}-{role}", category, role) if typed else (task, category)
    for key in keys:
        if key in prompts:
            return prompts[key]
    return None


def profiles(prompts: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """A model's `prompts` as named profiles: flat prompt keys are the one profile `default`."""
    if any(isinstance(value, Mapping) for value in prompts.values()):
        return {name: dict(profile or {}) for name, profile in prompts.items()}
    return {DEFAULT_PROFILE: dict(prompts)} if prompts else {}


def profile_order(protocol: str, suite_profile: str | None = None) -> tuple[str, ...]:
    return (*((suite_profile,) if suite_profile else ()), protocol, DEFAULT_PROFILE)


def select_profile(prompts: Mapping[str, Any], protocol: str,
                   suite_profile: str | None = None) -> tuple[str | None, dict[str, str]]:
    """(name, prompts) of the profile a task uses; (None, {}) when the model has none that applies."""
    table = profiles(prompts)
    for name in profile_order(protocol, suite_profile):
        if name in table:
            return name, table[name]
    return None, {}


def st_prompt(own: Mapping[str, str], role: str) -> str:
    """What sentence-transformers' encode_query / encode_document put before a text without an explicit
    prompt: `query`, or the first of `document`, `passage`, `corpus` (the config always has `document`)."""
    names = ("query",) if role == "query" else DOCUMENT_PROMPT_NAMES
    return next((own[name] for name in names if name in own), "")


def _as_configured(profile: Profile, task: TaskSpec, role: str, own: OwnPrompts) -> str | None:
    return resolve_prompt(profile, task.name, task.category, role)


def _mteb(profile: Profile, task: TaskSpec, role: str, own: OwnPrompts) -> str | None:
    typed = task.category in MTEB_TYPED
    found = resolve_prompt(profile, task.name, task.category, role, typed=typed)
    if found is not None or not typed:
        return found
    return st_prompt(own(), role) if not profile else ""


def _nanobeir(profile: Profile, task: TaskSpec, role: str, own: OwnPrompts) -> str | None:
    found = resolve_prompt(profile, task.name, task.category, role)
    return found if found is not None else st_prompt(own(), role)


# protocol -> how it applies a profile (tests/core/test_prompts.py checks every protocol has one)
PROTOCOL_PROMPTS: dict[str, Callable[[Profile, TaskSpec, str, OwnPrompts], str | None]] = {
    "jmteb": _as_configured, "card": _as_configured, "mteb": _mteb, "nanobeir": _nanobeir}


def _no_own_prompts() -> Mapping[str, str]:
    return ST_DEFAULT_PROMPTS


def prompt_for(prompts: Mapping[str, Any], task: TaskSpec, protocol: str, role: str, *,
               suite_profile: str | None = None, own: OwnPrompts = _no_own_prompts) -> str | None:
    """The prompt of one side of a planned task. Keys name the task itself (`scifact-query`), never a suite's
    result key (`scifact_nanobeir`): a `task@protocol` entry is the same task under another protocol."""
    _, profile = select_profile(prompts, protocol, suite_profile)
    return PROTOCOL_PROMPTS[protocol](profile, task, role, own)


def side_for(encoder: Encoder, task: TaskSpec, protocol: str | None, role: str,
             suite_profile: str | None = None) -> Side:
    prompt = prompt_for(encoder.config.prompts, task, protocol or task.default_protocol, role,
                        suite_profile=suite_profile, own=lambda: model_prompts(encoder))
    return Side(task=task.name, role=role, prompt=prompt)


def encode_for(encoder: Encoder, texts: list[str], *, role: str, task: TaskSpec, protocol: str | None = None,
               suite_profile: str | None = None) -> np.ndarray:
    """Embed `texts` as one side of `task` outside a run (scripts, tests), with the prompt a run would use."""
    return encoder.encode(texts, side_for(encoder, task, protocol, role, suite_profile))


def check_prompt_keys(prompts: Mapping[str, object], task_names: list[str], file: str,
                      profile_names: tuple[str, ...] | None = None) -> None:
    """Reject what can never apply: a mistyped key would silently drop the prompt and move the scores, a
    mistyped profile name would silently fall back to another profile. Profiles are all mappings or none."""
    nested = [key for key, value in prompts.items() if isinstance(value, Mapping)]
    if not nested:
        _check_keys(prompts, task_names, file, "prompts")
        return
    flat = next((key for key in prompts if key not in nested and prompts[key] is not None), None)
    if flat is not None:
        raise HarnessError(f"{file}: field 'prompts.{flat}': prompts are either prompt keys or named profiles "
                           f"(each a mapping), not both")
    for name, profile in prompts.items():
        if profile_names is not None and name not in profile_names:
            raise HarnessError(f"{file}: field 'prompts.{name}': unknown prompt profile; valid: "
                               f"{', '.join(profile_names)}")
        _check_keys(profile or {}, task_names, file, f"prompts.{name}")


def _check_keys(prompts: Mapping[str, object], task_names: list[str], file: str, field: str) -> None:
    scopes = set(CATEGORIES) | set(task_names)
    for key, value in prompts.items():
        if not isinstance(value, str):
            raise HarnessError(f"{file}: field '{field}.{key}' must be a string, got {type(value).__name__}")
        if key in ROLES or key in scopes:
            continue
        scope, _, role = key.rpartition("-")
        if role in ROLES and scope in scopes:
            continue
        raise HarnessError(f"{file}: field '{field}.{key}': unknown task type or task; valid scopes: "
                           f"{', '.join(ROLES)}, {', '.join(CATEGORIES)}, a task name, each optionally "
                           f"suffixed -query/-document")
