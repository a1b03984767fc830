"""Run identity: what a result set is the result of, so that two different runs never share a directory, a
leaderboard row or a plot series without saying so.

The identity is everything that changes a score except the machine it ran on: the model's name and the content of
its weights (harness.weights; a hub model's resolved commit too; path and revision only when the content
is unknown, as for an API model), every encode setting that changes a vector (backend, pooling, normalisation,
max length, dtype, autocast, attention, EOS, API vector settings, and the batch plan: batch size, batching and
token budget change padding and so the last bits), the model's prompts, the protocol(s), the suite, the seed, the
corpus storage dtype, and the Matryoshka dimension of a `dim<d>/` set. The device and the library versions are
not part of it (provenance records them): a run moved to another machine is the same run.

    identity_key  the first 12 hex digits of sha256 over the fields (sorted-key JSON)
    label         "<model> [<protocols>]" (+ " dim <d>"), readable; not unique on its own
    default output_dir   results/runs/<model>/<suite>/<protocols>-<identity_key>

run.json records all three (harness.runinfo); `distinct_labels` turns the labels of several runs into names that
differ, by appending the identity fields in which runs of one label differ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.config import RunPlan
    from harness.weights import Weights

KEY_LENGTH = 12


@dataclass(frozen=True)
class RunIdentity:
    fields: dict[str, Any]
    key: str
    label: str


def identity_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:KEY_LENGTH]


def protocols_of(plan: RunPlan) -> list[str]:
    return sorted({task.protocol for task in plan.tasks})


def run_identity(plan: RunPlan, weights: Weights | None, truncate_dim: int | None = None) -> RunIdentity:
    cfg = plan.encoder
    encoder = cfg.identity()
    known = weights is not None and weights.sha256 is not None
    path, revision = encoder.pop("path"), encoder.pop("revision")
    fields: dict[str, Any] = {
        "model": cfg.name,
        "weights": weights.sha256 if known else None,
        "commit": weights.commit if weights is not None else None,
        # content unknown (an API model, files not found): the name the files are reached by stands in for it
        "source": None if known else {"path": path, "revision": revision},
        "encoder": encoder,
        "batch_size": cfg.batch_size,
        "prompts": dict(sorted(cfg.prompts.items())),
        "protocols": protocols_of(plan),
        "suite": plan.suite,
        "seed": plan.seed,
        "storage_dtype": plan.storage_dtype,
        "truncate_dim": truncate_dim,
    }
    label = f"{cfg.name} [{'+'.join(fields['protocols'])}]" + (f" dim {truncate_dim}" if truncate_dim else "")
    return RunIdentity(fields, identity_key(fields), label)


def default_output_dir(plan: RunPlan, identity: RunIdentity) -> Path:
    from harness import paths  # read at call time: tests point RUNS_DIR elsewhere

    return paths.RUNS_DIR / plan.encoder.name / plan.suite / f"{'+'.join(identity.fields['protocols'])}-{identity.key}"


def _flat(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for name, value in fields.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:8]  # a sha256: its head is enough to tell runs apart
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def distinct_labels(runs: list[tuple[str, dict[str, Any] | None, str | None]]) -> list[str]:
    """One name per run from (label, identity fields, identity key): the label where it is unique, else the
    label followed by the fields in which the runs sharing it differ (e.g. "m [jmteb] (batch_size=16)"), else by
    the identity key; runs of one identity keep one name."""
    names = [label for label, _, _ in runs]
    for label in set(names):
        group = [i for i, (other, _, _) in enumerate(runs) if other == label]
        keys = {runs[i][2] for i in group}
        if len(keys) < 2:
            continue
        flat = {i: _flat(runs[i][1] or {}) for i in group}
        differing = sorted({k for i in group for k in flat[i]
                            if len({json.dumps(flat[j].get(k), sort_keys=True) for j in group}) > 1})
        for i in group:
            parts = [f"{k}={_shown(flat[i].get(k))}" for k in differing] if runs[i][1] else []
            names[i] = f"{label} ({', '.join(parts) or runs[i][2] or 'no identity'})"
        if len({names[i] for i in group}) < len(keys):  # fields alone do not tell them apart
            for i in group:
                names[i] = f"{label} ({runs[i][2] or 'no identity'})"
    return names
