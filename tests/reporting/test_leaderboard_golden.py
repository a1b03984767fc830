"""Leaderboards from the published per-dataset numbers alone equal JMTEB's leaderboard.md and the cards' tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.leaderboard import average, build, load_scores, load_spec
from harness.leaderboard_render import formatted, render
from harness.tables import Spec

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def _section(text: str, title: str) -> list[str]:
    """The table lines of one '## title' section."""
    block = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in block.splitlines() if line.startswith("|")]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.parametrize("version", [1, 2])
def test_jmteb_leaderboard_equals_golden_cell_for_cell(version):
    golden = (REFERENCE / f"jmteb_v{version}_leaderboard.md").read_text(encoding="utf-8")
    tables, sources = build(load_spec(f"jmteb_v{version}"), [])
    text = render(tables, "md", sources)
    titles = ["Summary"] + [t.title for t in tables[1:]]
    for title in titles:
        ours, theirs = _section(text, title), _section(golden, title)
        assert [_cells(x) for x in ours] == [_cells(x) for x in theirs], title
    assert text == golden  # and byte for byte: widths, alignment, bold, order


def test_summary_rows_v1_spot_values():
    tables, _ = build(load_spec("jmteb_v1"), [])
    rows = {r[0]: r for r in formatted(tables[0])}
    assert rows["pkshatech/RoSEtta-base-ja"] == ["pkshatech/RoSEtta-base-ja", "72.04", "73.21", "81.39", "72.41",
                                                 "92.69", "53.23", "61.74"]
    assert rows["sbintuitions/sarashina-embedding-v1-1b"][1] == "**75.50**"


def _card(name: str) -> dict[str, list[str]]:
    tables, _ = build(load_spec(name), [])
    return {row[0]: row[1:] for row in formatted(tables[0])}


def test_rosetta_card_macro_average():
    assert _card("rosetta_jmteb")["RoSEtta"] == ["72.45", "73.21", "81.39", "72.41", "92.69", "53.23", "61.74"]


def test_sarashina_v1_card_micro_average():
    rows = _card("sarashina_v1_jmteb")
    assert rows["pkshatech/RoSEtta-base-ja"][0] == "72.04"
    assert rows["sbintuitions/sarashina-embedding-v1-1b"] == ["75.50", "77.61", "82.71", "78.37", "93.74", "53.86",
                                                              "62.00"]


def test_sarashina_v2_card_v2_micro():
    rows = _card("sarashina_v2_jmteb")
    assert rows["Sarashina-Embedding-v2-1B (This model)"] == ["76.38", "76.48", "84.22", "77.14", "86.28", "52.56"]
    assert rows["cl-nagoya/ruri-v3-310m"][0] == "75.85"


def test_sse_nanobeir_mean_from_13_datasets():
    tables, _ = build(load_spec("sse_nanobeir_ja"), [])
    table = tables[0]
    assert len(table.rows) == 14 and table.rows[0][0] == "NanoBEIR Mean"
    assert formatted(table)[0] == ["NanoBEIR Mean", "0.4477", "0.5088", "0.3675"]
    assert "mean over the 13 datasets" in table.note


def test_other_card_tables_print_the_cards_numbers():
    assert _card("rosetta_retrieval")["RoSEtta"] == ["79.3", "57.7", "83.8", "32.3"]
    assert _card("glucose_jsts")["pkshatech/GLuCoSE-base-ja"] == ["**0.865**", "**0.821**"]
    assert _card("glucose_aio3")["OpenAI/text-embedding-ada-002"] == ["33.50", "**57.80**", "65.10", "76.60"]


def test_averaging_rules_hand_worked():
    cats = {"A": [0.2, 0.4], "B": [0.9]}
    assert average(cats, "micro") == pytest.approx(0.5)        # (0.2 + 0.4 + 0.9) / 3
    assert average(cats, "macro") == pytest.approx(0.6)        # (0.3 + 0.9) / 2


def test_every_table_names_its_averaging_rule(capsys):
    for spec in sorted((Path(__file__).resolve().parents[2] / "conf" / "tables").glob("*.yaml")):
        assert main(["leaderboard", "--table", spec.stem]) == 0
        out = capsys.readouterr().out
        assert re.search(r"average|Avg\.|no average", out), spec.stem
    assert main(["leaderboard", "--table", "rosetta_jmteb"]) == 0
    assert "_Avg.: macro average" in capsys.readouterr().out


def test_result_directory_joins_a_card_table(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    summary = json.loads((Path(__file__).resolve().parents[2] / "results" / "published" / "jmteb_v1.json")
                         .read_text())["models"]["pkshatech/RoSEtta-base-ja"]
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "run.json").write_text(json.dumps({"model": {"name": "my-rosetta-run"}}))
    assert main(["leaderboard", str(run), "--table", "rosetta_jmteb"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("| my-rosetta-run | 72.45 |") for line in lines)


def test_csv_and_json_carry_unrounded_values(tmp_path):
    tables, sources = build(load_spec("rosetta_jmteb"), [])
    csv_text = render(tables, "csv", sources)
    assert csv_text.splitlines()[0] == "table,row,column,value"  # one tidy table: one header, plain names
    rosetta = [line for line in csv_text.splitlines() if ",RoSEtta,Avg.," in line][0]
    assert float(rosetta.split(",")[3]) == pytest.approx(0.724452, abs=1e-6)
    data = json.loads(render(tables, "json", sources))
    row = [r for r in data["tables"][0]["rows"] if r["Model"] == "RoSEtta"][0]
    assert row["Avg."] == pytest.approx(0.724452, abs=1e-6)
    assert "macro" in data["tables"][0]["note"]
    out = tmp_path / "lb.md"
    assert main(["leaderboard", "--table", "jmteb_v2", "--output", str(out)]) == 0
    assert out.read_text() == (REFERENCE / "jmteb_v2_leaderboard.md").read_text()


def test_bad_specs_and_sources_fail_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    for text, message in [("averaging: median", "field 'averaging'"), ("colour: red", "unknown field 'colour'"),
                          ("card_names: [miracl_ja]", "field 'card_names' must map names to names"),
                          ("row_averaging: {m: median}", "field 'row_averaging.m' must be micro or macro")]:
        bad.write_text(f"layout: categories\n{text}\n")
        with pytest.raises(HarnessError, match=message):
            load_spec(str(bad))
    with pytest.raises(HarnessError, match="unknown table 'nope'"):
        load_spec("nope")
    broken = tmp_path / "summary.json"
    broken.write_text(json.dumps({"STS": {"jsts": {"spearman": "high"}}}))
    with pytest.raises(HarnessError, match=r"STS.jsts.spearman' must be a finite number"):
        load_scores([broken])
    broken.write_text('{"STS": {"jsts": {"spearman": NaN}}}')  # json.loads reads it; a table would print nan
    with pytest.raises(HarnessError, match=r"STS.jsts.spearman' must be a finite number, got nan"):
        load_scores([broken])
    assert main(["leaderboard", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_run_named_like_a_published_model_never_replaces_its_row(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    summary = json.loads((Path(__file__).resolve().parents[2] / "results" / "published" / "jmteb_v1.json")
                         .read_text())["models"]["pkshatech/RoSEtta-base-ja"]
    summary["STS"]["jsts"]["spearman"] = 0.5      # STS mean (0.5 + 0.8383) / 2 = 66.92
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "run.json").write_text(json.dumps({"model": {"name": "pkshatech/RoSEtta-base-ja"}}))
    tables, _ = build(load_spec("rosetta_jmteb"), [run])
    rows = {r[0]: r[1:] for r in formatted(tables[0])}
    assert rows["RoSEtta"][:3] == ["72.45", "73.21", "81.39"]
    assert rows["pkshatech/RoSEtta-base-ja (reproduced)"][2] == "66.92"


def test_a_category_mean_counts_each_dataset_once():
    """offline_real scores SciFact twice (jmteb and nanobeir protocols): the Retrieval mean counts it once."""
    from harness.summary import datasets_once

    assert datasets_once(["jaquad_retrieval", "scifact", "scifact_nanobeir", "jsts_valid", "jsts"]) == \
        ["jaquad_retrieval", "scifact", "jsts_valid", "jsts"]
    run = Path(__file__).resolve().parents[2] / "results" / "golden" / "hash-encoder" / "offline_real_jmteb"
    retrieval = json.loads((run / "summary.json").read_text())["Retrieval"]
    once = (retrieval["jaquad_retrieval"]["ndcg@10"] + retrieval["scifact"]["ndcg@10"]) / 2
    tables, _ = build(Spec(name="runs", layout="jmteb"), [run])
    summary = tables[0]
    assert summary.rows[0][summary.header.index("Retrieval")] == pytest.approx(once)


def test_tidy_csv_round_trips_through_pandas(tmp_path):
    """Every table of a spec, runs' missing cells included, written as CSV and read back by pandas unchanged."""
    import pandas as pd

    from harness.table_frame import tidy, wide

    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"STS": {"jsts": {"spearman": 0.5}}}))
    tables, sources = build(load_spec("jmteb_v1"), [run])
    text = render(tables, "csv", sources)
    assert "<br>" not in text and text.count("table,row,column,value") == 1
    out = tmp_path / "lb.csv"
    out.write_text(text)
    back = pd.read_csv(out)
    pd.testing.assert_frame_equal(back, tidy(tables))
    sts = wide(back, "STS")
    assert sts.loc["run", "jsts (spearman)"] == 0.5 and pd.isna(sts.loc["run", "jsick (spearman)"])
    assert list(sts.columns) == ["Avg.", "jsick (spearman)", "jsts (spearman)"]
    assert sts.loc["cl-nagoya/ruri-large", "jsts (spearman)"] == pytest.approx(0.8426, abs=1e-4)


def test_latex_renders_every_table():
    tables, sources = build(load_spec("jmteb_v1"), [])
    text = render(tables, "latex", sources)
    assert text.count("\\begin{tabular}") == len(tables) == 7
    assert "massive\\_intent (macro\\_f1)" in text  # LaTeX-escaped headers
    assert "sbintuitions/sarashina-embedding-v1-1b & 75.50 & 77.61" in text



def test_two_sources_with_one_name_are_refused_not_merged(tmp_path):
    """Two summary.json files without run.json in directories of one name would be one row (the second
    replacing the first) and would shift plot's pairing of series with directories: refused."""
    for parent, value in (("a", 0.5), ("b", 0.6)):
        folder = tmp_path / parent / "model"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"STS": {"jsts": {"spearman": value}}}))
    with pytest.raises(HarnessError, match="already given by another source"):
        load_scores([tmp_path / "a" / "model", tmp_path / "b" / "model"])
