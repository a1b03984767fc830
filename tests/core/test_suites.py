"""Every task YAML parses and every suite plans; the suite sizes are the benchmarks' own."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.config import compose, group_names, plan
from harness.taskspec import load_task, task_names

EXPECTED = {"jmteb_v1": 16, "jmteb_v2": 28, "jmteb_lite": 28, "nanobeir_en": 13, "nanobeir_ja": 13,
            "rosetta_retrieval": 4, "glucose_extra": 2, "offline_real": 8}


def test_every_task_parses():
    for name in task_names():
        assert load_task(name).name == name


@pytest.mark.parametrize("suite", sorted(EXPECTED))
def test_suite_plans_with_its_size(suite):
    assert suite in group_names("suite")
    tasks = plan(compose([f"suite={suite}"])).tasks
    assert len(tasks) == EXPECTED[suite]
    assert len({task.key for task in tasks}) == len(tasks)


def test_list_suites_prints_counts(capsys):
    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    for suite in ("jmteb_v1: 16", "jmteb_v2: 28", "nanobeir_en: 13", "nanobeir_ja: 13"):
        assert suite in out


def test_jmteb_v2_reads_v2_hub_data_and_lite_repoints_the_repository():
    v1 = {t.key: t.spec for t in plan(compose(["suite=jmteb_v1"])).tasks}
    v2 = {t.key: t.spec for t in plan(compose(["suite=jmteb_v2"])).tasks}
    lite = {t.key: t.spec for t in plan(compose(["suite=jmteb_lite"])).tasks}
    assert v1["jsts"].hub["revision"].startswith("ee8819c")
    assert v2["jsts"].hub["revision"] != v1["jsts"].hub["revision"]
    assert lite["jqara"].hub["path"] == "sbintuitions/JMTEB-lite"
    assert "paws_x_ja" in v1 and "paws_x_ja" not in v2


def test_task_at_protocol_entry_runs_under_that_protocol():
    tasks = {t.key: t.protocol for t in plan(compose(["suite=offline_real", "protocol=mteb"])).tasks}
    assert tasks["scifact"] == "mteb" and tasks["scifact_nanobeir"] == "nanobeir"
