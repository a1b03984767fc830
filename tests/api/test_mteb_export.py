"""harness export mteb / model-index and harness import mteb, checked with mteb's and huggingface_hub's own
readers."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.cli import main
from harness.mteb_tasks import MAPPED, MTEB_VERSION
from harness.published import load_scores

mteb = pytest.importorskip("mteb")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model, tiny_data):
    out = tmp_path_factory.mktemp("run")
    # offline_real's scifact@nanobeir entry: a result that maps to no MTEB task (another protocol)
    assert main(["run", f"model={tiny_model}", "suite=offline_real", "tasks=[jsts,scifact,paws_x_ja,scifact@nanobeir]",
                 "protocol=mteb", f"data_dir={tiny_data}", f"output_dir={out}", "cache=false",
                 "encode.show_progress=false"]) == 0
    return out


def test_mapping_is_mteb_own_task_metadata():
    assert mteb.__version__ == MTEB_VERSION
    for task, mapped in MAPPED.items():
        meta = mteb.get_task(mapped.name).metadata
        assert (meta.dataset["path"], meta.dataset["revision"], meta.main_score, meta.type) == \
            (mapped.dataset, mapped.revision, mapped.main_score, mapped.type), task
        assert mapped.split in meta.eval_splits
        assert list(mapped.languages) == meta.hf_subsets_to_langscripts[mapped.subset]


def test_mteb_loads_the_export_and_reads_the_same_main_scores(run_dir, tmp_path, capsys):
    cache = tmp_path / "mteb-cache"
    assert main(["export", "mteb", str(run_dir), str(cache / "results"), "--name", "org/tiny-bert"]) == 0
    printed = capsys.readouterr().out
    assert "skipped scifact_nanobeir" in printed
    folder = cache / "results" / "org__tiny-bert" / "no_revision_available"
    assert sorted(p.name for p in folder.iterdir()) == ["JSTS.json", "PawsXPairClassification.json", "SciFact.json",
                                                        "model_meta.json"]
    loaded = mteb.ResultCache(cache).load_results(include_remote=False)
    [model] = loaded.model_results
    assert (model.model_name, model.model_revision) == ("org/tiny-bert", "no_revision_available")
    ours = {json.loads(p.read_text())["task"]: json.loads(p.read_text()) for p in run_dir.glob("*/scores_*.json")}
    got = {r.task_name: r for r in model.task_results}
    assert set(got) == {"JSTS", "SciFact", "PawsXPairClassification"}
    for task in ("jsts", "scifact", "paws_x_ja"):
        result = got[MAPPED[task].name]
        assert result.get_score() == ours[task]["metric_value"]  # mteb's own main-score reader
        assert result.scores[MAPPED[task].split][0]["hf_subset"] == MAPPED[task].subset
    assert got["SciFact"].dataset_revision == "0228b52cf27578f30900b9e5271d331663a030d7"  # what we read
    assert got["JSTS"].dataset_revision == MAPPED["jsts"].revision  # mteb's copy of the same pairs
    # every metric under mteb's own key names
    assert got["SciFact"].scores["test"][0]["recall_at_10"] == ours["scifact"]["details"]["test_scores"]["cosine"][
        "recall_at_10"]
    jsts = got["JSTS"].scores["validation"][0]
    assert jsts["cosine_spearman"] == jsts["main_score"] and "manhattan_pearson" in jsts
    paws = got["PawsXPairClassification"].scores["validation"][0]
    assert paws["max_ap"] == paws["main_score"] == max(paws[f"{d}_ap"] for d in ("cosine", "manhattan", "euclidean",
                                                                                    "dot"))
    # each file passes mteb's own validation against the task's definition
    for result in got.values():
        result.validate_and_filter_scores()
    from mteb.models.model_meta import ModelMeta

    meta = json.loads((folder / "model_meta.json").read_text())
    assert ModelMeta.model_validate(meta).name == "org/tiny-bert"


def test_import_mteb_round_trip_is_a_published_reference(run_dir, tmp_path, capsys):
    main(["export", "mteb", str(run_dir), str(tmp_path / "results")])
    capsys.readouterr()
    files = sorted((tmp_path / "results").glob("*/*/*.json"))
    out = tmp_path / "published.json"
    assert main(["import", "mteb", *map(str, files), "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["_source"].startswith("MTEB result files of ") and "JSTS.json (JSTS validation/default" in data["_source"]
    summary = json.loads((run_dir / "summary.json").read_text())
    # mteb's files carry each task's main score: the first metric of summary.json's
    expected = {c: {t: dict([next(iter(m.items()))]) for t, m in tasks.items() if t in MAPPED}
                for c, tasks in summary.items()}
    assert {k: v for k, v in data.items() if not k.startswith("_")} == {c: t for c, t in expected.items() if t}
    scores, sources = load_scores([out])  # the project's own reader of published files
    assert scores[data["_model"]]["STS"]["jsts"] == expected["STS"]["jsts"]


def test_import_refuses_files_that_map_to_nothing(tmp_path, capsys):
    other = tmp_path / "STS12.json"
    other.write_text(json.dumps({"task_name": "STS12", "dataset_revision": "x", "mteb_version": "2.0.0",
                                 "scores": {"test": [{"main_score": 0.5, "hf_subset": "default", "languages": []}]},
                                 "evaluation_time": 1.0}))
    assert main(["import", "mteb", str(other)]) == 2
    err = capsys.readouterr().err
    assert "maps to no harness task" in err and err.strip().splitlines()[-1].startswith("error: ")


def test_model_index_block_parses_as_hugging_face_model_card_metadata(run_dir, capsys):
    from huggingface_hub.repocard_data import model_index_to_eval_results

    assert main(["export", "model-index", str(run_dir), "--name", "tiny"]) == 0
    block = yaml.safe_load(capsys.readouterr().out)
    name, results = model_index_to_eval_results(block["model-index"])
    assert name == "tiny"
    summary = json.loads((run_dir / "summary.json").read_text())
    mains = {(r.dataset_name, r.metric_type): r.metric_value for r in results}
    for tasks in summary.values():
        for task, metrics in tasks.items():
            metric, value = next(iter(metrics.items()))  # the main metric comes first
            assert mains[(task, metric)] == value
    sts = next(r for r in results if r.dataset_name == "jsts" and r.metric_type == "cosine_spearman")
    assert (sts.task_type, sts.dataset_type, sts.dataset_split) == ("semantic-similarity", "sbintuitions/JMTEB", "test")
