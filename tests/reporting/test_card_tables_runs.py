"""Every card table with a user's rows from a tiny real run (full size and two Matryoshka dims, one row each):
filled where the run scored the card's task and metric, "—" plus one warning line per row naming the missing
cells where it did not; rendered output compared with committed golden files (regenerate with
HARNESS_REGENERATE_GOLDEN=1 and review the diff)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.leaderboard import build, load_spec
from harness.leaderboard_render import formatted
from tests.reporting.tiny_run import tiny_run

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
TABLES = sorted(p.stem for p in (ROOT / "conf" / "tables").glob("*.yaml"))
RUN = "tiny-hash [card+jmteb+nanobeir]"


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory) -> list[Path]:
    with pytest.MonkeyPatch.context() as patch:
        out = tiny_run(tmp_path_factory.mktemp("tiny"), patch)
    return [out, out / "dim32", out / "dim16"]


def test_there_are_nine_card_tables():
    assert len(TABLES) == 9


@pytest.mark.parametrize("table", TABLES)
def test_card_table_with_a_runs_rows_equals_golden(table, run_dirs, capsys):
    assert main(["leaderboard", *map(str, run_dirs), "--table", table]) == 0
    captured = capsys.readouterr()
    text = (captured.out + "\n# stderr\n" + captured.err).replace(str(run_dirs[0]), "<run>")
    golden = GOLDEN / f"{table}.md"
    if os.environ.get("HARNESS_REGENERATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    complete = table in ("glucose_aio3", "glucose_jsts")  # the tiny run has every task of these two
    for label in (RUN, f"{RUN} dim 32", f"{RUN} dim 16"):  # Matryoshka dims: a row (or table) each
        assert label in captured.out
        assert (f"row '{label}' has no result for" in captured.err) != complete


def _run_row(table: str, run_dirs) -> list[str]:
    tables, _ = build(load_spec(table), run_dirs)
    return next(r for t in tables for r in formatted(t) if r[0] == RUN)


def test_cells_the_run_scored_are_filled(run_dirs):
    jsts = _run_row("glucose_jsts", run_dirs)
    assert "—" not in jsts                                   # jsts_valid: spearman and pearson
    assert "—" not in _run_row("glucose_aio3", run_dirs)      # accuracy@1/5/10/50
    rosetta = _run_row("rosetta_retrieval", run_dirs)
    assert rosetta[1:4] == ["—", "—", "—"] and rosetta[4] != "—"  # the run has mldr_ja only
    tables, _ = build(load_spec("sse_nanobeir_ja"), run_dirs)
    mine = next(t for t in tables if t.title.endswith(RUN))
    scifact = next(r for r in formatted(mine) if r[0] == "NanoSciFact")
    assert "—" not in scifact and formatted(mine)[0][1:] == ["—"] * 3  # no mean over 1 of 13 datasets
    v1 = build(load_spec("jmteb_v1"), run_dirs)[0]
    sts = next(t for t in v1 if t.title == "STS")
    row = next(r for r in formatted(sts) if r[0] == RUN)
    assert "—" not in row  # JMTEB's STS: jsts and jsick, both run
    summary = next(r for r in formatted(v1[0]) if r[0] == RUN)
    assert summary[v1[0].header.index("STS")] == row[1] and summary[1] == "—"  # no Avg. over 2 of 16 datasets
    rosetta = build(load_spec("rosetta_jmteb"), run_dirs)[0][0]
    assert next(r for r in formatted(rosetta) if r[0] == RUN)[rosetta.header.index("STS")] == row[1]


def test_partial_run_keeps_its_row_in_every_table(run_dirs):
    for table in TABLES:
        tables, _ = build(load_spec(table), run_dirs)
        labels = [r[0] for t in tables for r in t.rows] + [t.title for t in tables]
        assert any(RUN in str(label) for label in labels), table


def test_a_runs_cell_shows_the_cards_metric_or_a_gap():
    """A run scored under another protocol has another main metric (MTEB's cosine_spearman, not JMTEB's
    spearman): its own number must not appear under the card's metric. A run that also holds the card's metric
    shows that one."""
    from harness.card_tables import Gaps, category_values, reference_tasks

    scores = {"published": {"STS": {"jsts": {"spearman": 0.8, "pearson": 0.79}}},
              "mteb run": {"STS": {"jsts": {"cosine_spearman": 0.7}}},
              "jmteb run": {"STS": {"jsts": {"pearson": 0.6, "spearman": 0.65}}}}
    runs = ["mteb run", "jmteb run"]
    reference = reference_tasks(scores, list(scores), runs, ["STS"])
    assert reference == {"STS": {"jsts": "spearman"}}
    gaps = Gaps("t")
    assert category_values(scores, "mteb run", reference, gaps, is_run=True) == {"STS": [None]}
    assert category_values(scores, "jmteb run", reference, gaps, is_run=True) == {"STS": [0.65]}
    assert gaps.lines == ["t: row 'mteb run' has no result for jsts (spearman); shown as —"]


def test_runs_only_the_first_runs_metric_names_the_column_and_the_others_show_it_or_a_gap(tmp_path, capsys):
    """Without a published row the column is still named after one metric (the first run's): a second run scored
    under another protocol (cosine_spearman) or with another main metric (accuracy) shows "—" and a warning,
    never its own number under the first run's metric name."""
    from harness.card_tables import reference_tasks
    from harness.cli import main

    scores = {"a": {"STS": {"jsts": {"spearman": 0.8}},
                    "Classification": {"amazon_review_classification": {"macro_f1": 0.5, "accuracy": 0.55}}},
              "b": {"STS": {"jsts": {"cosine_spearman": 0.7}},
                    "Classification": {"amazon_review_classification": {"accuracy": 0.6}}}}
    assert reference_tasks(scores, ["a", "b"], ["a", "b"], ["STS", "Classification"]) == {
        "STS": {"jsts": "spearman"}, "Classification": {"amazon_review_classification": "macro_f1"}}
    for name, summary in scores.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    assert main(["leaderboard", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    cells = {tuple(line.split(",")[:3]): line.split(",")[3] for line in captured.out.splitlines()[1:]}
    assert not any(value in ("70.00", "0.7", "60.00", "0.6") for (_, row, _), value in cells.items() if row == "b")
    assert "row 'b' has no result for jsts (spearman)" in captured.err
