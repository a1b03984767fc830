"""Run a plan: for each planned task, its protocol's load → encode → predict → score, its score file staged as
it finishes; then the run's result set replaces the previous one in one step (harness.resultset).

Bad input is refused before the model is loaded (harness.preflight: directories, model files, every task's
data), so nothing is encoded, cached or written for it. A task that still fails while it runs (a HarnessError:
an API that gives up, NaN embeddings) is marked missing and the others still run: the set is published with the
finished tasks and `_missing` in summary.json, and the run exits 2 with one error line per failed task. A task
the previous set already holds, computed exactly as this run would, is kept (harness.resume)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import numpy as np

from harness import distributed
from harness.atomic import write_json
from harness.cache import CachedEncoder
from harness.config import PlannedTask, RunPlan
from harness.data import DataSource
from harness.encoders.base import Encoder, build_encoder, model_prompts, resolve_device
from harness.encoders.matryoshka import MemoEncoder, TruncatedEncoder
from harness.encoders.model_files import check_remote_code
from harness.errors import HarnessError
from harness.families import FAMILIES
from harness.families.base import Context
from harness.hub import model_commit
from harness.identity import RunIdentity, default_output_dir, run_identity
from harness.preflight import check_data, check_model_files, check_writable_dir
from harness.progress import SuiteProgress, scored_table
from harness.prompts import prompt_for, select_profile, task_roles
from harness.provenance import git_revision, library_versions, scrub
from harness.results import TaskResult, read_score, write_score
from harness.resultset import Staging
from harness.resume import Previous, check_directory
from harness.runinfo import RunInfo, write_run_info
from harness.summary import summary_of, write_summary
from harness.weights import Weights, WeightsIndex, model_weights

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)


def _check_output_dir(out: Path, plan: RunPlan) -> None:
    """Before the model is loaded: the directory may be replaced by this run (harness.resume), and a staging
    directory can be created beside it (nothing is created yet: a failed run leaves no empty directory)."""
    check_directory(out, plan.encoder.name, plan.overwrite)
    check_writable_dir(out.parent, "output_dir", out)


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
    # Everything the run will use is checked before the model is loaded and anything is encoded
    # (harness.preflight): the directories it writes, the model files, every task's data.
    if plan.output_dir is not None:
        _check_output_dir(plan.output_dir, plan)
    else:  # the default directory is named by the run identity (the weights' hash, known later): its parent
        from harness import paths

        runs = paths.RUNS_DIR / plan.encoder.name / plan.suite
        check_writable_dir(runs, "output_dir", runs)
    if plan.cache_dir is not None:
        check_writable_dir(plan.cache_dir, "cache_dir")
    data = data if data is not None else DataSource(plan.data_dir)
    if encoder is not None:
        check_data(plan, data)
        seed_everything(plan.seed)
        return _run(plan, encoder, data)
    local = Path(plan.encoder.path).expanduser()
    check_model_files(plan.encoder)
    if local.is_dir():  # checked before any library sees the model, so a refused model executes nothing
        check_remote_code(local, plan.encoder)
    check_data(plan, data)
    seed_everything(plan.seed)
    if not plan.encoder.show_progress:
        _quiet_progress_bars()
    if not distributed.launched():
        return _run(plan, build_encoder(plan.encoder), data)
    # torchrun: rank 0 runs the plan; the other ranks only encode shards for it
    ranks = distributed.DistributedEncoder.build(plan.encoder)
    if not ranks.is_main:
        ranks.serve()
        return []
    try:
        return _run(plan, ranks, data)
    finally:
        # Release the ranks and leave the group now, not from atexit: tearing gloo down during interpreter
        # shutdown could abort rank 0 ("terminate called without an active exception") after its results.
        ranks.close()


def own_prompts_once(encoder: Encoder) -> Callable[[], dict[str, str]]:
    """The model's own prompts, read when a protocol first needs them and then kept for the whole run: one read
    (for a hub model, a resolution) per run, and every task's provenance and encodes see the same strings."""
    return cache(lambda: model_prompts(encoder))


def prompts_of(plan: RunPlan, task: PlannedTask,
               own: Callable[[], dict[str, str]]) -> Callable[[str], str | None]:
    """role -> the prompt of the task's side: the model's profile for the suite and protocol, applied as the
    protocol does (harness.prompts)."""
    return lambda role: prompt_for(plan.encoder.prompts, task.spec, task.protocol, role,
                                   suite_profile=task.prompt_profile, own=own)


def context(plan: RunPlan, task: PlannedTask, data: DataSource, encoder: Encoder,
            prompts: Callable[[str], str | None]) -> Context:
    """What the task's protocol function runs with: its prompts bound, the run's seed, device and storage."""
    return Context(data=data, encoder=encoder, prompts=prompts, label=task.key, seed=plan.seed, device=plan.device,
                   storage_dtype=plan.storage_dtype)


def _evaluate(plan: RunPlan, task: PlannedTask, ctx: Context, provenance: dict) -> TaskResult:
    outcome = FAMILIES[task.spec.family].run(task.spec, task.protocol, task.params, ctx)
    provenance = scrub(_provenance_with_data(provenance, task, ctx.data))
    return TaskResult(task=task.key, category=task.spec.category, family=task.spec.family, protocol=task.protocol,
                      metric_name=outcome.metric_name, metric_value=float(outcome.metric_value),
                      details=outcome.details, provenance=provenance)


@dataclass
class _Set:
    """One result set of the run (the full vectors, or a Matryoshka dimension) as it is being built."""

    subdir: str  # "" or "dim<d>"
    identity: RunIdentity
    results: dict[str, TaskResult] = field(default_factory=dict)  # planned tasks, in plan order


def _run(plan: RunPlan, encoder: Encoder, data: DataSource) -> list[TaskResult]:
    index = WeightsIndex(plan.cache_dir)
    weights = model_weights(plan.encoder, index)  # once per run: keys the cache, names the run
    identity = run_identity(plan, weights)
    output_dir = plan.output_dir if plan.output_dir is not None else default_output_dir(plan, identity)
    if plan.output_dir is None:
        _check_output_dir(output_dir, plan)
    previous = Previous.read(output_dir, identity, plan.overwrite)
    cache = CachedEncoder(encoder, plan.cache_dir, chunk=plan.cache_chunk, weights=weights) \
        if plan.cache_dir is not None else None
    encoder = cache or encoder
    dims = plan.encoder.truncate_dims
    memo = MemoEncoder(encoder) if dims else None  # Matryoshka: every truncation reuses the task's encodes
    encoder = memo or encoder
    sets = [_Set("", identity)] + [_Set(f"dim{d}", run_identity(plan, weights, d)) for d in dims]
    own = own_prompts_once(encoder)
    started = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    kept: list[str] = []
    missing: dict[str, str] = {}
    try:
        staging = Staging(output_dir)
    except OSError as exc:
        raise _write_error(output_dir, exc) from None
    try:
        progress = SuiteProgress([t.key for t in plan.tasks], plan.encoder.show_progress)
        for number, task in enumerate(plan.tasks):
            progress.start(number, task.key, f"{task.spec.family}, protocol {task.protocol}")
            seed_everything(plan.seed)  # each task starts from the seed, whichever tasks ran or were kept before
            prompts = prompts_of(plan, task, own)
            expected = {s.subdir: _provenance(plan, task, weights, s.identity, prompts) for s in sets}
            found = previous.keep(task.key, task.spec.category, expected, task.spec, plan.data_dir) \
                if plan.resume else None
            if found is not None:
                for s in sets:
                    rel, path, result = found[s.subdir]
                    _write(output_dir, lambda: staging.carry(path, rel))
                    s.results[task.key] = result
                kept.append(task.key)
                print(f"task {task.key}: kept from {output_dir} (same run identity)", flush=True)
                continue
            log.info("task %s (%s, protocol %s)", task.key, task.spec.family, task.protocol)
            t0 = time.perf_counter()
            try:
                done = _evaluate_all(plan, task, data, encoder, sets, expected, dims, prompts)
            except HarnessError as exc:  # this task failed while running: the others still run
                missing[task.key] = str(exc)
                print(f"{task.key}: failed (error at the end)", flush=True)
                continue
            finally:
                if memo is not None:
                    memo.clear()
            timings[task.key] = round(time.perf_counter() - t0, 3)
            progress.finished(timings[task.key])
            for s, result in zip(sets, done):
                _write(output_dir, lambda: write_score(staging.dir / s.subdir, result))
                s.results[task.key] = result
        if not any(s.results for s in sets):  # nothing finished: the previous set stays as it is
            raise HarnessError("\n".join(missing.values()))
        stats = cache.stats if cache is not None else None
        run_info = RunInfo(
            model={"name": plan.encoder.name, "path": plan.encoder.path,
                   "weights_sha256": weights.sha256 if weights else None,
                   "resolved": weights.commit if weights else None},
            suite=plan.suite, started=started.isoformat(timespec="seconds"),
            finished=datetime.now(timezone.utc).isoformat(timespec="seconds"), seconds_per_task=timings,
            cache=None if stats is None else {"dir": str(plan.cache_dir), "hit_texts": stats.hits,
                                              "miss_texts": stats.misses, "corrupt_entries": stats.corrupt,
                                              "encode_seconds": round(stats.encode_seconds, 3),
                                              "embed_seconds": round(stats.embed_seconds, 3)},
            kept=kept, missing=missing)
        _write(output_dir, lambda: _write_sets(plan, staging, previous, sets, run_info, missing))
        _write(output_dir, staging.commit)
    finally:
        staging.close()
    index.save()
    if stats is not None:
        corrupt = f", {stats.corrupt} corrupt entries recomputed" if stats.corrupt else ""
        print(f"embedding cache: {stats.hits} texts from cache, {stats.misses} encoded{corrupt} "
              f"({stats.encode_seconds:.1f} s encoding, {stats.embed_seconds:.1f} s getting embeddings)", flush=True)
    print(scored_table([t.key for t in plan.tasks], sets[0].results, timings, kept, missing), flush=True)
    print(f"results written to {output_dir}", flush=True)
    if missing:  # the finished tasks are written; the run still failed
        raise HarnessError("\n".join(missing.values()))
    return list(sets[0].results.values())


def _evaluate_all(plan: RunPlan, task: PlannedTask, data: DataSource, encoder: Encoder, sets: list[_Set],
                  expected: dict[str, dict], dims: tuple[int, ...],
                  prompts: Callable[[str], str | None]) -> list[TaskResult]:
    """The task's result at full size and at each Matryoshka dimension (all or none: one failure fails it)."""
    result = _evaluate(plan, task, context(plan, task, data, encoder, prompts), expected[""])
    print(f"{task.key}: {result.metric_name} = {result.metric_value:.6f}", flush=True)
    done = [result]
    for s, dim in zip(sets[1:], dims):
        small = _evaluate(plan, task, context(plan, task, data, TruncatedEncoder(encoder, dim), prompts),
                          expected[s.subdir])
        print(f"{task.key} @ dim {dim}: {small.metric_name} = {small.metric_value:.6f}", flush=True)
        done.append(small)
    return done


def _write_sets(plan: RunPlan, staging: Staging, previous: Previous, sets: list[_Set], run_info: RunInfo,
                missing: dict[str, str]) -> None:
    """Complete the staged set: the previous set's tasks this run did not plan (same identity only), the files
    the harness does not own, the aggregate, and each set's summary.json and run.json."""
    from harness.aggregate import AGGREGATORS

    planned = {t.key for t in plan.tasks}
    aggregate_files = {filename for filename, _ in AGGREGATORS.values()}
    staging.carry_unowned(aggregate_files)
    for s in sets:
        carried = []
        for key, (rel, path) in previous.results(s.subdir).items():
            if key not in planned:
                staging.carry(path, rel)
                carried.append(read_score(path))
        directory = staging.dir / s.subdir
        info = replace(run_info, identity=s.identity.fields, identity_key=s.identity.key, label=s.identity.label,
                       truncate_dim=s.identity.fields["truncate_dim"])
        write_summary(directory, summary_of([*s.results.values(), *carried]), missing)
        write_run_info(directory, RunInfo(**scrub(info.to_json())))
    if plan.aggregate and not missing:  # a mean over some of the datasets would pass for the suite's
        filename, aggregate = AGGREGATORS[plan.aggregate]
        names = [(getattr(t.params, "name", None) or t.key, sets[0].results[t.key]) for t in plan.tasks]
        write_json(staging.dir / filename, aggregate(names))


def _write(output_dir: Path, action):
    """Run a write into the staging directory; a full disk or lost permission stops the run in one line (the
    previous set is untouched)."""
    try:
        return action()
    except OSError as exc:
        raise _write_error(output_dir, exc) from None


def _write_error(output_dir: Path, exc: OSError) -> HarnessError:
    return HarnessError(f"field 'output_dir': cannot write results to {output_dir} ({exc.strerror or exc}); "
                        f"the previous results there are unchanged")


def _provenance(plan: RunPlan, task: PlannedTask, weights: Weights | None, identity: RunIdentity,
                prompt_of: Callable[[str], str | None]) -> dict:
    """What the task's result is computed from, except the data parts (known once read: see
    _provenance_with_data)."""
    cfg = plan.encoder
    # the strings the run puts before the texts of each side it encodes (None: no prompt given)
    prompts = {role: prompt_of(role) for role in task_roles(task.spec.category)}
    local = Path(cfg.path).expanduser().is_dir()
    model = {"name": cfg.name, "path": cfg.path,
             "revision": None if local else cfg.revision,  # a local directory's files were not picked by it
             "resolved": weights.commit if weights is not None and weights.commit else
             model_commit(cfg.path, cfg.revision),
             "weights_sha256": weights.sha256 if weights is not None else None,
             "backend": cfg.backend, "pooling": cfg.pooling, "normalize": cfg.normalize,
             "max_length": cfg.max_length, "dtype": cfg.dtype, "similarity": cfg.similarity,
             "trust_remote_code": cfg.trust_remote_code, **({"st_config": cfg.st_config} if cfg.st_config else {})}
    if identity.fields["truncate_dim"] is not None:
        model["truncate_dim"] = identity.fields["truncate_dim"]
    return scrub({
        "model": model,
        "encode": {"batch_size": cfg.batch_size, "batching": cfg.batching,
                   "token_budget": cfg.token_budget if cfg.batching == "token_budget" else None,
                   "autocast": cfg.autocast, "attention": cfg.attention, "add_eos": cfg.add_eos,
                   "storage_dtype": plan.storage_dtype,
                   # encode=fast's kernel as resolved on this machine; absent for the reference arithmetic,
                   # so reference score files keep their bytes
                   **({"kernel": cfg.kernel} if cfg.kernel else {})},
        "prompts": prompts,
        "prompt_profile": select_profile(cfg.prompts, task.protocol, task.prompt_profile)[0],
        "dataset": {"task_file": str(Path(task.spec.file).name), "hub": task.spec.hub, "parts": {},
                    # a gap of the local mirror the suite declares: {role: the role whose data stood in}
                    **({"split_substitutes": task.split_substitutes} if task.split_substitutes else {})},
        "protocol": {"name": task.protocol, "params": task.params.as_dict()},
        "seed": plan.seed,
        "device": resolve_device(plan.device),
        "versions": library_versions(),
        "harness_git_revision": git_revision(),
        "run_identity": identity.key,
    })


def _provenance_with_data(provenance: dict, task: PlannedTask, data: DataSource) -> dict:
    dataset = {**provenance["dataset"], "parts": data.provenance.get(task.spec.name, {})}
    return {**provenance, "dataset": dataset}
