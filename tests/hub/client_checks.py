"""What the real clients get from the stand-in, run in a subprocess pointed at it (HF_ENDPOINT set by the test).

    python -m tests.hub.client_checks '<json: {"shas": {...}, "model_file": PATH, "harness": bool}>'

Prints one JSON object of observations; the test compares them with what the fixture holds. Runs with any
client generation: the main environment (huggingface_hub 2.x or 0.3x, datasets 3-5) and the side environment of
`make jmteb-data` (huggingface_hub 0.23, datasets 2.19), where `harness` is false (only harness.hub is there).
"""

from __future__ import annotations

import hashlib
import json
import sys


def _error(call) -> str:
    try:
        call()
    except Exception as exc:  # the type name is the observation
        return type(exc).__name__
    return "no error"


def main() -> None:
    args = json.loads(sys.argv[1])
    shas = args["shas"]
    import huggingface_hub
    from huggingface_hub import HfApi, HfFileSystem, hf_hub_download

    api = HfApi()
    model, jmteb, nano = "sentence-transformers/all-MiniLM-L6-v2", "sbintuitions/JMTEB", "tomaarsen/NanoBEIR-ja"
    out: dict = {"huggingface_hub": huggingface_hub.__version__}
    out["model_main"] = api.model_info(model).sha
    out["model_pinned"] = api.model_info(model, revision=shas["model"]).sha
    out["jmteb_main"] = api.dataset_info(jmteb).sha
    out["jmteb_v1"] = api.dataset_info(jmteb, revision=shas["jmteb_v1"]).sha
    readme = {label: open(hf_hub_download(jmteb, "README.md", repo_type="dataset", revision=shas[label]),
                          encoding="utf-8").read() for label in ("jmteb_v1", "jmteb_v2")}
    out["readmes_differ"] = readme["jmteb_v1"] != readme["jmteb_v2"]
    # a large file: HEAD answers 302 to the "CDN" with X-Linked-Etag / X-Linked-Size, GET follows it
    weights = hf_hub_download(model, "model.safetensors", revision=shas["model"])
    with open(weights, "rb") as handle:
        out["weights_sha256"] = hashlib.sha256(handle.read()).hexdigest()
    out["weights_expected"] = hashlib.sha256(open(args["model_file"], "rb").read()).hexdigest()
    out["tree"] = sorted(e.path for e in api.list_repo_tree(jmteb, repo_type="dataset", revision=shas["jmteb_v1"],
                                                            recursive=True))
    out["paths_info"] = sorted(e.path for e in api.get_paths_info(model, ["config.json", "1_Pooling", "absent.txt"],
                                                                  revision=shas["model"]))
    fs = HfFileSystem()
    out["range"] = fs.cat(f"{model}@{shas['model']}/config.json", start=2, end=9).decode()
    out["config_head"] = open(hf_hub_download(model, "config.json", revision=shas["model"])).read()[2:9]
    out["errors"] = {
        "revision": _error(lambda: api.dataset_info(jmteb, revision="0" * 40)),
        "repo": _error(lambda: api.dataset_info("nobody/nothing")),
        "file": _error(lambda: hf_hub_download(model, "absent.json", revision=shas["model"])),
    }
    from harness.errors import HarnessError
    from harness.hub import resolve

    out["resolve_main"] = resolve(model, "main", "model", what="check")
    out["resolve_pinned"] = resolve(model, shas["model"], "model", what="check")
    try:
        resolve(jmteb, "no-such-branch", "dataset", what="check")
    except HarnessError as exc:
        out["resolve_unknown"] = str(exc)
    if args.get("harness"):
        from harness.data import DataSource
        from harness.taskspec import load_task

        source = DataSource(None)
        task = load_task("nano_scifact_ja")
        out["nano_rows"] = {part: source.rows(task, part) for part in ("corpus", "queries", "qrels")}
        out["nano_provenance"] = source.provenance["nano_scifact_ja"]
        # the transformers and static backends read a hub id through model_files.model_dir (a snapshot)
        from harness.encoders import model_files
        from harness.encoders.base import EncoderConfig
        from harness.hub import model_commit

        config = EncoderConfig(name="minilm", path=model, revision=None, backend="transformers", pooling=None,
                               normalize=False, max_length=None, dtype="float32", similarity="cosine",
                               trust_remote_code=False)
        snapshot = model_files.model_dir(config)
        out["snapshot"] = snapshot.name
        out["snapshot_commit"] = model_commit(model, None)
        out["snapshot_readme_tail"] = (snapshot / "README.md").read_text(encoding="utf-8")[-40:]
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
