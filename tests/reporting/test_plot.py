"""`harness plot`: one PNG per category plus the summary, reproduced and published bars side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.cli import main
from harness.plot import series

ROOT = Path(__file__).resolve().parents[2]


def test_plot_writes_real_pngs_with_every_series(tmp_path, capsys):
    golden = ROOT / "results" / "golden" / "all-minilm-l6-v2" / "offline_real_mteb"
    published = ROOT / "results" / "published" / "all-minilm-l6-v2_mteb.json"
    data = series([golden], [published], None)
    assert set(data) == {"offline_real_mteb (reproduced)", "all-minilm-l6-v2 (published)"}
    assert data["all-minilm-l6-v2 (published)"]["Retrieval"]["scifact"] == ("ndcg_at_10", 0.64508)
    out = tmp_path / "plots"
    assert main(["plot", str(golden), "--published", str(published), "--output", str(out)]) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["Retrieval.png", "STS.png", "summary.png"]
    import matplotlib.image as mpimg

    image = mpimg.imread(out / "Retrieval.png")
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 10  # drawn, not blank
    capsys.readouterr()


def test_plot_several_published_models(tmp_path, capsys):
    published = ROOT / "results" / "published" / "jmteb_v1.json"
    models = "pkshatech/RoSEtta-base-ja,pkshatech/GLuCoSE-base-ja,sbintuitions/sarashina-embedding-v1-1b"
    assert main(["plot", str(published), "--models", models, "--output", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("*.png"))) == 7  # six categories and the summary
    run = tmp_path / "run"
    run.mkdir()
    summary = json.loads(published.read_text())["models"]["pkshatech/RoSEtta-base-ja"]
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "run.json").write_text(json.dumps({"model": {"name": "rosetta-rerun"}}))
    assert main(["plot", str(run), "--published", str(published), "--models", models,
                 "--output", str(tmp_path / "p")]) == 0
    assert len(list((tmp_path / "p").glob("*.png"))) == 7
    assert main(["plot", str(run), "--published", str(published), "--models", "no/such",
                 "--output", str(tmp_path / "q")]) == 2
    assert "none of the models no/such" in capsys.readouterr().err
