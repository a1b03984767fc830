"""The four new families are registered and the shipped task files for the local data parse."""

from __future__ import annotations

import yaml

from harness.families import FAMILIES
from harness.paths import CONF_DIR
from harness.taskspec import CATEGORIES, load_task

NEW = {
    "sib200_japanese_classification": ("classification", "Classification", "macro_f1", "accuracy"),
    "amazon_counterfactual_classification": ("classification", "Classification", "macro_f1", "accuracy"),
    "sib200_japanese_clustering": ("clustering", "Clustering", "v_measure_score", "v_measure"),
    "paws_x_ja": ("pair_classification", "PairClassification", "binary_f1", "max_ap"),
}


def test_families_and_categories_registered():
    assert {"classification", "clustering", "pair_classification", "reranking"} <= set(FAMILIES)
    assert {"Classification", "Clustering", "PairClassification", "Reranking"} <= set(CATEGORIES)


def test_task_files_parse_with_both_protocols():
    for name, (family, category, jmteb_main, mteb_main) in NEW.items():
        task = load_task(name)
        assert (task.family, task.category, task.default_protocol) == (family, category, "jmteb")
        assert task.hub["path"] == "sbintuitions/JMTEB" and task.hub["name"] == name and task.hub["script"]
        assert FAMILIES[family].protocol_params(task, "jmteb")["main_metric"] == jmteb_main
        assert FAMILIES[family].protocol_params(task, "mteb")["main_metric"] == mteb_main
    assert load_task("paws_x_ja").splits == {"validation": "validation", "test": "test"}  # as JMTEB defines it
    assert FAMILIES["pair_classification"].protocol_params(load_task("paws_x_ja"), "jmteb")["cosine_as_distance"]
    assert FAMILIES["classification"].protocol_params(
        load_task("amazon_counterfactual_classification"), "mteb")["samples_per_label"] == 32


def test_offline_suite_runs_in_jmteb_order():
    tasks = yaml.safe_load((CONF_DIR / "suite" / "offline_real.yaml").read_text(encoding="utf-8"))["tasks"]
    assert set(NEW) | {"jsts", "jaquad_retrieval", "scifact", "scifact@nanobeir"} == set(tasks)
    order = [CATEGORIES.index(load_task(t.partition("@")[0]).category) for t in tasks]
    assert order == sorted(order)
