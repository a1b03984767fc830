"""Export hub datasets into the local layout (`<output>/<task>/<split>.jsonl`) for air-gapped machines.

Deliberately standalone (stdlib + PyYAML + `datasets`), so it also runs in the small side environment that
`make jmteb-data` builds with `datasets<4`: `sbintuitions/JMTEB` is a loading-script dataset, and
`datasets` >= 4 refuses to run scripts. Task YAMLs mark such sources with `hub.script: true`; running their
script is remote code, which the task file opts into explicitly.

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

ROOT = Path(os.environ.get("HARNESS_ROOT", Path(__file__).resolve().parents[1]))
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


def export_task(task: dict, output: Path, load=None) -> dict[str, int]:
    """Write every part of `task`; `load(path, name, split, revision, script)` defaults to datasets."""
    if load is None:
        load = _load_with_datasets
    script = bool(task["source"]["hub"].get("script"))
    local = task["source"].get("local", task["name"])
    counts = {}
    for stem, (path, name, split, revision, _part) in task_parts(task).items():
        rows = load(path, name, split, revision, script)
        counts[stem] = write_rows(output / local / f"{stem}.jsonl", rows)
    meta = {stem: {"path": p, "name": n, "split": s, "revision": r} for stem, (p, n, s, r, _) in task_parts(task).items()}
    write_rows(output / local / "_source.jsonl", [{"task": task["name"], "parts": meta}])
    return counts


def _load_with_datasets(path, name, split, revision, script):
    import datasets

    major = int(datasets.__version__.split(".")[0])
    if script and major >= 4:
        raise ExportError(f"{path} is a loading-script dataset and datasets {datasets.__version__} cannot run "
                          f"scripts; use `make jmteb-data` (a side environment with datasets<4)")
    kwargs = {"trust_remote_code": True} if script else {}
    return datasets.load_dataset(path, name, split=split, revision=revision, **kwargs)


def load_task_yaml(name: str) -> dict:
    file = ROOT / "tasks" / f"{name}.yaml"
    if not file.is_file():
        raise ExportError(f"{file}: unknown task '{name}'")
    return yaml.safe_load(file.read_text(encoding="utf-8"))


def suite_tasks(suite: str) -> list[str]:
    file = ROOT / "conf" / "suite" / f"{suite}.yaml"
    if not file.is_file():
        valid = ", ".join(sorted(p.stem for p in file.parent.glob("*.yaml")))
        raise ExportError(f"{file}: unknown suite '{suite}'; valid: {valid}")
    return list(yaml.safe_load(file.read_text(encoding="utf-8"))["tasks"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.export", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--tasks", default="", help="comma-separated subset of the suite")
    args = parser.parse_args(argv)
    try:
        names = suite_tasks(args.suite)
        if args.tasks:
            names = [n for n in names if n in args.tasks.split(",")]
        for name in names:
            counts = export_task(load_task_yaml(name), args.output)
            print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
