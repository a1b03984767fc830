"""`harness report`: cells, verdicts, bootstrap intervals from per-item values, paired comparison, provenance."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.cli import main
from harness.results import TaskResult, write_results
from harness.scoring import bootstrap
from tests.conftest import CORPUS, write_jsonl

PUBLISHED = Path(__file__).resolve().parents[2] / "results" / "published" / "all-minilm-l6-v2_mteb.json"


def _result(task, category, metric, value, per_item=None):
    details = {"per_item": per_item} if per_item else {}
    return TaskResult(task, category, "sts" if category == "STS" else "retrieval", "mteb", metric, value, details,
                      {"model": {"name": "all-minilm-l6-v2", "path": "/m", "revision": "r"}, "seed": 0,
                       "device": "cpu", "versions": {"numpy": "2"}, "harness_git_revision": "abc",
                       "dataset": {"task_file": f"{task}.yaml", "parts": {}}})


def _run(tmp_path, name, jsts, scifact=None, jaquad=None):
    values = [0.0, 1.0, 1.0, 0.5]
    results = [_result("jsts", "STS", "cosine_spearman", jsts)]
    if scifact is not None:
        results.append(_result("scifact", "Retrieval", "ndcg_at_10", scifact,
                               bootstrap.pack("mean", ids=list("abcd"), values=values)))
    if jaquad is not None:
        results.append(_result("jaquad_retrieval", "Retrieval", "ndcg_at_10", jaquad))
    out = tmp_path / name
    write_results(out, results, {"model": {"name": "all-minilm-l6-v2"}, "suite": "offline_real"})
    return out


def test_verdicts_per_cell_and_overall(tmp_path, capsys):
    good = _run(tmp_path, "good", 0.62646, 0.64508, 0.0916)
    assert main(["report", str(good), "--published", str(PUBLISHED)]) == 0
    text = (good / "report.md").read_text()
    assert "**Overall: PASS**" in text
    assert "| jsts | cosine_spearman | 0.62646 | 0.62647 | -0.00001 | 0.0001 | pass |" in text
    assert "| jaquad_retrieval | ndcg_at_10 | 0.09160 | 0.09144 | +0.00016 | 0.0005 | pass |" in text
    # scifact carries per-item values [0, 1, 1, 0.5]: its interval lies within [0, 1] around 0.625
    data = json.loads((good / "report.json").read_text())
    ci = data["intervals"]["scifact"]
    assert ci["point"] == 0.625 and 0.0 <= ci["low"] < 0.625 < ci["high"] <= 1.0 and ci["seed"] == 0
    assert "- harness git revision: abc" in text and "- seed: 0" in text

    bad = _run(tmp_path, "bad", 0.6262, 0.64508, 0.0916)
    main(["report", str(bad), "--published", str(PUBLISHED)])
    text = (bad / "report.md").read_text()
    assert "**Overall: FAIL**" in text and "| -0.00027 | 0.0001 | FAIL |" in text
    partial = _run(tmp_path, "partial", 0.62647)
    main(["report", str(partial), "--published", str(PUBLISHED), "--tolerance", "jsts=1e-6"])
    text = (partial / "report.md").read_text()
    assert "**Overall: INCOMPLETE**" in text and "| scifact | ndcg_at_10 | - | 0.64508 | - | 0.0002 | not run |" in text
    capsys.readouterr()


def test_report_without_published_lists_scores_and_bad_input_is_one_line(tmp_path, capsys):
    run = _run(tmp_path, "run", 0.5, 0.625)
    assert main(["report", str(run)]) == 0
    text = (run / "report.md").read_text()
    assert "| scifact | ndcg_at_10 | 0.62500 | [" in text and "| jsts | cosine_spearman | 0.50000 | - (no" in text
    capsys.readouterr()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no score files" in capsys.readouterr().err
    multi = Path(__file__).resolve().parents[2] / "results" / "published" / "jmteb_v1.json"
    assert main(["report", str(run), "--published", str(multi)]) == 2
    assert "choose one with --model" in capsys.readouterr().err


def _tiny_data(root: Path) -> None:
    rng = random.Random(0)
    rows = lambda n: [{"sentence1": rng.choice(CORPUS) + " " + rng.choice(CORPUS), "sentence2": rng.choice(CORPUS),  # noqa: E731
                       "label": round(rng.uniform(0, 5), 1)} for _ in range(n)]
    write_jsonl(root / "jsts" / "train.jsonl", rows(40))
    write_jsonl(root / "jsts" / "test.jsonl", rows(30))
    docs = [{"docid": f"d{i}", "title": "", "text": f"{CORPUS[i % 10]} {CORPUS[i // 10]}"} for i in range(60)]
    queries = [{"qid": f"q{i}", "query": CORPUS[i % 10], "relevant_docs":
                  list(dict.fromkeys([f"d{i}", f"d{(i * 7) % 60}"]))}  # q0: d0 once
               for i in range(20)]
    write_jsonl(root / "jaquad_retrieval" / "corpus.jsonl", docs)
    write_jsonl(root / "jaquad_retrieval" / "test.jsonl", queries)


@pytest.mark.parametrize("protocol", ["jmteb", "mteb"])
def test_per_item_values_reproduce_the_main_metric(tmp_path, tiny_model, protocol):
    data = tmp_path / "data"
    _tiny_data(data)
    out = tmp_path / "out"
    assert main(["run", f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jsts,jaquad_retrieval]",
                 f"protocol={protocol}", f"output_dir={out}", f"cache_dir={tmp_path}/cache",
                 "encode.show_progress=false"]) == 0
    for part in ("STS/scores_jsts.json", "Retrieval/scores_jaquad_retrieval.json"):
        score = json.loads((out / part).read_text())
        statistic, arrays = bootstrap.unpack(score["details"]["per_item"])
        # mteb retrieval rounds its mean to 5 decimals; the per-query values are unrounded
        assert bootstrap.point(statistic, arrays) == pytest.approx(score["metric_value"], abs=5e-6)
        assert statistic == ("mean" if "Retrieval" in part else "spearman")


def test_jsts_spearman_interval_is_stable_across_two_runs(tmp_path, tiny_model, shared_data, capsys):
    """Acceptance: the bootstrap interval of JSTS Spearman is reported, identical for two runs with one seed."""
    runs = []
    for name in ("first", "second"):  # the second run reads the embeddings from the cache: same vectors, new scores
        out = tmp_path / name
        assert main(["run", f"model.path={tiny_model}", f"data_dir={shared_data}", "tasks=[jsts]", "protocol=mteb",
                     f"output_dir={out}", f"cache_dir={tmp_path}/cache", "encode.show_progress=false"]) == 0
        assert main(["report", str(out), "--seed", "11"]) == 0
        runs.append(json.loads((out / "report.json").read_text()))
    first, second = (r["intervals"]["jsts"] for r in runs)
    assert first == second and first["n"] == 1457 and first["seed"] == 11
    assert first["low"] < runs[0]["scores"]["jsts"]["value"] < first["high"]
    assert first["point"] == pytest.approx(runs[0]["scores"]["jsts"]["value"], abs=1e-9)
    # the paired comparison of a run with its twin: no difference, p = 1
    assert main(["report", str(tmp_path / "second"), "--compare", str(tmp_path / "first")]) == 0
    text = (tmp_path / "second" / "report.md").read_text()
    assert "## Paired comparison with" in text and "| +0.00000 | [+0.00000, +0.00000] | 1.0000 |" in text
    capsys.readouterr()


def test_timings_and_cache_statistics_are_tables(tmp_path, capsys):
    from harness.report import markdown

    data = {"model": "m", "suite": "s", "published": None, "cells": [], "overall": None, "scores": {},
            "intervals": {}, "marks": [],
            "provenance": {"results": "out", "seconds per task": {"jsts": 1.5, "scifact": 12.25},
                           "embedding cache": {"dir": "/c", "hit_texts": 10, "miss_texts": 5}}}
    text = markdown(data)
    assert "{" not in text  # no dict reprs
    assert "## Timings\n\n| task | seconds |\n|---|---:|\n| jsts | 1.5 |\n| scifact | 12.25 |" in text
    assert "## Embedding cache\n\n| statistic | value |\n|---|---:|\n| dir | /c |\n| hit_texts | 10 |" in text


def test_a_published_metric_among_the_runs_other_figures_is_compared(tmp_path):
    """A card printing Spearman, a run whose main metric is cosine_spearman: the run's summary figures have
    `spearman` too (the chosen similarity's test scores), so the cell is compared, not 'metric differs'; the
    interval (the main metric's) is not shown beside another metric."""
    from harness.report import compare_cells, markdown

    details = {"optimal_similarity_metric": "cosine", "test_scores": {"cosine": {"pearson": 0.80, "spearman": 0.86}}}
    run = TaskResult("jsts", "STS", "sts", "card", "cosine_spearman", 0.86, details, {})
    cells = compare_cells({"jsts": run}, {"jsts": {"spearman": 0.865, "pearson": 0.821}}, {"jsts": 0.01})
    assert [(c.metric, c.reproduced, c.verdict) for c in cells] == [("spearman", 0.86, "pass")]
    other = compare_cells({"jsts": run}, {"jsts": {"kendall": 0.7}}, {"jsts": 0.01})
    assert other[0].verdict == "metric differs"
    data = {"model": "m", "suite": "s", "published": {"model": "m", "file": "f", "source": "card"},
            "cells": [{**c.__dict__, "diff": c.diff} for c in cells], "overall": "PASS",
            "scores": {"jsts": {"metric": "cosine_spearman", "value": 0.86}}, "marks": [], "provenance": {},
            "intervals": {"jsts": {"low": 0.8, "high": 0.9, "level": 0.95, "resamples": 10, "seed": 0}}}
    row = next(line for line in markdown(data).splitlines() if line.startswith("| jsts |"))
    assert row.endswith("| pass | - |")
