"""Reference parity with the real all-MiniLM-L6-v2 on the real data in ../shared/data.

MTEB published (results/published/all-minilm-l6-v2_mteb.json): JSTS cosine Spearman 0.62647,
SciFact nDCG@10 0.64508, JaQuAD nDCG@10 0.09144. These runs take minutes on a CPU; they share one
embedding cache so every text is embedded once per session.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer

from harness.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mteb_run(tmp_path_factory, minilm_path, shared_data, embedding_cache):
    out = tmp_path_factory.mktemp("mteb-run")
    code = main(["run", "model=all-minilm-l6-v2", f"model.path={minilm_path}", "suite=offline_real",
                 "tasks=[jsts,scifact,jaquad_retrieval]", "protocol=mteb", f"data_dir={shared_data}",
                 f"output_dir={out}", f"cache_dir={embedding_cache}"])
    assert code == 0
    return out


def test_golden_results_gate(mteb_run):
    """CI's regression gate: the committed golden results of this run, through `harness check`."""
    from harness.paths import RESULTS_DIR

    golden = RESULTS_DIR / "golden" / "all-minilm-l6-v2" / "offline_real_mteb"
    assert main(["check", "--baseline", str(golden), "--results", str(mteb_run), "--tolerance", "1e-4"]) == 0


def test_mteb_published_numbers(mteb_run):
    summary = json.loads((mteb_run / "summary.json").read_text())
    assert abs(summary["STS"]["jsts"]["cosine_spearman"] - 0.62647) <= 1e-4
    assert abs(summary["Retrieval"]["scifact"]["ndcg_at_10"] - 0.64508) <= 2e-4
    assert abs(summary["Retrieval"]["jaquad_retrieval"]["ndcg_at_10"] - 0.0914) <= 5e-4


def test_jmteb_jsts_picks_cosine_and_equals_direct_computation(tmp_path, minilm_path, shared_data,
                                                               embedding_cache):
    out = tmp_path / "jmteb"
    assert main(["run", f"model.path={minilm_path}", "tasks=[jsts]", "protocol=jmteb", f"data_dir={shared_data}",
                 f"output_dir={out}", f"cache_dir={embedding_cache}"]) == 0
    scores = json.loads((out / "STS" / "scores_jsts.json").read_text())
    # JMTEB's own names in score files (sic "manhatten")
    assert scores["details"]["optimal_similarity_metric"] == "cosine_similarity"
    assert set(scores["details"]["val_scores"]) == {"cosine_similarity", "manhatten_distance", "euclidean_distance",
                                                    "dot_score"}
    # "euclidean" in JMTEB is negative Manhattan: the same scores up to float32 rounding of sqrt(x^2).
    manhattan, euclid = (scores["details"]["val_scores"][k] for k in ("manhatten_distance", "euclidean_distance"))
    assert manhattan["spearman"] == pytest.approx(euclid["spearman"], abs=1e-9)
    assert manhattan["pearson"] == pytest.approx(euclid["pearson"], abs=1e-9)

    rows = [json.loads(line) for line in (shared_data / "jsts" / "test.jsonl").read_text().splitlines()]
    model = SentenceTransformer(minilm_path, device="cpu")
    e1 = model.encode([r["sentence1"] for r in rows], batch_size=32)
    e2 = model.encode([r["sentence2"] for r in rows], batch_size=32)
    # The reference's own arithmetic: JMTEB's STS cosine is sentence-transformers' pairwise_cos_sim on the
    # float32 embeddings (normalise, multiply, sum). Six identical-sentence pairs sit within 1e-6 of cos 1,
    # so any other rounding (float64, sklearn) reorders them and moves Spearman by ~1e-5.
    import torch
    from sentence_transformers.util import pairwise_cos_sim

    cosine = pairwise_cos_sim(torch.from_numpy(e1), torch.from_numpy(e2)).numpy()
    direct = spearmanr([r["label"] for r in rows], cosine).statistic
    assert abs(scores["metric_value"] - direct) <= 1e-6
    assert scores["metric_name"] == "spearman"


def test_nanobeir_scifact_equals_sentence_transformers_evaluator(tmp_path, minilm_path, shared_data,
                                                                 embedding_cache):
    """protocol=nanobeir is sentence-transformers 6.2's InformationRetrievalEvaluator, key for key."""
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    out = tmp_path / "nanobeir"
    assert main(["run", f"model.path={minilm_path}", "suite=offline_real", "tasks=[scifact]", "protocol=nanobeir",
                 f"data_dir={shared_data}", f"output_dir={out}", f"cache_dir={embedding_cache}"]) == 0
    ours = json.loads((out / "Retrieval" / "scores_scifact.json").read_text())["details"]["test_scores"]
    ours = {f"{fn}_{metric}": value for fn, scores in ours.items() for metric, value in scores.items()}
    # the data as the evaluator's docstring prepares it; scripts/bench_retrieval_task.py times the same pair
    from scripts._bench_util import st_ir_inputs

    queries, corpus, relevant = st_ir_inputs(shared_data / "scifact")
    evaluator = InformationRetrievalEvaluator(queries, corpus, relevant, name="scifact", batch_size=32)
    theirs = evaluator(SentenceTransformer(minilm_path, device="cpu"))
    theirs = {key.removeprefix("scifact_"): value for key, value in theirs.items()}
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert abs(ours[key] - value) <= 1e-6, key
