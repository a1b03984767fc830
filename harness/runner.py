"""Run a plan: for each planned task, its protocol's load → encode → predict → score; then write all results."""

from __future__ import annotations

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
from harness.config import PlannedTask, RunPlan
from harness.data import DataSource
from harness.encoders.base import Encoder, build_encoder, resolve_device
from harness.encoders.matryoshka import MemoEncoder, TruncatedEncoder
from harness.encoders.model_files import check_remote_code
from harness.errors import HarnessError
from harness.families import FAMILIES
from harness.families.base import Context
from harness.hub import model_commit
from harness.prompts import ROLES, prompt_for
from harness.provenance import git_revision, library_versions, scrub
from harness.results import TaskResult, write_results
from harness.runinfo import RunInfo, read_run_info

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
    if out.is_dir() and not plan.overwrite:
        try:
            other = read_run_info(out)
        except HarnessError:
            other = None  # an unreadable run.json names no model: nothing to protect
        mine = {"name": plan.encoder.name, "path": plan.encoder.path}
        if other is not None and other.model and {k: other.model.get(k) for k in mine} != mine:
            raise HarnessError(f"{out / 'run.json'}: output_dir holds results of model {other.model.get('name')} "
                               f"({other.model.get('path')}); choose another output_dir or pass overwrite=true")
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


def run(plan: RunPlan, encoder: Encoder | None = None, data: DataSource | None = None) -> list[TaskResult]:
    """Run `plan`. `encoder`: a ready encoder (an in-memory model, harness.api) instead of one built from
    plan.encoder; `data`: a data source that already holds the task data (the trainer evaluator's)."""
    _check_output_dir(plan)
    if encoder is not None:
        seed_everything(plan.seed)
        return _run(plan, encoder, data)
    local = Path(plan.encoder.path).expanduser()
    if local.is_dir():  # checked before any library sees the model, so a refused model executes nothing
        check_remote_code(local, plan.encoder)
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


def context(plan: RunPlan, task: PlannedTask, data: DataSource, encoder: Encoder) -> Context:
    """What the task's protocol function runs with: its prompts bound, the run's seed, device and storage."""
    return Context(data=data, encoder=encoder, prompts=lambda role: prompt_for(plan.encoder.prompts, task.spec,
                                                                                task.protocol, role),
                   label=task.key, seed=plan.seed, device=plan.device, storage_dtype=plan.storage_dtype)


def _evaluate(plan: RunPlan, task: PlannedTask, ctx: Context) -> TaskResult:
    outcome = FAMILIES[task.spec.family].run(task.spec, task.protocol, task.params, ctx)
    return TaskResult(task=task.key, category=task.spec.category, family=task.spec.family, protocol=task.protocol,
                      metric_name=outcome.metric_name, metric_value=float(outcome.metric_value),
                      details=outcome.details, provenance=scrub(_provenance(plan, task, ctx.data)))


def _run(plan: RunPlan, encoder: Encoder, data: DataSource | None = None) -> list[TaskResult]:
    cache = CachedEncoder(encoder, plan.cache_dir, chunk=plan.cache_chunk) if plan.cache_dir is not None else None
    encoder = cache or encoder
    dims = plan.encoder.truncate_dims
    memo = MemoEncoder(encoder) if dims else None  # Matryoshka: every truncation reuses the task's encodes
    encoder = memo or encoder
    per_dim: dict[int, list[TaskResult]] = {dim: [] for dim in dims}
    data = data if data is not None else DataSource(plan.data_dir)
    started = datetime.now(timezone.utc)
    timings, results = {}, []
    for task in plan.tasks:
        log.info("task %s (%s, protocol %s)", task.key, task.spec.family, task.protocol)
        t0 = time.perf_counter()
        result = _evaluate(plan, task, context(plan, task, data, encoder))
        timings[task.key] = round(time.perf_counter() - t0, 3)
        results.append(result)
        print(f"{task.key}: {result.metric_name} = {result.metric_value:.6f}", flush=True)
        for dim in dims:
            small = _evaluate(plan, task, context(plan, task, data, TruncatedEncoder(encoder, dim)))
            small.provenance["model"]["truncate_dim"] = dim
            per_dim[dim].append(small)
            print(f"{task.key} @ dim {dim}: {small.metric_name} = {small.metric_value:.6f}", flush=True)
        if memo is not None:
            memo.clear()
    stats = cache.stats if cache is not None else None
    run_info = RunInfo(
        model={"name": plan.encoder.name, "path": plan.encoder.path}, suite=plan.suite,
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"), seconds_per_task=timings,
        cache=None if stats is None else {"dir": str(plan.cache_dir), "hit_texts": stats.hits,
                                          "miss_texts": stats.misses, "corrupt_entries": stats.corrupt,
                                          "encode_seconds": round(stats.encode_seconds, 3),
                                          "embed_seconds": round(stats.embed_seconds, 3)})
    run_info = RunInfo(**scrub(run_info.to_json()))
    try:
        write_results(plan.output_dir, results, run_info)
        if plan.aggregate:
            from harness.aggregate import AGGREGATORS

            filename, aggregate = AGGREGATORS[plan.aggregate]
            names = [(getattr(t.params, "name", None) or t.key, r) for t, r in zip(plan.tasks, results)]
            write_json(plan.output_dir / filename, aggregate(names))
        for dim, dim_results in per_dim.items():
            write_results(plan.output_dir / f"dim{dim}", dim_results, replace(run_info, truncate_dim=dim))
    except OSError as exc:  # disk full, permissions changed mid-run: atomic writes left no partial file
        raise HarnessError(f"field 'output_dir': cannot write results to {plan.output_dir} "
                           f"({exc.strerror or exc})") from None
    if stats is not None:
        print(f"embedding cache: {stats.hits} texts from cache, {stats.misses} encoded "
              f"({stats.encode_seconds:.1f} s encoding, {stats.embed_seconds:.1f} s getting embeddings)", flush=True)
    print(f"results written to {plan.output_dir}", flush=True)
    return results


def _provenance(plan: RunPlan, task: PlannedTask, data: DataSource) -> dict:
    cfg = plan.encoder
    prompts = {role: prompt_for(cfg.prompts, task.spec, task.protocol, role) for role in ROLES}
    return {
        "model": {"name": cfg.name, "path": cfg.path, "revision": cfg.revision,
                  "resolved": model_commit(cfg.path, cfg.revision), "backend": cfg.backend,
                  "pooling": cfg.pooling, "normalize": cfg.normalize, "max_length": cfg.max_length,
                  "dtype": cfg.dtype, "similarity": cfg.similarity, "trust_remote_code": cfg.trust_remote_code,
                  **({"st_config": cfg.st_config} if cfg.st_config else {})},
        "prompts": prompts,
        "dataset": {"task_file": str(Path(task.spec.file).name), "hub": task.spec.hub,
                    "parts": data.provenance.get(task.spec.name, {}),
                    # a gap of the local mirror the suite declares: {role: the role whose data stood in}
                    **({"split_substitutes": task.split_substitutes} if task.split_substitutes else {})},
        "protocol": {"name": task.protocol, "params": task.params.as_dict()},
        "seed": plan.seed,
        "device": resolve_device(plan.device),
        "versions": library_versions(),
        "harness_git_revision": git_revision(),
    }
