"""Export hub datasets into the local layout (`<output>/<task>/<split>.jsonl`) for air-gapped machines.

Deliberately standalone (stdlib + PyYAML + `datasets`, and harness.hub / harness.errors, which need nothing
more), so it also runs in the small side environment that `make jmteb-data` builds with `datasets<4`:
`sbintuitions/JMTEB` is a loading-script dataset, and `datasets` >= 4 refuses to run scripts. Task YAMLs mark
such sources with `hub.script: true`; running their script is remote code, which the task file opts into
explicitly. A script-free copy (parquet files and README `configs:`) exports with any `datasets`.

The suite's `hub_overrides` apply as in `harness run` (JMTEB v2's revision, JMTEB-lite's repository). Each
revision is resolved to the commit the Hub serves, that commit is read, and `<task>/_source.jsonl` records
both (`revision` asked, `resolved` commit). No hub, an unknown repository or revision: one line, exit 2.

    python -m harness.export --suite jmteb_v1 --output /data/jmteb [--tasks jsts,jsick]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

import yaml

from harness.errors import HarnessError
from harness.hub import client_env, endpoint, hub_reachable, resolve
from harness.paths import ROOT  # stdlib only: fine in the side environment

CORPUS_FAMILIES = ("retrieval", "reranking")


class ExportError(Exception):
    pass


def task_parts(task: dict) -> dict[str, tuple[str, str | None, str, str, str]]:
    """file stem -> (hub path, config name, split, revision, part) for every part of a task."""
    hub = task["source"].get("hub")
    if not hub:
        raise ExportError(f"tasks/{task['name']}.yaml: no field 'source.hub' to export from")
    overrides = hub.get("parts") or {}
    schema = task["source"].get("schema", "jmteb")
    parts: dict[str, tuple] = {}
    if schema == "beir":
        wanted = {p: (p, p) for p in ("corpus", "queries", "qrels")}
    else:
        wanted = {role: (hub.get("name"), split) for role, split in (task.get("splits") or {}).items()}
        if task["family"] in CORPUS_FAMILIES:
            wanted["corpus"] = (hub.get("corpus_name"), "corpus")
    for part, (name, split) in wanted.items():
        o = overrides.get(part, {})
        stem = (task.get("splits") or {}).get(part, part)
        parts[stem] = (o.get("path", hub["path"]), o.get("name", name), o.get("split", split),
                       o.get("revision", hub["revision"]), part)
    return parts


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_rows(path: Path, rows) -> int:
    """jsonl written to a temporary name and renamed: an interrupted export leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 0666 less the umask, as harness.atomic does (mkstemp forces 0600); not imported from
    # there to keep this module standalone.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(_jsonable(dict(row)), ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def export_task(task: dict, output: Path, load=None, resolve_commit=None) -> dict[str, int]:
    """Write every part of `task`; `load(path, name, split, commit, script)` defaults to datasets, and
    `resolve_commit(path, revision)` (the commit a revision names) to the Hub's answer."""
    if load is None:
        load = _load_with_datasets
    if resolve_commit is None:
        def resolve_commit(path, revision):
            return resolve(path, revision, "dataset", what=f"tasks/{task['name']}.yaml: dataset {path}")
    script = bool(task["source"]["hub"].get("script"))
    local = task["source"].get("local", task["name"])
    parts = task_parts(task)
    commits = {(p, r): resolve_commit(p, r) for p, _, _, r, _ in parts.values()}  # all known before any write
    counts = {}
    for stem, (path, name, split, revision, _part) in parts.items():
        rows = load(path, name, split, commits[(path, revision)], script)
        counts[stem] = write_rows(output / local / f"{stem}.jsonl", rows)
    meta = {stem: {"path": p, "name": n, "split": s, "revision": r, "resolved": commits[(p, r)]}
            for stem, (p, n, s, r, _) in parts.items()}
    write_rows(output / local / "_source.jsonl", [{"task": task["name"], "parts": meta}])
    return counts


def _load_with_datasets(path, name, split, commit, script):
    client_env()
    import datasets

    major = int(datasets.__version__.split(".")[0])
    # datasets >= 4 runs no script: a script-free copy of a `script: true` source still loads
    kwargs = {"trust_remote_code": True} if script and major < 4 else {}
    label = f"{path} ({name}, split {split}) at {commit}"
    try:
        return datasets.load_dataset(path, name, split=split, revision=commit, **kwargs)
    except Exception as exc:  # the clients raise many types; the user needs the dataset and the reason
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if major >= 4 and "scripts are no longer supported" in reason:
            raise ExportError(f"{label} is a loading-script dataset and datasets {datasets.__version__} cannot "
                              f"run scripts; use `make jmteb-data` (a side environment with datasets<4)") from None
        raise ExportError(f"{label} cannot be loaded ({reason})") from None


def load_task_yaml(name: str) -> dict:
    file = ROOT / "tasks" / f"{name}.yaml"
    if not file.is_file():
        raise ExportError(f"{file}: unknown task '{name}'")
    return yaml.safe_load(file.read_text(encoding="utf-8"))


def load_suite(suite: str) -> tuple[list[str], dict, Path]:
    """(task names, hub_overrides, the suite's file). `task@protocol` entries name their task once."""
    file = ROOT / "conf" / "suite" / f"{suite}.yaml"
    if not file.is_file():
        valid = ", ".join(sorted(p.stem for p in file.parent.glob("*.yaml")))
        raise ExportError(f"{file}: unknown suite '{suite}'; valid: {valid}")
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    names = list(dict.fromkeys(str(entry).partition("@")[0] for entry in data["tasks"]))
    return names, data.get("hub_overrides") or {}, file


def suite_tasks(suite: str) -> list[str]:
    return load_suite(suite)[0]


def with_hub_overrides(task: dict, overrides: dict, suite_file: Path) -> dict:
    """`task` with the suite's re-pointing applied, exactly as harness.config.with_hub_overrides does for
    `harness run`: {hub path: {path, revision}} replaces the task's hub path and revision (a part's own
    path or revision, under source.hub.parts, still wins)."""
    hub = (task.get("source") or {}).get("hub") or {}
    change = overrides.get(hub.get("path"))
    if not change:
        return task
    unknown = set(change) - {"path", "revision"}
    if unknown:
        raise ExportError(f"{suite_file}: field 'hub_overrides' may set only path and revision, "
                          f"got {sorted(unknown)[0]}")
    return {**task, "source": {**task["source"], "hub": {**hub, **change}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.export", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--tasks", default="", help="comma-separated subset of the suite")
    args = parser.parse_args(argv)
    try:
        names, overrides, suite_file = load_suite(args.suite)
        if args.tasks:
            wanted = [t.strip() for t in args.tasks.split(",") if t.strip()]
            unknown = [t for t in wanted if t not in names]
            if unknown:
                raise ExportError(f"{suite_file}: task '{unknown[0]}' is not in suite {args.suite}; "
                                  f"valid: {', '.join(names)}")
            names = [n for n in names if n in wanted]
        tasks = [with_hub_overrides(load_task_yaml(name), overrides, suite_file) for name in names]
        if not hub_reachable():  # before any download: one line within seconds, not retries
            raise ExportError(f"the Hugging Face Hub ({endpoint()}) is unreachable (or HF_HUB_OFFLINE is "
                              f"set): exporting needs it; set HF_ENDPOINT to a reachable Hub or mirror")
        for task in tasks:
            counts = export_task(task, args.output)
            print(f"{task['name']}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    except (ExportError, HarnessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
