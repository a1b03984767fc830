"""Command line: `harness run|list|data export|leaderboard|check` (also `python -m harness`).

Configuration mistakes and bad data end with one line on stderr and exit code 2; `--debug` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from harness.errors import HarnessError

USAGE = """harness run [key=value ...]        evaluate a model on a suite (Hydra overrides)
harness run -m model=a,b suite=x,y [hydra/launcher=slurm]   Hydra multirun sweep (one run per combination)
harness list models|tasks|suites   what is configured
harness data export suite=S output=D [tasks=[a,b]]   hub data -> local layout
harness leaderboard DIR [DIR ...]  JMTEB-style tables from result directories
harness check --baseline B --results R [--tolerance T]   regression gate (exit 1 on a drop)"""


def _run(args: argparse.Namespace) -> int:
    if args.multirun:
        from harness.sweep import main as sweep

        return sweep(args.overrides)
    from harness.config import compose, plan
    from harness.runner import run

    run(plan(compose(args.overrides)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from harness.listing import list_models, list_suites, list_tasks

    {"models": list_models, "tasks": list_tasks, "suites": list_suites}[args.what]()
    return 0


def _data(args: argparse.Namespace) -> int:
    from harness import export

    options = dict(o.split("=", 1) for o in args.options if "=" in o)
    bad = [o for o in args.options if "=" not in o] + [k for k in options if k not in ("suite", "output", "tasks")]
    if bad or "suite" not in options or "output" not in options:
        raise HarnessError("usage: harness data export suite=S output=D [tasks=[a,b]]")
    argv = ["--suite", options["suite"], "--output", options["output"]]
    if "tasks" in options:
        argv += ["--tasks", options["tasks"].strip("[]")]
    try:
        return export.main(argv)
    except export.ExportError as exc:
        raise HarnessError(str(exc)) from None


def _leaderboard(args: argparse.Namespace) -> int:
    from harness.leaderboard import main as leaderboard_main

    return leaderboard_main(args)


def _check(args: argparse.Namespace) -> int:
    from harness.check import main as check_main

    return check_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", usage=USAGE,
                                     description="Reproduction harness for Japanese text-embedding benchmarks.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="evaluate a model on a suite")
    p.add_argument("overrides", nargs="*", help="Hydra overrides: model=M suite=S tasks=[a,b] protocol=...")
    p.add_argument("-m", "--multirun", action="store_true",
                   help="sweep every combination: model=a,b suite=x,y [hydra/launcher=slurm] (harness/sweep.py)")
    p.set_defaults(func=_run)
    p = sub.add_parser("list", help="list models, tasks or suites")
    p.add_argument("what", choices=["models", "tasks", "suites"])
    p.set_defaults(func=_list)
    p = sub.add_parser("data", help="data helpers")
    p.add_argument("action", choices=["export"])
    p.add_argument("options", nargs="*")
    p.set_defaults(func=_data)
    p = sub.add_parser("leaderboard", help="render tables from result directories")
    p.add_argument("dirs", nargs="+", type=Path)
    p.add_argument("--format", choices=["md", "csv", "json"], default="md")
    p.add_argument("--output", type=Path, default=None)
    p.set_defaults(func=_leaderboard)
    p = sub.add_parser("check", help="fail when a main metric drops beyond tolerance")
    p.add_argument("--baseline", type=Path, required=True)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.set_defaults(func=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    logging.basicConfig(level=logging.INFO if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "huggingface_hub", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if debug else logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished chunks stay in the embedding cache; rerun to resume", file=sys.stderr)
        return 130
