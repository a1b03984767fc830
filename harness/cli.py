"""Command line: `harness run|list|data export|leaderboard|check` (also `python -m harness`).

Configuration mistakes and bad data end with one line on stderr and exit code 2; `--debug` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys
import traceback
from pathlib import Path

from harness.errors import HarnessError
from harness.provenance import ScrubFilter, scrub_text

USAGE = """harness run [key=value ...]        evaluate a model on a suite (Hydra overrides)
harness run -m model=a,b suite=x,y [hydra/launcher=slurm]   Hydra multirun sweep (one run per combination)
harness list models|tasks|suites   what is configured
harness list prompts model=M suite=S [protocol=P]   the exact prompt of every task and side (repr)
harness data export suite=S output=D [tasks=[a,b]]   hub data -> local layout
harness leaderboard [DIR|FILE ...] [--table NAME]   JMTEB / model-card tables (conf/tables/NAME.yaml)
harness check --baseline B --results R [--tolerance T] [--tolerance task=T]   regression gate (exit 1 on a drop)
harness report DIR [--published FILE] [--compare DIR]   reproduced vs published, bootstrap intervals
harness plot DIR|FILE [...] [--published FILE] --output DIR   figures per category (PNG, SVG, PDF)
harness export mteb RUN_DIR OUT [--name N] [--revision R]   mteb's result files (mapped tasks) + model_meta.json
harness export model-index RUN_DIR [--name N]   the model card's model-index YAML block
harness import mteb FILE ... [--source S] [--model M] [--output FILE]   mteb results -> a published reference"""


def _run(args: argparse.Namespace) -> int:
    if args.multirun:
        from harness.sweep import main as sweep

        return sweep(args.overrides)
    from harness.config import compose, plan
    from harness.runner import run

    run(plan(compose(args.overrides)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from harness.listing import list_models, list_prompts, list_suites, list_tasks

    if args.what == "prompts":
        list_prompts(args.options)
        return 0
    if args.options:
        raise HarnessError(f"harness list {args.what} takes no options, got {args.options[0]}")
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


def _report(args: argparse.Namespace) -> int:
    from harness.report import main as report_main

    return report_main(args)


def _plot(args: argparse.Namespace) -> int:
    from harness.plot import main as plot_main

    return plot_main(args)


def _export(args: argparse.Namespace) -> int:
    if args.what == "model-index":
        if args.out is not None:
            raise HarnessError("usage: harness export model-index RUN_DIR [--name N] (the YAML goes to stdout)")
        from harness.model_index import model_index, render

        print(render(model_index(args.run_dir, args.name)), end="")
        return 0
    if args.out is None:
        raise HarnessError("usage: harness export mteb RUN_DIR OUT [--name N] [--revision R]")
    from harness.mteb_results import export

    for line in export(args.run_dir, args.out, args.name, args.revision):
        print(line)
    return 0


def _import(args: argparse.Namespace) -> int:
    import json

    from harness.mteb_results import import_files
    from harness.published import published, write_published

    summary, meta, origins, notes = import_files(args.files)
    for note in notes:
        print(note, file=sys.stderr)
    if not summary:
        raise HarnessError(f"{args.files[0]}: no MTEB result file maps to a harness task")
    model = args.model or (meta[0] if meta else None)
    source = args.source or ("MTEB result files" + (f" of {meta[0]} at revision {meta[1]}" if meta else "") + ": "
                             + "; ".join(origins))
    data = published(summary, source, model)
    if args.output is None:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        write_published(args.output, data)
        print(f"published reference written to {args.output}")
    return 0


# A reader that goes away (`harness list tasks | head -1`) ends the command as SIGPIPE ends any Unix tool:
# no traceback, no message, and the status a shell shows for a writer killed by SIGPIPE (128 + 13 = 141).
EXIT_SIGPIPE = 128 + getattr(signal, "SIGPIPE", 13)


def _stdout_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has closed it: poll reports POLLERR on it."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or stdout has no descriptor
        return True


def _call(args: argparse.Namespace) -> int:
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, not at interpreter exit, so that a closed pipe is seen below
        return code
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # some other pipe broke: a bug, shown with its traceback
        # Output still buffered would fail again when Python flushes stdout at exit: send it nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_SIGPIPE


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
    p = sub.add_parser("list", help="list models, tasks, suites, or a suite's prompts for a model")
    p.add_argument("what", choices=["models", "tasks", "suites", "prompts"])
    p.add_argument("options", nargs="*", help="prompts: model=M suite=S [protocol=P ...]")
    p.set_defaults(func=_list)
    p = sub.add_parser("data", help="data helpers")
    p.add_argument("action", choices=["export"])
    p.add_argument("options", nargs="*")
    p.set_defaults(func=_data)
    p = sub.add_parser("leaderboard", help="render tables from result directories and published references")
    p.add_argument("dirs", nargs="*", type=Path, help="result directories, summary.json or published files")
    p.add_argument("--table", default=None, help="a table spec: conf/tables/NAME.yaml or a path (default: JMTEB)")
    p.add_argument("--format", choices=["md", "csv", "json", "latex"], default="md")
    p.add_argument("--output", type=Path, default=None)
    p.set_defaults(func=_leaderboard)
    p = sub.add_parser("check", help="fail when a main metric drops beyond tolerance")
    p.add_argument("--baseline", type=Path, required=True)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--tolerance", action="append", default=None,
                   help="global (1e-4) or per task (jsts=2e-4); repeatable")
    p.set_defaults(func=_check)
    p = sub.add_parser("report", help="reproduced vs published, with bootstrap intervals and provenance")
    p.add_argument("results", type=Path)
    p.add_argument("--published", type=Path, default=None, help="a published file in results/published/")
    p.add_argument("--model", default=None, help="the model's name in a multi-model published file")
    p.add_argument("--tolerance", action="append", default=None,
                   help="global (1e-4) or per task (jsts=2e-4); repeatable; the published file's _tolerance applies")
    p.add_argument("--compare", type=Path, default=None, help="another run of the same suite: paired bootstrap")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (recorded in the report)")
    p.add_argument("--output", type=Path, default=None, help="default: <results>/report.md (+ report.json)")
    p.set_defaults(func=_report)
    p = sub.add_parser("plot", help="figures per category, category means and reproduced-vs-published (PNG, SVG, PDF)")
    p.add_argument("sources", nargs="+", type=Path, help="result directories, summary.json or published files")
    p.add_argument("--published", type=Path, action="append", default=[],
                   help="published file(s) drawn beside the runs")
    p.add_argument("--models", default=None, help="comma-separated models to draw from the published files")
    p.add_argument("--output", type=Path, required=True, help="directory for the figures")
    p.set_defaults(func=_plot)
    p = sub.add_parser("export", help="a run's results in mteb's format, or as a model card's model-index")
    p.add_argument("what", choices=["mteb", "model-index"])
    p.add_argument("run_dir", type=Path, help="a result directory (harness run's output_dir)")
    p.add_argument("out", type=Path, nargs="?", default=None, help="mteb: the results folder to write into")
    p.add_argument("--name", default=None, help="the model's name (default: its hub id, else the run's model name)")
    p.add_argument("--revision", default=None, help="mteb: the model's revision (default: the commit it was read at)")
    p.set_defaults(func=_export)
    p = sub.add_parser("import", help="mteb's result files as a published reference (results/published/)")
    p.add_argument("what", choices=["mteb"])
    p.add_argument("files", nargs="+", type=Path, help="mteb TaskResult JSON files (model_meta.json beside them)")
    p.add_argument("--source", default=None, help="the published file's _source (default: built from the files)")
    p.add_argument("--model", default=None, help="its _model (default: model_meta.json's name)")
    p.add_argument("--output", type=Path, default=None, help="default: stdout")
    p.set_defaults(func=_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    logging.basicConfig(level=logging.INFO if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # no secret in any log line
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
    for noisy in ("httpx", "huggingface_hub", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if debug else logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _call(args)
    except HarnessError as exc:
        if debug:
            print(scrub_text(traceback.format_exc()), end="", file=sys.stderr)
        else:  # one line per failure (a run whose tasks failed says each)
            for line in scrub_text(str(exc)).splitlines() or [""]:
                print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the output directory holds the previous results or this run's, never a mix; finished "
              "chunks stay in the embedding cache; rerun to resume", file=sys.stderr)
        return 130
    except Exception:  # a bug: the traceback, with secrets scrubbed (a client error may quote a key)
        print(scrub_text(traceback.format_exc()), end="", file=sys.stderr)
        return 1
