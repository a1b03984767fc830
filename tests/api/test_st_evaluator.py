"""HarnessEvaluator: a sentence-transformers evaluator running harness tasks with the harness's protocols,
inside SentenceTransformerTrainer and in a model.evaluate loop."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import harness
from harness.data import DataSource
from harness.st_evaluator import HarnessEvaluator
from tests.conftest import CORPUS

TASKS = ["jsts", "scifact", "paws_x_ja"]


def test_trainer_calls_it_at_each_evaluation_step_and_logs_the_harness_keys(tiny_model, tiny_data, tmp_path):
    pytest.importorskip("accelerate")
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(tiny_model), device="cpu")
    evaluator = HarnessEvaluator(tasks=TASKS, protocol="mteb", data_dir=str(tiny_data))
    train = Dataset.from_dict({"anchor": CORPUS[:8], "positive": CORPUS[2:]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "train"), max_steps=2, per_device_train_batch_size=4, learning_rate=5e-2,
        eval_strategy="steps", eval_steps=1, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
        seed=3)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                         loss=MultipleNegativesRankingLoss(model), evaluator=evaluator)
    trainer.train()
    evals = [entry for entry in trainer.state.log_history if "eval_mean" in entry]
    assert [e["step"] for e in evals] == [1, 2]
    keys = {"eval_jsts_cosine_spearman", "eval_scifact_ndcg_at_10", "eval_paws_x_ja_max_ap", "eval_mean"}
    assert all(keys <= set(e) for e in evals)
    assert evaluator.primary_metric == "mean"
    # the weights changed between the two evaluations, and so did the scores
    assert evals[0]["eval_scifact_ndcg_at_10"] != evals[1]["eval_scifact_ndcg_at_10"] or \
        evals[0]["eval_jsts_cosine_spearman"] != evals[1]["eval_jsts_cosine_spearman"]
    # the last evaluation is harness.evaluate on the final weights, value for value
    direct = harness.evaluate(model, tasks=TASKS, protocol="mteb", data_dir=str(tiny_data), cache=False,
                              encode={"show_progress": False})
    for task, (metric, value) in direct.main.items():
        assert evals[1][f"eval_{task}_{metric}"] == value
    assert evals[1]["eval_mean"] == pytest.approx(np.mean([v for _, v in direct.main.values()]), abs=0)
    # the run's files for each evaluation, under the trainer's eval output
    written = sorted(p.relative_to(tmp_path / "train" / "eval").as_posix()
                     for p in (tmp_path / "train" / "eval").glob("harness/*/STS/scores_jsts.json"))
    assert written == ["harness/epoch0.5-steps1/STS/scores_jsts.json", "harness/epoch1-steps2/STS/scores_jsts.json"]


def test_data_read_once_nothing_cached_random_state_kept(tiny_model, tiny_data, tmp_path, monkeypatch):
    opened = []
    original_open = DataSource._open

    def spy(self, task, part):
        opened.append((task.name, part))
        return original_open(self, task, part)

    monkeypatch.setattr(DataSource, "_open", spy)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    model = SentenceTransformer(str(tiny_model), device="cpu")
    evaluator = HarnessEvaluator(tasks=TASKS, protocol="mteb", data_dir=str(tiny_data), name="ja")
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    first = evaluator(model)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected  # the caller's streams, untouched
    reads = len(opened)
    assert reads == 5  # jsts test, paws_x_ja test, scifact corpus/queries/qrels
    second = model.evaluate(evaluator)  # the model.evaluate route, same weights: same metrics
    assert len(opened) == reads and second == first
    assert set(first) == {"ja_jsts_cosine_spearman", "ja_scifact_ndcg_at_10", "ja_paws_x_ja_max_ap", "ja_mean"}
    assert evaluator.primary_metric == "ja_mean"
    assert not (tmp_path / "cache").exists()  # no embedding cached
    with torch.no_grad():
        next(model.parameters()).mul_(2.0)
    changed = evaluator(model)
    fresh = harness.evaluate(model, tasks=TASKS, protocol="mteb", data_dir=str(tiny_data), cache=False,
                             encode={"show_progress": False})
    assert changed["ja_jsts_cosine_spearman"] == fresh["jsts"].metric_value


def test_one_task_is_its_own_primary_metric(tiny_model, tiny_data):
    model = SentenceTransformer(str(tiny_model), device="cpu")
    evaluator = HarnessEvaluator(tasks=["jsts"], protocol="jmteb", data_dir=str(tiny_data))
    metrics = evaluator(model)
    assert evaluator.primary_metric == "jsts_spearman" and list(metrics) == ["jsts_spearman"]
    details = evaluator.last["jsts"].details  # the full score record of the last call, JMTEB's selection included
    assert set(details["val_scores"]) == {"cosine_similarity", "manhatten_distance", "euclidean_distance",
                                          "dot_score"}
