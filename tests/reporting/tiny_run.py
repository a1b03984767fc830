"""A tiny real run for the reporting tests: `harness run` on a few small tasks, one per card-table kind (JMTEB STS
and retrieval, the GLuCoSE card's JSTS valid and AIO3, the RoSEtta card's MLDR-ja, one NanoBEIR-ja dataset), with
the golden test's hashed-bigram encoder and Matryoshka dims 32 and 16. The card tables' other tasks are not run,
so every table has both filled cells and "—" cells."""

from __future__ import annotations

import random
from pathlib import Path

from harness.cli import main
from tests.conftest import CORPUS, write_jsonl
from tests.core.test_golden_scores import HashEncoder

TASKS = ["jsts", "jsick", "jsts_valid", "jaquad_retrieval", "aio3", "mldr_ja", "nano_scifact_ja"]
DIMS = (32, 16)


def _sts(rng: random.Random, n: int) -> list[dict]:
    return [{"sentence1": rng.choice(CORPUS) + " " + rng.choice(CORPUS), "sentence2": rng.choice(CORPUS),
             "label": round(rng.uniform(0, 5), 1)} for _ in range(n)]


def make_data(root: Path) -> None:
    rng = random.Random(0)
    write_jsonl(root / "jsts" / "train.jsonl", _sts(rng, 30))
    write_jsonl(root / "jsts" / "test.jsonl", _sts(rng, 30))
    write_jsonl(root / "jsick" / "validation.jsonl", _sts(rng, 30))
    write_jsonl(root / "jsick" / "test.jsonl", _sts(rng, 30))
    docs = [{"docid": f"d{i}", "title": "", "text": f"{CORPUS[i % 10]} {CORPUS[i // 10]}"} for i in range(60)]
    write_jsonl(root / "jaquad_retrieval" / "corpus.jsonl", docs)
    write_jsonl(root / "jaquad_retrieval" / "test.jsonl",
                [{"qid": f"q{i}", "query": CORPUS[i % 10], "relevant_docs":
                  list(dict.fromkeys([f"d{i}", f"d{(i * 7) % 60}"]))}  # q0: d0 once
                 for i in range(20)])
    write_jsonl(root / "aio3" / "corpus.jsonl", docs)
    write_jsonl(root / "aio3" / "dev.jsonl",
                [{"qid": f"q{i}", "query": CORPUS[i % 10], "answers": [CORPUS[i % 10][:3]]} for i in range(20)])
    write_jsonl(root / "mldr_ja" / "corpus.jsonl", [{"docid": d["docid"], "text": d["text"]} for d in docs])
    write_jsonl(root / "mldr_ja" / "test.jsonl",
                [{"qid": f"q{i}", "query": CORPUS[i % 10], "relevant_docs": [f"d{i}"]} for i in range(20)])
    write_jsonl(root / "nano_scifact_ja" / "corpus.jsonl",
                [{"_id": d["docid"], "title": "", "text": d["text"]} for d in docs])
    write_jsonl(root / "nano_scifact_ja" / "queries.jsonl",
                [{"_id": f"q{i}", "text": CORPUS[i % 10]} for i in range(20)])
    write_jsonl(root / "nano_scifact_ja" / "qrels.jsonl",
                [{"query-id": f"q{i}", "corpus-id": f"d{i}", "score": 1} for i in range(20)])


def tiny_run(root: Path, monkeypatch, tasks: list[str] = TASKS, dims=DIMS) -> Path:
    """Runs the tasks into <root>/out (dims in out/dim<d>) and returns out."""
    make_data(root / "data")
    monkeypatch.setattr("harness.runner.build_encoder", HashEncoder)
    out = root / "out"
    # a suite of our own: glucose_extra's file (no mirror gaps) with these tasks, each under its default protocol
    args = ["run", f"data_dir={root / 'data'}", "suite=glucose_extra", "suite.protocol=null", "suite.name=tiny",
            f"suite.tasks=[{','.join(tasks)}]", f"output_dir={out}", "cache=false", "model.path=hash-encoder",
            "model.name=tiny-hash", "encode.show_progress=false"]
    if dims:
        args.append(f"+model.truncate_dims=[{','.join(map(str, dims))}]")
    assert main(args) == 0
    return out
