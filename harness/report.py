"""`harness report`: does a run reproduce the published numbers? (results/runs/<model>/<suite>/report.md)

For every published cell of the model: reproduced value, published value, difference, tolerance and a verdict
(|difference| <= tolerance); an overall verdict (PASS, FAIL, or INCOMPLETE when some published cells were not
run); a seeded bootstrap 95 % interval of every main metric that carries per-item values; the run's provenance.
`--compare DIR` adds a paired bootstrap test against another run of the same suite.
Reads result files only; never re-evaluates.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_json, write_text
from harness.errors import HarnessError
from harness.published import load_scores, read_tolerances
from harness.results import TaskResult, read_results
from harness.runinfo import RunInfo, read_run_info
from harness.scoring import bootstrap
from harness.summary import metrics_of
from harness.tolerance import parse_tolerances, tolerance_for


@dataclass(frozen=True)
class Cell:
    task: str
    metric: str
    reproduced: float | None
    published: float
    tolerance: float
    verdict: str  # pass | FAIL | not run | metric differs

    @property
    def diff(self) -> float | None:
        return None if self.reproduced is None else self.reproduced - self.published


def published_cells(path: Path, model: str | None) -> tuple[str, dict[str, dict[str, float]], str]:
    """(model, task -> {metric: value}, source) of one model in a published file."""
    scores, sources = load_scores([path])
    if model is None:
        if len(scores) != 1:
            raise HarnessError(f"{path}: holds {len(scores)} models; choose one with --model "
                               f"(e.g. {next(iter(scores))})")
        model = next(iter(scores))
    if model not in scores:
        raise HarnessError(f"{path}: no model '{model}'; it holds {', '.join(sorted(scores))}")
    tasks = {t: m for cats in scores[model].values() for t, m in cats.items()}
    return model, tasks, sources[0]


def compare_cells(results: dict[str, TaskResult], published: dict[str, dict[str, float]],
                  tolerances: dict[str, float]) -> list[Cell]:
    cells = []
    for task, metrics in published.items():
        result = results.get(task)
        if result is None:
            metric, value = next(iter(metrics.items()))
            cells.append(Cell(task, metric, None, value, tolerances[task], "not run"))
        else:
            # the run's main metric where the published file has it, else the published main metric among the
            # run's other figures (summary.json's: a card printing Spearman of a run whose main is cosine_spearman)
            mine = metrics_of(result)
            metric = result.metric_name if result.metric_name in metrics else next(iter(metrics))
            if metric not in mine:
                cells.append(Cell(task, f"{metric} (run: {result.metric_name})", None, metrics[metric],
                                  tolerances[task], "metric differs"))
                continue
            diff = mine[metric] - metrics[metric]
            verdict = "pass" if abs(diff) <= tolerances[task] + 1e-12 else "FAIL"
            cells.append(Cell(task, metric, mine[metric], metrics[metric], tolerances[task], verdict))
    return cells


def overall(cells: list[Cell]) -> str:
    if any(c.verdict in ("FAIL", "metric differs") for c in cells) or not cells:
        return "FAIL"
    return "INCOMPLETE" if any(c.verdict == "not run" for c in cells) else "PASS"


def intervals(results: dict[str, TaskResult], resamples: int, seed: int) -> dict[str, bootstrap.Interval]:
    out = {}
    for task, result in results.items():
        per_item = result.details.get("per_item")
        if per_item is None:
            continue
        try:
            statistic, arrays = bootstrap.unpack(per_item)
        except ValueError as exc:
            raise HarnessError(f"score file of task {task}: {exc}") from None
        if per_item.get("n", 0) < 2:  # one item (a one-query task) has no spread to resample
            continue
        out[task] = bootstrap.interval(statistic, arrays, resamples=resamples, seed=seed)
    return out


def paired(results: dict[str, TaskResult], other: dict[str, TaskResult], resamples: int,
           seed: int) -> dict[str, bootstrap.PairedTest | str]:
    """task -> paired test (this run minus the other), or why none could be made."""
    out: dict[str, bootstrap.PairedTest | str] = {}
    for task, result in results.items():
        if task not in other:
            continue
        a, b = other[task].details.get("per_item"), result.details.get("per_item")
        if a is None or b is None:
            out[task] = "no per-item values in one of the runs"
        elif a.get("statistic") != b.get("statistic") or a.get("n") != b.get("n") or \
                a.get("ids_sha1") != b.get("ids_sha1"):
            out[task] = "the runs scored different items"
        else:
            statistic, arrays_b = bootstrap.unpack(b)
            _, arrays_a = bootstrap.unpack(a)
            out[task] = bootstrap.paired_test(statistic, arrays_a, arrays_b, resamples=resamples, seed=seed)
    return out


def marks(results: dict[str, TaskResult]) -> list[str]:
    """Results not computed on the benchmark's own splits: a local mirror's gap the suite declared."""
    out = []
    for task, result in results.items():
        for role, stand_in in result.provenance.get("dataset", {}).get("split_substitutes", {}).items():
            out.append(f"{task}: the {role} split was scored on the {stand_in} data (a gap of the local mirror, "
                       f"declared by the suite): not the benchmark's own {role} split")
    return out


def _f(value: float | None, digits: int = 5) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(data: dict[str, Any]) -> str:
    lines = [f"# Reproduction report: {data['model']} / {data['suite']}", ""]
    if data["published"]:
        pub = data["published"]
        lines += [f"**Overall: {data['overall']}** against {pub['model']} ({pub['file']})", "",
                  f"Published figures: {pub['source']}", "",
                  "| task | metric | reproduced | published | diff | tolerance | verdict | 95% CI (reproduced) |",
                  "|---|---|---:|---:|---:|---:|---|---|"]
        for c in data["cells"]:
            # the interval is the run's main metric's: shown only beside that metric
            main = data["scores"].get(c["task"], {}).get("metric")
            ci = data["intervals"].get(c["task"]) if c["metric"] == main else None
            shown_ci = f"[{ci['low']:.5f}, {ci['high']:.5f}]" if ci else "-"
            diff = "-" if c["diff"] is None else f"{c['diff']:+.5f}"
            lines.append(f"| {c['task']} | {c['metric']} | {_f(c['reproduced'])} | {_f(c['published'])} | {diff} | "
                         f"{c['tolerance']:g} | {c['verdict']} | {shown_ci} |")
        lines += ["", "Verdict per cell: pass when |reproduced - published| <= tolerance. Overall: PASS when every "
                  "published cell passes, INCOMPLETE when the cells run pass but some were not run, else FAIL.", ""]
    unpublished = [t for t in data["scores"] if t not in {c["task"] for c in data["cells"]}]
    if unpublished or not data["published"]:
        lines += ["## Scores without a published figure" if data["published"] else "## Scores", "",
                  "| task | metric | value | 95% CI |", "|---|---|---:|---|"]
        for task in unpublished:
            s, ci = data["scores"][task], data["intervals"].get(task)
            shown_ci = f"[{ci['low']:.5f}, {ci['high']:.5f}]" if ci else "- (no per-item values)"
            lines.append(f"| {task} | {s['metric']} | {s['value']:.5f} | {shown_ci} |")
        lines.append("")
    if data["intervals"]:
        first = next(iter(data["intervals"].values()))
        lines += [f"Intervals: percentile bootstrap, {first['level']:.0%} level, {first['resamples']} resamples, "
                  f"seed {first['seed']}; items resampled = what the main metric averages over: queries "
                  "(retrieval, reranking, NanoBEIR), sentence pairs (STS, pair classification), test texts "
                  "(classification, JMTEB clustering), seeded runs (MTEB clustering); see "
                  "harness/scoring/bootstrap.py.", ""]
    if data.get("comparison"):
        comp = data["comparison"]
        lines += [f"## Paired comparison with {comp['other']}", "",
                  "| task | this run | other run | diff (this - other) | 95% CI of diff | p-value |",
                  "|---|---:|---:|---:|---|---:|"]
        for task, t in comp["tests"].items():
            if isinstance(t, str):
                lines.append(f"| {task} | - | - | - | {t} | - |")
            else:
                mine, theirs = data["scores"][task]["value"], comp["scores"][task]
                lines.append(f"| {task} | {mine:.5f} | {theirs:.5f} | {t['diff']:+.5f} | "
                             f"[{t['low']:+.5f}, {t['high']:+.5f}] | {t['p_value']:.4f} |")
        lines += ["", "Paired bootstrap over the same resampled items in both runs; p-value = twice the smaller "
                  "share of resamples on either side of zero.", ""]
    if data.get("marks"):
        lines += ["## Marked results", ""] + [f"- {m}" for m in data["marks"]] + [""]
    lines += ["## Provenance", ""] + [f"- {k}: {v}" for k, v in data["provenance"].items()
                                      if k not in RUN_TABLES] + [""]
    for key, (title, header) in RUN_TABLES.items():
        if data["provenance"].get(key):
            lines += [f"## {title}", "", f"| {header[0]} | {header[1]} |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in data["provenance"][key].items()] + [""]
    return "\n".join(lines)


# provenance entries that are mappings, printed as two-column tables after the provenance list
RUN_TABLES = {"seconds per task": ("Timings", ("task", "seconds")),
              "embedding cache": ("Embedding cache", ("statistic", "value"))}


def provenance(run_dir: Path, results: dict[str, TaskResult]) -> dict[str, Any]:
    info = read_run_info(run_dir)
    run = info.to_json() if info is not None else {}
    first = next(iter(results.values())).provenance if results else {}
    model = first.get("model", {})
    out = {
        "results": str(run_dir),
        "model": f"{model.get('name')} (path {model.get('path')}, revision {model.get('revision')}, "
                 f"dtype {model.get('dtype')}, max_length {model.get('max_length')})",
        "suite": run.get("suite"),
        "protocols": ", ".join(f"{t}={r.protocol}" for t, r in results.items()),
        "started": run.get("started"), "finished": run.get("finished"),
        "seconds per task": run.get("seconds_per_task"),
        "seed": first.get("seed"), "device": first.get("device"),
        "harness git revision": first.get("harness_git_revision"),
        "versions": ", ".join(f"{k} {v}" for k, v in first.get("versions", {}).items()),
        "data": "; ".join(f"{t} ({r.provenance.get('dataset', {}).get('task_file')}): " + ", ".join(
            f"{part} {info.get('where', info.get('path'))} {info.get('rows')} rows sha256 {str(info.get('sha256'))[:12]}"
            if info.get("sha256") else f"{part} {json.dumps(info, sort_keys=True)}"
            for part, info in r.provenance.get("dataset", {}).get("parts", {}).items()) for t, r in results.items()),
        "embedding cache": run.get("cache"),
    }
    return {k: v for k, v in out.items() if v not in (None, "", {})}


def build(run_dir: Path, published: Path | None, model: str | None, tolerance, compare: Path | None,
          resamples: int, seed: int) -> dict[str, Any]:
    results = {r.task: r for r in read_results(run_dir)}
    if not results:
        raise HarnessError(f"{run_dir}: no score files (<Category>/scores_<task>.json)")
    data: dict[str, Any] = {"model": next(iter(results.values())).provenance.get("model", {}).get("name"),
                            "suite": _suite(read_run_info(run_dir)), "published": None, "cells": [],
                            "overall": None}
    if published is not None:
        name, cells_pub, source = published_cells(published, model)
        default, cli = parse_tolerances(tolerance)
        from_file = read_tolerances(published)
        tolerances = {t: tolerance_for(t, default, from_file, cli) for t in cells_pub}
        cells = compare_cells(results, cells_pub, tolerances)
        data["published"] = {"model": name, "file": str(published), "source": source}
        data["cells"] = [{**c.__dict__, "diff": c.diff} for c in cells]
        data["overall"] = overall(cells)
    data["scores"] = {t: {"metric": r.metric_name, "value": r.metric_value} for t, r in results.items()}
    data["marks"] = marks(results)
    data["intervals"] = {t: i.to_json() for t, i in intervals(results, resamples, seed).items()}
    if compare is not None:
        other = {r.task: r for r in read_results(compare)}
        if not other:
            raise HarnessError(f"{compare}: no score files to compare with")
        tests = paired(results, other, resamples, seed)
        data["comparison"] = {"other": str(compare), "scores": {t: other[t].metric_value for t in tests},
                              "tests": {t: (v if isinstance(v, str) else v.to_json()) for t, v in tests.items()}}
    data["provenance"] = provenance(run_dir, results)
    return data


def _suite(info: RunInfo | None) -> str | None:
    return info.suite if info is not None else None


def main(args: argparse.Namespace) -> int:
    data = build(args.results, args.published, args.model, args.tolerance, args.compare, args.resamples, args.seed)
    output = args.output or args.results / "report.md"
    write_json(output.with_suffix(".json"), data)
    write_text(output, markdown(data))
    print(markdown(data), end="")
    print(f"report written to {output}")
    return 0
