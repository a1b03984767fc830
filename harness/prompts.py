"""Prompt selection: which literal prefix a model puts before a text.

A model config's `prompts` is a flat mapping whose keys say where a prompt applies, most specific first:
    "<task>-<role>", "<task>", "<Category>-<role>", "<Category>", "<role>"
with role = query | document (symmetric tasks such as STS, classification and clustering encode every text
as a query). The same precedence as MTEB's model prompts, so profiles carry over between the two tools.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from harness.encoders.base import Encoder, Side
from harness.errors import HarnessError
from harness.spec import CATEGORIES, TaskSpec

ROLES = ("query", "document")


def resolve_prompt(prompts: Mapping[str, str], task: str, category: str, role: str) -> str | None:
    for key in (f"{task}-{role}", task, f"{category}-{role}", category, role):
        if key in prompts:
            return prompts[key]
    return None


def prompt_for(prompts: Mapping[str, str], task: TaskSpec, protocol: str, role: str) -> str | None:
    """The prompt of one side of a planned task. Keys name the task itself (`scifact-query`), never a suite's
    result key (`scifact_nanobeir`): a `task@protocol` entry is the same task under another protocol."""
    return resolve_prompt(prompts, task.name, task.category, role)


def side_for(prompts: Mapping[str, str], task: TaskSpec, protocol: str | None, role: str) -> Side:
    return Side(task=task.name, role=role, prompt=prompt_for(prompts, task, protocol or task.default_protocol, role))


def encode_for(encoder: Encoder, texts: list[str], *, role: str, task: TaskSpec,
               protocol: str | None = None) -> np.ndarray:
    """Embed `texts` as one side of `task` outside a run (scripts, tests), with the prompt a run would use."""
    return encoder.encode(texts, side_for(encoder.config.prompts, task, protocol, role))


def check_prompt_keys(prompts: Mapping[str, object], task_names: list[str], file: str) -> None:
    """Reject keys that can never match (a typo would silently drop the prompt and move the scores)."""
    scopes = set(CATEGORIES) | set(task_names)
    for key, value in prompts.items():
        if not isinstance(value, str):
            raise HarnessError(f"{file}: field 'prompts.{key}' must be a string, got {type(value).__name__}")
        if key in ROLES or key in scopes:
            continue
        scope, _, role = key.rpartition("-")
        if role in ROLES and scope in scopes:
            continue
        raise HarnessError(f"{file}: field 'prompts.{key}': unknown task type or task; valid scopes: "
                           f"{', '.join(ROLES)}, {', '.join(CATEGORIES)}, a task name, each optionally "
                           f"suffixed -query/-document")
