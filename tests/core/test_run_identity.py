"""Run identity: default output directories, sweep jobs, leaderboard rows and plot series follow it, and two
identities never share a directory or a row without saying so."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import main
from harness.identity import distinct_labels
from harness.published import load_scores
from tests.faults.conftest import make_data


def _common(tmp_path: Path, model: Path) -> list[str]:
    return [f"model.path={model}", f"data_dir={tmp_path / 'data'}", "tasks=[jsts]", f"cache_dir={tmp_path / 'cache'}",
            "encode.show_progress=false"]


def test_sweep_over_protocols_writes_two_directories_shown_as_two_rows_and_series(tmp_path, tiny_model,
                                                                                 monkeypatch, capsys):
    make_data(tmp_path / "data", sts_rows=20)
    monkeypatch.setattr("harness.paths.RUNS_DIR", tmp_path / "results" / "runs")
    code = main(["run", "-m", *_common(tmp_path, tiny_model), "protocol=mteb,jmteb",
                 f"hydra.sweep.dir={tmp_path}/hydra"])
    assert code == 0, capsys.readouterr().err
    runs = sorted((tmp_path / "results" / "runs" / "all-minilm-l6-v2" / "offline_real").iterdir())
    assert [d.name.split("-")[0] for d in runs] == ["jmteb", "mteb"]
    infos = [json.loads((d / "run.json").read_text()) for d in runs]
    assert [i["label"] for i in infos] == ["all-minilm-l6-v2 [jmteb]", "all-minilm-l6-v2 [mteb]"]
    for directory, info in zip(runs, infos):
        assert directory.name == f"{info['identity']['protocols'][0]}-{info['identity_key']}"
        assert len(info["identity_key"]) == 12 and info["identity"]["weights"] == info["model"]["weights_sha256"]
        score = json.loads((directory / "STS" / "scores_jsts.json").read_text())
        assert score["provenance"]["run_identity"] == info["identity_key"]
    capsys.readouterr()

    assert main(["leaderboard", *map(str, runs), "--format", "csv"]) == 0
    rows = [line.split(",")[:2] for line in capsys.readouterr().out.splitlines()]  # tidy: one line per cell
    # two rows, ordered by their average (equal averages keep source order: the last bits decide, so a set here)
    summary_rows = [model for table, model in rows if table == "Summary"]
    assert sorted(set(summary_rows)) == ["all-minilm-l6-v2 [jmteb]", "all-minilm-l6-v2 [mteb]"]

    assert main(["plot", *map(str, runs), "--output", str(tmp_path / "plots")]) == 0
    from harness.plot import series

    assert set(series(runs, [], None)) == {"all-minilm-l6-v2 [jmteb] (reproduced)",
                                           "all-minilm-l6-v2 [mteb] (reproduced)"}
    assert (tmp_path / "plots" / "STS.png").is_file()


def test_two_identities_never_share_a_directory_silently(tmp_path, tiny_model, capsys):
    make_data(tmp_path / "data", sts_rows=20)
    out = tmp_path / "out"
    assert main(["run", *_common(tmp_path, tiny_model), f"output_dir={out}", "encode.batch_size=4"]) == 0
    first = json.loads((out / "run.json").read_text())
    capsys.readouterr()
    assert main(["run", *_common(tmp_path, tiny_model), f"output_dir={out}", "encode.batch_size=16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"identity {first['identity_key']}" in err[0] and "overwrite=true" in err[0]
    assert json.loads((out / "run.json").read_text()) == first  # untouched
    assert main(["run", *_common(tmp_path, tiny_model), f"output_dir={out}", "encode.batch_size=16",
                 "overwrite=true"]) == 0
    second = json.loads((out / "run.json").read_text())
    assert second["identity_key"] != first["identity_key"] and second["identity"]["batch_size"] == 16


def test_load_scores_names_runs_of_one_model_by_what_differs(tmp_path):
    def run_dir(name: str, model: str, identity: dict | None, key: str | None, label: str | None) -> Path:
        directory = tmp_path / name
        directory.mkdir()
        (directory / "summary.json").write_text(json.dumps({"STS": {"jsts": {"spearman": 0.5}}}))
        info = {"model": {"name": model}}
        if identity is not None:
            info.update(identity=identity, identity_key=key, label=label)
        (directory / "run.json").write_text(json.dumps(info))
        return directory

    base = {"model": "m", "weights": "a" * 64, "encoder": {"dtype": "float32"}, "batch_size": 32,
            "protocols": ["jmteb"]}
    a = run_dir("a", "m", base, "k1", "m [jmteb]")
    b = run_dir("b", "m", {**base, "batch_size": 16}, "k2", "m [jmteb]")
    c = run_dir("c", "m", {**base, "protocols": ["mteb"]}, "k3", "m [mteb]")
    d = run_dir("d", "m", {**base, "weights": "b" * 64, "encoder": {"dtype": "bfloat16"}}, "k4", "m [jmteb]")
    other = run_dir("other", "x", {**base, "model": "x"}, "k5", "x [jmteb]")
    scores, _ = load_scores([a, b, c, d, other])
    assert list(scores) == ["m [jmteb] (batch_size=32, encoder.dtype=float32, weights=aaaaaaaa)",
                            "m [jmteb] (batch_size=16, encoder.dtype=float32, weights=aaaaaaaa)",
                            "m [mteb]",
                            "m [jmteb] (batch_size=32, encoder.dtype=bfloat16, weights=bbbbbbbb)",
                            "x"]  # a model with one run keeps its plain name (today's behaviour)
    # a copy of one run directory, and runs written before identities: told apart by their directory
    copy = run_dir("copy", "m", base, "k1", "m [jmteb]")
    old1, old2 = run_dir("old1", "o", None, None, None), run_dir("old2", "o", None, None, None)
    names = list(load_scores([a, copy, old1, old2])[0])
    assert names == [f"m [jmteb] ({a})", f"m [jmteb] ({copy})", f"o ({old1})", f"o ({old2})"]


def test_distinct_labels_keep_unique_labels():
    assert distinct_labels([("m [jmteb]", {"x": 1}, "k1"), ("m [mteb]", {"x": 1}, "k2")]) == ["m [jmteb]", "m [mteb]"]
