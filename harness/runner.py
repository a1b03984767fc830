"""Run a plan: for each task, its family's load → encode → predict → score; then write all results."""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from harness import distributed
from harness.atomic import write_json
from harness.cache import CachedEncoder
from harness.config import RunPlan
from harness.data import DataSource
from harness.encoders.base import build_encoder, resolve_device
from harness.encoders.matryoshka import MemoEncoder, TruncatedEncoder
from harness.errors import HarnessError
from harness.families import FAMILIES
from harness.families.base import Context
from harness.hub import model_commit
from harness.provenance import git_revision, library_versions, scrub
from harness.results import TaskResult, write_results

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)


def _check_output_dir(plan: RunPlan) -> None:
    """Refuse to mix two models' results in one directory (a leaderboard would read them as one run)."""
    out = plan.output_dir
    if out.exists() and not out.is_dir():
        raise HarnessError(f"field 'output_dir': {out} is a file")
    previous = out / "run.json"
    if previous.is_file() and not plan.overwrite:
        try:
            other = json.loads(previous.read_text(encoding="utf-8")).get("model", {})
        except (json.JSONDecodeError, UnicodeDecodeError):
            other = {}
        mine = {"name": plan.encoder.name, "path": plan.encoder.path}
        if other and {k: other.get(k) for k in mine} != mine:
            raise HarnessError(f"{previous}: output_dir holds results of model {other.get('name')} "
                               f"({other.get('path')}); choose another output_dir or pass overwrite=true")
    probe = out
    while not probe.exists():
        probe = probe.parent
    # Probe with a real file (os.access says yes to root on a read-only mount); nothing is created below
    # the first existing ancestor, so a failed run leaves no empty output directory behind.
    if not probe.is_dir():
        raise HarnessError(f"field 'output_dir': {out} cannot be created: {probe} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise HarnessError(f"field 'output_dir': {out} is not writable ({exc.strerror})") from None


def _quiet_progress_bars() -> None:
    """encode.show_progress=false silences the libraries' own bars too (model loading), so stderr holds
    only warnings and errors."""
    try:
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils.logging import disable_progress_bar

        disable_progress_bars()
        disable_progress_bar()
    except ImportError:
        pass


def _check_remote_code(plan: RunPlan) -> None:
    """Code shipped inside a local model directory runs only when the model config says trust_remote_code.

    Checked before any library sees the model, so a refused model executes nothing. (Hub ids are refused by
    the loading library itself, which the backend turns into one line.)
    """
    if plan.encoder.trust_remote_code:
        return
    root = Path(plan.encoder.path).expanduser()
    if not root.is_dir():
        return
    for file in [*root.glob("config.json"), *root.glob("*/config.json"), root / "modules.json"]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # absent or unreadable: the loader reports it
        if file.name == "config.json" and isinstance(data, dict) and data.get("auto_map"):
            custom = f"field 'auto_map' ({', '.join(sorted(map(str, data['auto_map'].values())))})"
        elif file.name == "modules.json" and isinstance(data, list):
            types = [str(m.get("type")) for m in data if isinstance(m, dict)
                     and not str(m.get("type", "")).startswith("sentence_transformers.")]
            custom = f"field 'type' ({', '.join(types)})" if types else None
        else:
            custom = None
        if custom:
            raise HarnessError(f"{file}: {custom} is custom code, and {plan.model_file} has trust_remote_code: "
                               f"false; set model.trust_remote_code=true only for a model you trust")


def run(plan: RunPlan) -> list[TaskResult]:
    _check_output_dir(plan)
    _check_remote_code(plan)
    seed_everything(plan.seed)
    if not plan.encoder.show_progress:
        _quiet_progress_bars()
    if not distributed.launched():
        return _run(plan, build_encoder(plan.encoder))
    # torchrun: rank 0 runs the plan; the other ranks only encode shards for it
    ranks = distributed.DistributedEncoder.build(plan.encoder)
    if not ranks.is_main:
        ranks.serve()
        return []
    try:
        return _run(plan, ranks)
    finally:
        # Release the ranks and leave the group now, not from atexit: tearing gloo down during interpreter
        # shutdown could abort rank 0 ("terminate called without an active exception") after its results.
        ranks.close()


def _run(plan: RunPlan, encoder) -> list[TaskResult]:
    if plan.cache_dir is not None:
        encoder = CachedEncoder(encoder, plan.cache_dir, chunk=plan.cache_chunk)
    dims = plan.encoder.truncate_dims
    if dims:  # Matryoshka: every truncation reuses the full-size encodes of the task
        encoder = MemoEncoder(encoder)
    per_dim: dict[int, list[TaskResult]] = {dim: [] for dim in dims}
    data = DataSource(plan.data_dir)
    ctx = Context(data=data, encoder=encoder, seed=plan.seed, device=plan.device)
    ctx.notes["storage_dtype"] = plan.storage_dtype
    started = datetime.now(timezone.utc)
    timings, results = {}, []
    for task, protocol, params in plan.tasks:
        log.info("task %s (%s, protocol %s)", task.name, task.family, protocol)
        t0 = time.perf_counter()
        outcome = FAMILIES[task.family].evaluate(task, params, ctx)
        timings[task.name] = round(time.perf_counter() - t0, 3)
        results.append(TaskResult(
            task=task.name, category=task.category, family=task.family, protocol=protocol,
            metric_name=outcome.metric_name, metric_value=float(outcome.metric_value), details=outcome.details,
            provenance=scrub(_provenance(plan, task, protocol, params, encoder, data)),
        ))
        print(f"{task.name}: {outcome.metric_name} = {outcome.metric_value:.6f}", flush=True)
        for dim in dims:
            cut = Context(data=data, encoder=TruncatedEncoder(encoder, dim), seed=plan.seed, device=plan.device,
                          notes=ctx.notes)  # storage_dtype (streamed corpora) applies to every truncation
            small = FAMILIES[task.family].evaluate(task, params, cut)
            provenance = scrub(_provenance(plan, task, protocol, params, encoder, data))
            provenance["model"]["truncate_dim"] = dim
            per_dim[dim].append(replace(results[-1], metric_name=small.metric_name,
                                        metric_value=float(small.metric_value), details=small.details,
                                        provenance=provenance))
            print(f"{task.name} @ dim {dim}: {small.metric_name} = {small.metric_value:.6f}", flush=True)
        if dims:
            encoder.clear()
    stats = getattr(encoder, "stats", None)
    run_info = {
        "model": {"name": plan.encoder.name, "path": plan.encoder.path}, "suite": plan.suite,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds_per_task": timings,
        "cache": None if stats is None else {"dir": str(plan.cache_dir), "hit_texts": stats.hits,
                                             "miss_texts": stats.misses, "corrupt_entries": stats.corrupt,
                                             "encode_seconds": round(stats.encode_seconds, 3),
                                             "embed_seconds": round(stats.embed_seconds, 3)},
    }
    try:
        write_results(plan.output_dir, results, scrub(run_info))
    except OSError as exc:  # disk full, permissions changed mid-run: atomic writes left no partial file
        raise HarnessError(f"field 'output_dir': cannot write results to {plan.output_dir} "
                           f"({exc.strerror or exc})") from None
    if plan.aggregate:
        from harness.aggregate import AGGREGATORS

        filename, aggregate = AGGREGATORS[plan.aggregate]
        write_json(plan.output_dir / filename, aggregate(results))
    for dim, dim_results in per_dim.items():
        write_results(plan.output_dir / f"dim{dim}", dim_results, {**run_info, "truncate_dim": dim})
    if stats is not None:
        print(f"embedding cache: {stats.hits} texts from cache, {stats.misses} encoded "
              f"({stats.encode_seconds:.1f} s encoding, {stats.embed_seconds:.1f} s getting embeddings)", flush=True)
    print(f"results written to {plan.output_dir}", flush=True)
    return results


def _provenance(plan: RunPlan, task, protocol, params, encoder, data: DataSource) -> dict:
    cfg = plan.encoder
    prompts = {role: encoder.prompt_for(role, task) for role in ("query", "document")}
    return {
        "model": {"name": cfg.name, "path": cfg.path, "revision": cfg.revision,
                  "resolved": model_commit(cfg.path, cfg.revision), "backend": cfg.backend,
                  "pooling": cfg.pooling, "normalize": cfg.normalize, "max_length": cfg.max_length,
                  "dtype": cfg.dtype, "similarity": cfg.similarity, "trust_remote_code": cfg.trust_remote_code},
        "prompts": prompts,
        "dataset": {"task_file": str(Path(task.file).name), "hub": task.hub,
                    "parts": data.provenance.get(task.name, {})},
        "protocol": {"name": protocol, "params": params},
        "seed": plan.seed,
        "device": resolve_device(plan.device),
        "versions": library_versions(),
        "harness_git_revision": git_revision(),
    }
