"""torchrun --nproc_per_node=2 on CPU (gloo) gives score files identical to a single process."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from harness.encoders.base import group_batches, split_batches
from tests.conftest import CORPUS, ROOT, write_jsonl


def _fixed(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def test_split_batches_cuts_whole_batches_and_covers_everything():
    assert split_batches(_fixed(10, 4), 2) == [(0, 4), (4, 10)]  # 3 batches: [0:4] | [4:8] [8:10]
    assert split_batches(_fixed(8, 4), 2) == [(0, 4), (4, 8)]
    assert split_batches(_fixed(3, 4), 2) == [(0, 0), (0, 3)]  # one batch: rank 0 idle, rank 1 takes it
    assert split_batches([], 3) == [(0, 0), (0, 0), (0, 0)]
    uneven = [(0, 5), (5, 7), (7, 8), (8, 20), (20, 21)]  # token-budget batches vary in size
    assert split_batches(uneven, 2) == [(0, 7), (7, 21)]
    for n, size, world in [(97, 8, 3), (1000, 32, 4), (5, 1, 2)]:
        bounds = split_batches(_fixed(n, size), world)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert all(start % size == 0 for start, _ in bounds)


def test_group_batches_joins_whole_batches_up_to_the_cache_chunk():
    assert group_batches(_fixed(10, 4), 8) == [(0, 8), (8, 10)]
    assert group_batches(_fixed(10, 4), 3) == [(0, 4), (4, 8), (8, 10)]  # a batch is never cut
    assert group_batches([(0, 5), (5, 7), (7, 8), (8, 20)], 8) == [(0, 8), (8, 20)]


def _make_data(root: Path) -> None:
    rng = random.Random(1)

    def sentence() -> str:
        return " ".join(rng.choice(CORPUS) for _ in range(rng.randint(1, 4)))  # varied lengths: real padding

    for split, n in (("train", 30), ("test", 41)):  # JMTEB's validation split is JGLUE's train
        write_jsonl(root / "jsts" / f"{split}.jsonl", [{"sentence1": sentence(), "sentence2": sentence(),
                                                        "label": round(rng.uniform(0, 5), 1)} for _ in range(n)])
    docs = [{"docid": f"d{i}", "title": "", "text": sentence()} for i in range(75)]
    write_jsonl(root / "jaquad_retrieval" / "corpus.jsonl", docs)
    write_jsonl(root / "jaquad_retrieval" / "test.jsonl",
                [{"qid": f"q{i}", "query": sentence(), "relevant_docs": [f"d{rng.randrange(75)}"]} for i in range(21)])


def _harness(prefix: list[str], args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, *prefix, "-m", "harness", "run", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_torchrun_two_ranks_equals_single_process(tmp_path, tiny_model):
    data = tmp_path / "data"
    _make_data(data)
    common = [f"model.path={tiny_model}", f"data_dir={data}", "tasks=[jsts,jaquad_retrieval]", "protocol=jmteb",
              "encode.batch_size=4", "encode.show_progress=false", "encode.dtype=float32"]
    single, multi = tmp_path / "single", tmp_path / "multi"
    _harness([], [*common, f"output_dir={single}", "cache=false"])
    # The distributed run goes through the embedding cache (rank 0 only), as a default run does.
    out = _harness(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"],
                   [*common, f"output_dir={multi}", f"cache_dir={tmp_path / 'cache'}"])
    assert out.count("results written to") == 1  # rank 1 scores and writes nothing
    files = sorted(p.relative_to(single) for p in single.rglob("*.json") if p.name != "run.json")
    assert len(files) == 3  # two score files and summary.json
    assert sorted(p.relative_to(multi) for p in multi.rglob("*.json") if p.name != "run.json") == files
    for name in files:
        assert (multi / name).read_bytes() == (single / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.emb"))  # rank 0 filled the cache
