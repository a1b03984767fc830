"""Tiny local data for the API tests: JSTS (STS), SciFact (BEIR-schema retrieval) and PAWS-X ja (pair
classification), the tasks whose MTEB definitions harness.mteb_tasks maps; built from conftest's CORPUS."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import CORPUS, write_jsonl


def make_data(root: Path) -> Path:
    rng = random.Random(7)

    def pairs(n, label):
        return [{"sentence1": f"{rng.choice(CORPUS)} {rng.choice(CORPUS)}", "sentence2": rng.choice(CORPUS),
                 "label": label()} for _ in range(n)]

    write_jsonl(root / "jsts" / "train.jsonl", pairs(30, lambda: round(rng.uniform(0, 5), 1)))
    write_jsonl(root / "jsts" / "test.jsonl", pairs(40, lambda: round(rng.uniform(0, 5), 1)))
    write_jsonl(root / "paws_x_ja" / "validation.jsonl", pairs(40, lambda: rng.randint(0, 1)))
    docs = [{"_id": f"d{i}", "title": CORPUS[i % 10], "text": f"{CORPUS[(i * 3) % 10]} {CORPUS[i // 10]}"}
            for i in range(50)]
    write_jsonl(root / "scifact" / "corpus.jsonl", docs)
    write_jsonl(root / "scifact" / "queries.jsonl", [{"_id": f"q{i}", "text": CORPUS[i % 10]} for i in range(12)])
    write_jsonl(root / "scifact" / "qrels.jsonl", [{"query-id": f"q{i}", "corpus-id": f"d{(i * 7) % 50}", "score": 1}
                                                   for i in range(12)])
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("api-data"))
