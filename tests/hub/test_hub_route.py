"""The hub route end to end, against the stand-in: tasks read straight from the Hub, `harness data export`, runs
on the export, the suite's hub_overrides on every route, a model by hub id at a pinned revision, provenance of
the commits the Hub resolved, and one-line failures for an unknown revision or an unreachable Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hub.conftest import check_export, closed_port_url, export, hub_env, one_error_line, run
from tests.hub.repos import JMTEB_TASKS, add_fixture_repos, jmteb_revisions, task_yaml
from tests.hub.server import HubStandIn

RUN = ["cache=false", "encode.show_progress=false"]


def scores(out: Path) -> dict[str, dict]:
    return {p.stem.removeprefix("scores_"): json.loads(p.read_text()) for p in out.rglob("scores_*.json")}


def test_export_honours_the_suites_hub_overrides(parquet_hub, tmp_path):
    hub, fixture = parquet_hub
    v1, v2, _, lite_revision = jmteb_revisions()
    out, result = export(hub, tmp_path, "jmteb_v1", ["jsts", "jaqket"], "v1")
    assert result.returncode == 0, result.stderr[-3000:]
    check_export(out, fixture, "jmteb_v1", ["jsts", "jaqket"], v1)
    # jmteb_v2 re-points the revision: the v2 commit, including a config the v1 commit does not have
    out, result = export(hub, tmp_path, "jmteb_v2", JMTEB_TASKS, "v2")
    assert result.returncode == 0, result.stderr[-3000:]
    check_export(out, fixture, "jmteb_v2", JMTEB_TASKS, v2)
    assert fixture.expected("jmteb_v1", "jsts", "test") != fixture.expected("jmteb_v2", "jsts", "test")
    # jmteb_lite re-points the repository
    out, result = export(hub, tmp_path, "jmteb_lite", ["jsts"], "lite")
    assert result.returncode == 0, result.stderr[-3000:]
    check_export(out, fixture, "jmteb_lite", ["jsts"], lite_revision)


def test_run_from_the_hub_equals_the_run_on_its_export(parquet_hub, tmp_path, minilm_path):
    """jmteb_v2 read straight from the Hub (the override's revision) with the model by hub id, and read from
    `harness data export` output with the local copy of the same model: the same numbers."""
    hub, fixture = parquet_hub
    _, v2, _, _ = jmteb_revisions()
    env = hub_env(hub.url, tmp_path / "hf")
    tasks = "tasks=[jsts,jaqket]"
    result = run(["harness", "run", "model=all-minilm-l6-v2", "suite=jmteb_v2", tasks,
                  f"output_dir={tmp_path / 'hub-run'}", *RUN], env)
    assert result.returncode == 0, result.stderr[-3000:]
    exported, result = export(hub, tmp_path, "jmteb_v2", ["jsts", "jaqket"], "export")
    assert result.returncode == 0, result.stderr[-3000:]
    result = run(["harness", "run", "model=all-minilm-l6-v2", f"model.path={minilm_path}", "suite=jmteb_v2", tasks,
                  f"data_dir={exported}", f"output_dir={tmp_path / 'export-run'}", *RUN], env)
    assert result.returncode == 0, result.stderr[-3000:]
    from_hub, from_export = scores(tmp_path / "hub-run"), scores(tmp_path / "export-run")
    assert set(from_hub) == {"jsts", "jaqket"}
    for task in from_hub:
        assert from_hub[task]["metric_value"] == pytest.approx(from_export[task]["metric_value"], abs=1e-6)
        model = from_hub[task]["provenance"]["model"]
        assert (model["path"], model["revision"], model["resolved"]) == \
            (fixture.repos["model"], fixture.shas["model"], fixture.shas["model"])
        assert from_export[task]["provenance"]["model"]["resolved"] is None  # a local directory
        # the snapshot of the hub id holds the same files as the local copy: the same content hash
        assert model["weights_sha256"] == from_export[task]["provenance"]["model"]["weights_sha256"]
        assert len(model["weights_sha256"]) == 64
        for part, prov in from_hub[task]["provenance"]["dataset"]["parts"].items():
            assert (prov["source"], prov["path"], prov["revision"], prov["resolved"]) == \
                ("hub", "sbintuitions/JMTEB", v2, fixture.shas["jmteb_v2"]), part
            assert prov["rows"] == len(fixture.expected("jmteb_v2", task, part))
        for part, prov in from_export[task]["provenance"]["dataset"]["parts"].items():
            assert prov["source"] == "local" and Path(prov["path"]).is_relative_to(exported.resolve())
    assert ("GET", f"/api/models/{fixture.repos['model']}/revision/{fixture.shas['model']}") in hub.requests


def test_nanobeir_task_runs_straight_from_the_hub(parquet_hub, tmp_path):
    hub, fixture = parquet_hub
    out = tmp_path / "out"
    result = run(["harness", "run", "model=all-minilm-l6-v2", "suite=nanobeir_ja", "tasks=[nano_scifact_ja]",
                  f"output_dir={out}", *RUN], hub_env(hub.url, tmp_path / "hf"))
    assert result.returncode == 0, result.stderr[-3000:]
    score = scores(out)["nano_scifact_ja"]
    assert score["metric_name"] == "cosine_ndcg@10" and 0 <= score["metric_value"] <= 1
    assert score["provenance"]["model"]["resolved"] == fixture.shas["model"]
    hub_spec = task_yaml("nano_scifact_ja")["source"]["hub"]
    for part, prov in score["provenance"]["dataset"]["parts"].items():
        assert (prov["path"], prov["revision"], prov["resolved"]) == \
            (hub_spec["path"], hub_spec["revision"], fixture.shas["nano"])
        assert prov["rows"] == len(fixture.expected("nano", "nano_scifact_ja", part))
    assert json.loads((out / "nanobeir.json").read_text())  # the suite's aggregate over what ran


def test_unknown_model_revision_fails_in_one_line(parquet_hub, tmp_path, minilm_path):
    hub, _ = parquet_hub
    result = run(["harness", "run", "model=all-minilm-l6-v2", "model.revision=" + "0" * 40, "suite=nanobeir_ja",
                  "tasks=[nano_scifact_ja]", f"output_dir={tmp_path / 'out'}", *RUN],
                 hub_env(hub.url, tmp_path / "hf"))
    line = one_error_line(result)
    assert f"revision '{'0' * 40}' of model sentence-transformers/all-MiniLM-L6-v2 does not exist" in line
    assert hub.url in line


@pytest.fixture(scope="module")
def hub_without_v1():
    """sbintuitions/JMTEB holding only the v2 commit: the revision the v1 tasks pin is unknown there."""
    hub = HubStandIn()
    fixture = add_fixture_repos(hub, model=False)
    repo = hub.repos[("dataset", "sbintuitions/JMTEB")]
    del repo.commits[fixture.shas["jmteb_v1"]]
    with hub:
        yield hub
    assert not hub.stray


def test_unknown_dataset_revision_fails_in_one_line(hub_without_v1, tmp_path, minilm_path):
    v1 = jmteb_revisions()[0]
    expected = f"revision '{v1}' of dataset sbintuitions/JMTEB does not exist on the Hub ({hub_without_v1.url})"
    env = hub_env(hub_without_v1.url, tmp_path / "hf")
    result = run(["harness", "data", "export", "suite=jmteb_v1", f"output={tmp_path / 'd'}", "tasks=[jsts]"], env)
    assert expected in one_error_line(result)
    assert not (tmp_path / "d" / "jsts").exists()
    result = run(["harness", "run", f"model.path={minilm_path}", "suite=jmteb_v1", "tasks=[jsts]",
                  f"output_dir={tmp_path / 'out'}", *RUN], env)
    line = one_error_line(result)
    assert expected in line and "task jsts" in line


def test_export_without_a_hub_fails_in_one_line(tmp_path):
    url = closed_port_url()
    result = run(["harness", "data", "export", "suite=jmteb_v1", f"output={tmp_path / 'd'}", "tasks=[jsts]"],
                 hub_env(url, tmp_path / "hf"))
    assert f"the Hugging Face Hub ({url}) is unreachable" in one_error_line(result)


def test_export_of_a_loading_script_with_datasets_4_names_the_supported_route(script_hub, tmp_path):
    import datasets

    if int(datasets.__version__.split(".")[0]) < 4:
        pytest.skip("datasets < 4 runs the script itself")
    hub, fixture = script_hub
    _, result = export(hub, tmp_path, "jmteb_v1", ["jsts"], "d")
    line = one_error_line(result)
    assert "is a loading-script dataset" in line and "make jmteb-data" in line
    assert fixture.shas["jmteb_v1"] in line
