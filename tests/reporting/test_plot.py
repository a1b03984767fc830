"""`harness plot`: figures per category, category means and the reproduction view, as PNG, SVG and PDF; the
figures themselves inspected: one row per run identity, error bars from the bootstrap intervals, the axis fitted
to the data, coverage stated, the tolerance band."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.plot import category_figure, reproduction_figure, series, summary_figure  # noqa: E402
from tests.reporting.tiny_run import tiny_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_plot_writes_real_pngs_with_every_series(tmp_path, capsys):
    golden = ROOT / "results" / "golden" / "all-minilm-l6-v2" / "offline_real_mteb"
    published = ROOT / "results" / "published" / "all-minilm-l6-v2_mteb.json"
    data = series([golden], [published], None)
    assert set(data) == {"offline_real_mteb (reproduced)", "all-minilm-l6-v2 (published)"}
    assert data["all-minilm-l6-v2 (published)"].scores["Retrieval"]["scifact"] == {"ndcg_at_10": 0.64508}
    out = tmp_path / "plots"
    assert main(["plot", str(golden), "--published", str(published), "--output", str(out)]) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["Retrieval.png", "STS.png", "reproduction.png", "summary.png"]
    for name in names:  # every figure in the three formats
        stem = out / Path(name).stem
        assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in stem.with_suffix(".svg").read_bytes()[:500]
        assert stem.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
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


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """A tiny real run and its Matryoshka dims 32 and 16: three run identities of one model."""
    with pytest.MonkeyPatch.context() as patch:
        out = tiny_run(tmp_path_factory.mktemp("plot"), patch)
    return [out, out / "dim32", out / "dim16"]


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def _error_bars(ax) -> list:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.has_xerr]


def test_figures_have_one_row_per_run_identity_with_error_bars(runs):
    data = series(runs, [ROOT / "results" / "published" / "glucose_jsts.json"], None)
    labels = [f"tiny-hash [card+jmteb+nanobeir]{d} (reproduced)" for d in ("", " dim 32", " dim 16")]
    assert set(labels) <= set(data)
    fig = category_figure(data, "Retrieval")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) >= {"jaquad_retrieval (ndcg@10)", "aio3 (accuracy@1)", "mldr_ja (ndcg@10)",
                           "nano_scifact_ja (cosine_ndcg@10)"}
    ax = panels["jaquad_retrieval (ndcg@10)"]
    assert set(labels) <= set(_labels(ax))
    (bars,) = _error_bars(ax)  # the runs' bootstrap intervals
    _, _, (xerr,) = bars.lines
    assert len(xerr.get_segments()) == 3 and all(seg[0][0] < seg[1][0] for seg in xerr.get_segments())
    low, high = ax.get_xlim()
    values = [p for p in bars.lines[0].get_xdata()]
    assert low > 0 and low > min(values) - (max(values) - min(values))  # fitted to the data, not from 0
    plt.close(fig)


def test_summary_states_coverage_and_reproduction_draws_the_tolerance_band(runs):
    published = ROOT / "results" / "published" / "glucose_jsts.json"
    data = series(runs, [published], ["pkshatech/GLuCoSE-base-ja"])
    fig = summary_figure(data)
    assert any("different datasets" in t.get_text() and "STS" in t.get_text() for t in fig.texts)
    sts = next(ax for ax in fig.axes if ax.get_title() == "STS")
    notes = {t.get_text() for t in sts.texts}
    assert {"1 dataset", "3 datasets"} <= notes  # the run: jsts, jsick, jsts_valid; the card: jsts
    plt.close(fig)
    # the reproduction view: a run against the published figures of its model, per dataset
    fig = reproduction_figure(series([ROOT / "results" / "golden" / "hash-encoder" / "offline_real_mteb"],
                                     [ROOT / "results" / "published" / "all-minilm-l6-v2_mteb.json"], None))
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert _labels(ax) and any(isinstance(c, PolyCollection) for c in ax.collections)  # tolerance bands
    assert _error_bars(ax)
    plt.close(fig)


def test_sixty_series_stay_one_row_each(tmp_path):
    """Both JMTEB leaderboards (70 series; a model in both files is two series, named by file)."""
    published = [ROOT / "results" / "published" / f"jmteb_v{v}.json" for v in (1, 2)]
    data = series(published, [], None)
    assert len(data) >= 60 and "pkshatech/RoSEtta-base-ja (jmteb_v2)" in data
    fig = summary_figure(data)
    ax = fig.axes[0]  # the panels share one row per series, labelled on the first panel of each line
    assert len(_labels(ax)) == len(data) == len(set(_labels(ax)))
    assert fig.get_figheight() >= 0.2 * len(data)  # a row's height per series, not squeezed
    plt.close(fig)


def test_panels_draw_the_published_metric_and_leave_out_a_series_without_it(capsys):
    """A run scored under MTEB (main metric cosine_spearman, also holding spearman) beside the card's spearman:
    the panel is spearman and the run's spearman is drawn; a run with only cosine_spearman is left out of the
    dataset panel and of the category mean, with a warning, never drawn as if it were spearman."""
    from harness.plot import Series

    data = {"run": Series("run", "reproduced", "m", {"STS": {"jsts": {"cosine_spearman": 0.70, "spearman": 0.71}}}),
            "other": Series("other", "reproduced", "m", {"STS": {"jsts": {"cosine_spearman": 0.60}}}),
            "card": Series("card", "published", "m", {"STS": {"jsts": {"spearman": 0.80}}})}
    for figure in (category_figure(data, "STS"), summary_figure(data)):
        (ax,) = [a for a in figure.axes if a.get_visible()]
        assert ax.get_title() in ("jsts (spearman)", "STS")
        assert set(_labels(ax)) == {"run", "card"}
        xs = sorted(round(x, 4) for line in ax.lines for x in line.get_xdata())
        assert 71.0 in xs and 80.0 in xs and 70.0 not in xs and 60.0 not in xs
        plt.close(figure)
    assert "other" in capsys.readouterr().err
