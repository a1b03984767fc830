"""protocol=nanobeir with a model whose config defines `query` / `document` prompts: the harness's numbers are
sentence-transformers' InformationRetrievalEvaluator's (which embeds with encode_query / encode_document, so it
applies those prompts), key for key, on the same data."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from sentence_transformers import SentenceTransformer

try:  # sentence-transformers 6
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
except ImportError:  # 5.x (the lock, constraints.txt)
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

from harness.cli import main
from tests.conftest import CORPUS, TINY_PROMPTS, write_jsonl

TASK = "nano_scifact_ja"  # a NanoBEIR task (BEIR layout, protocol nanobeir, name NanoSciFact)


def _beir_data(root):
    """A small BEIR-layout dataset: documents and queries made of the tiny tokenizer's sentences."""
    rng = random.Random(7)
    # distinct texts (ordered pairs of sentences): no two documents tie, so no number turns on how each
    # library orders equal scores
    pairs = list(itertools.permutations(range(len(CORPUS)), 2))
    rng.shuffle(pairs)
    docs = {f"doc{i}": f"{CORPUS[a]} {CORPUS[b]}" for i, (a, b) in enumerate(pairs[:40])}
    queries = {f"q{i}": f"{CORPUS[i % 10]} {CORPUS[(i + 4) % 10]}" for i in range(12)}
    relevant = {qid: set(rng.sample(sorted(docs), rng.randint(1, 3))) for qid in queries}
    folder = root / TASK
    write_jsonl(folder / "corpus.jsonl", [{"_id": d, "title": "", "text": t} for d, t in docs.items()])
    write_jsonl(folder / "queries.jsonl", [{"_id": q, "text": t} for q, t in queries.items()])
    write_jsonl(folder / "qrels.jsonl", [{"query-id": q, "corpus-id": d, "score": 1}
                                         for q, ds in relevant.items() for d in sorted(ds)])
    return queries, docs, relevant


@pytest.fixture(scope="module")
def nanobeir_run(tmp_path_factory, tiny_model_with_prompts):
    root = tmp_path_factory.mktemp("nanobeir")
    queries, docs, relevant = _beir_data(root / "data")
    out = root / "out"
    code = main(["run", f"model.path={tiny_model_with_prompts}", "suite=nanobeir_ja", f"tasks=[{TASK}]",
                 f"data_dir={root / 'data'}", f"output_dir={out}", "cache=false", "encode.show_progress=false"])
    assert code == 0
    return out, (queries, docs, relevant)


def test_harness_equals_sentence_transformers_evaluator_with_the_models_prompts(nanobeir_run,
                                                                                  tiny_model_with_prompts):
    out, (queries, docs, relevant) = nanobeir_run
    ours = json.loads((out / "nanobeir.json").read_text())
    model = SentenceTransformer(str(tiny_model_with_prompts), device="cpu")
    assert model.prompts == TINY_PROMPTS
    theirs = InformationRetrievalEvaluator(queries, docs, relevant, name="NanoSciFact", write_csv=False)(model)
    per_dataset = {k: v for k, v in ours.items() if k.startswith("NanoSciFact_")}
    assert per_dataset.keys() == theirs.keys() and len(theirs) == 15
    for key, value in theirs.items():
        assert per_dataset[key] == pytest.approx(value, abs=1e-12), key
    # the prompts matter: without them the evaluator's numbers are others
    plain = InformationRetrievalEvaluator(queries, docs, relevant, name="NanoSciFact", write_csv=False,
                                          query_prompt="", corpus_prompt="")(model)
    assert any(abs(plain[k] - theirs[k]) > 1e-6 for k in theirs)


def test_score_file_records_the_prompts_used(nanobeir_run):
    out, _ = nanobeir_run
    provenance = json.loads((out / "Retrieval" / f"scores_{TASK}.json").read_text())["provenance"]
    assert provenance["prompts"] == TINY_PROMPTS
    assert provenance["prompt_profile"] is None  # all-minilm-l6-v2's config has no prompts of its own
