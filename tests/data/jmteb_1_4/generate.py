"""Regenerate the JMTEB 1.4.0 reference files of tests/families/test_families_jmteb_reference.py.

What it writes (next to this script), with JMTEB's own JsonScoreRecorder:
    Classification/scores_toy_classification.json, Clustering/scores_toy_clustering.json, STS/scores_toy_sts.json,
    Retrieval/scores_toy_retrieval.json, Reranking/scores_toy_reranking.json,
    PairClassification/scores_toy_pair_classification.json, summary.json

How: the toy data (`toy_tasks`) and the toy embedder (`toy_vector`) are imported from the test module itself, so
both sides see the same texts and vectors; the embedder is wrapped as a jmteb TextEmbedder (float32 vectors, as
the test's ToyEncoder gives); the data go into in-memory subclasses of JMTEB's dataset base classes; and
jmteb.__main__.main itself runs JMTEB 1.4.0's evaluators and records them with its JsonScoreRecorder, into a
temporary save_dir (main also writes its embedding cache there), from which the score files and summary.json are
copied here byte for byte.

Reference: JMTEB 1.4.0 = hkazuakey/JMTEB @ da3756b833c41ccb1878d799efd4a274e4b5a348 (= sbintuitions/JMTEB v1.4.0,
"Merge pull request #95 from sbintuitions/dev"). JMTEB 1.4.0 is not on PyPI: install it from that commit's source.

Environment (CPU, Python 3.11.7), a venv of its own, never the project's; jmteb-venv.txt beside this script is its
`pip freeze`: every package at the version of JMTEB's poetry.lock, except torch (2.13.0+cpu here; the lock has
2.9.0 for Python <= 3.11). Made with:
    python3 -m venv /tmp/jmtebvenv
    /tmp/jmtebvenv/bin/pip install torch==2.13.0            # first and pinned (the CPU build: 2.13.0+cpu)
    mkdir /tmp/jmteb-src && git -C JMTEB archive da3756b833c41ccb1878d799efd4a274e4b5a348 | tar -x -C /tmp/jmteb-src
    /tmp/jmtebvenv/bin/pip install -c tests/data/jmteb_1_4/jmteb-venv.txt /tmp/jmteb-src
(first made with constraints read from poetry.lock itself, less torch, nvidia-* and triton; the same versions).
Key versions: jmteb 1.4.0, torch 2.13.0+cpu, numpy 1.26.4, scipy 1.13.1, scikit-learn 1.5.0, transformers 4.57.1,
sentence-transformers 5.1.1, tokenizers 0.22.1, pydantic 2.7.3; `pip check`: no broken requirements.

Command (from the repository root):
    /tmp/jmtebvenv/bin/python tests/data/jmteb_1_4/generate.py

Evaluator settings: JMTEB's defaults (its v1.4 task configs set nothing else; no prefixes), except
- Retrieval: doc_chunk_size=30 and accuracy_at_k=[1, 3, 5, 10, 20, 30, 50] (the test's toy retrieval; ndcg_at_k
  stays [10], so mrr@50);
- Clustering: random_seed=0. JMTEB's default is None (evaluators/clustering/evaluator.py:43): unseeded
  MiniBatchKMeans/BisectingKMeans, a different score each run; the harness passes the run seed, 0 in the test.
Pair classification, float32 as the rest: an earlier run noted that JMTEB's writer crashes on float32
thresholds. It does not under JMTEB's locked numpy 1.26.4: a threshold is (rows[i][0] + rows[i + 1][0]) / 2
(evaluators/pair_classification/threshold_accuracy.py:100, threshold_f1.py:107), and numpy 1.x's value-based
casting makes numpy.float32 / 2 a numpy.float64, which json.dump writes. Under numpy >= 2 (NEP 50) it stays a
numpy.float32 and json.dump in utils/score_recorder.py:32 raises "Object of type float32 is not JSON
serializable": check_versions() below warns of any numpy other than 1.26.4.
Run order: jmteb.jsonnet's (Classification, Clustering, STS, Retrieval, Reranking), then PairClassification (no
v1.4 config has one), with one embedder, as jmteb.__main__ runs them (Retrieval/Reranking switch it to tensor output
for the rest).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from jmteb.__main__ import main as jmteb_main  # noqa: E402
from jmteb.embedders.base import TextEmbedder  # noqa: E402
from jmteb.evaluators.classification import (  # noqa: E402
    ClassificationDataset,
    ClassificationEvaluator,
    ClassificationInstance,
)
from jmteb.evaluators.clustering import ClusteringDataset, ClusteringEvaluator, ClusteringInstance  # noqa: E402
from jmteb.evaluators.pair_classification import (  # noqa: E402
    PairClassificationDataset,
    PairClassificationEvaluator,
    PairClassificationInstance,
)
from jmteb.evaluators.reranking import (  # noqa: E402
    RerankingDoc,
    RerankingDocDataset,
    RerankingEvaluator,
    RerankingQuery,
    RerankingQueryDataset,
)
from jmteb.evaluators.retrieval import (  # noqa: E402
    RetrievalDoc,
    RetrievalDocDataset,
    RetrievalEvaluator,
    RetrievalQuery,
    RetrievalQueryDataset,
)
from jmteb.evaluators.sts import STSDataset, STSEvaluator, STSInstance  # noqa: E402

from tests.families.test_families_jmteb_reference import (  # noqa: E402
    DIM,
    JMTEB_1_4_ACCURACY_AT,
    toy_tasks,
    toy_vector,
)

JMTEB_COMMIT = "da3756b833c41ccb1878d799efd4a274e4b5a348"
EXPECTED = {"jmteb": "1.4.0", "torch": "2.13.0", "numpy": "1.26.4", "scipy": "1.13.1", "scikit-learn": "1.5.0"}


class ToyTextEmbedder(TextEmbedder):
    """The test's toy embedder as a JMTEB TextEmbedder: toy_vector(prefix + text), float32."""

    def __init__(self) -> None:
        self.set_output_numpy()  # as SentenceBertEmbedder starts (no torch_dtype)

    def encode(self, text: str | list[str], prefix: str | None = None, **kwargs) -> np.ndarray | torch.Tensor:
        texts = [text] if isinstance(text, str) else list(text)
        vectors = np.stack([toy_vector((prefix or "") + t) for t in texts])
        if isinstance(text, str):
            vectors = vectors[0]
        return torch.from_numpy(vectors) if self.convert_to_tensor else vectors

    def get_output_dim(self) -> int:
        return DIM


class Rows:
    """A list of JMTEB instances behind its dataset ABC's __len__/__getitem__."""

    def __init__(self, items: list) -> None:
        self.dataset = items

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx):
        return self.dataset[idx]


class ToyClassificationDataset(Rows, ClassificationDataset):
    pass


class ToyClusteringDataset(Rows, ClusteringDataset):
    pass


class ToySTSDataset(Rows, STSDataset):
    pass


class ToyPairClassificationDataset(Rows, PairClassificationDataset):
    pass


class ToyRetrievalQueryDataset(Rows, RetrievalQueryDataset):
    pass


class ToyRerankingQueryDataset(Rows, RerankingQueryDataset):
    pass


class ToyRetrievalDocDataset(Rows, RetrievalDocDataset):
    def __init__(self, items: list) -> None:
        super().__init__(items)
        self._build_idx_docid_mapping()


class ToyRerankingDocDataset(Rows, RerankingDocDataset):
    def __init__(self, items: list) -> None:
        super().__init__(items)
        self._build_idx_docid_mapping()


class Collect:
    """Stands in for the test's `tiny` fixture: make() returns the task's files instead of writing them."""

    def make(self, name, family, category, files, **spec):
        return SimpleNamespace(name=name, family=family, category=category, files=files, **spec)


def evaluators() -> dict[str, tuple]:
    """{dataset name: evaluator} in run order."""
    tasks = {name: task.files for name, task in toy_tasks(Collect()).items()}

    c = tasks["toy_classification"]
    classification = ClassificationEvaluator(*(ToyClassificationDataset(
        [ClassificationInstance(text=r["text"], label=r["label"]) for r in c[split]])
        for split in ("train", "validation", "test")))

    k = tasks["toy_clustering"]
    clustering = ClusteringEvaluator(*(ToyClusteringDataset(
        [ClusteringInstance(text=r["text"], label=r["label"]) for r in k[split]])
        for split in ("validation", "test")), random_seed=0)

    s = tasks["toy_sts"]
    sts = STSEvaluator(*(ToySTSDataset(
        [STSInstance(sentence1=r["sentence1"], sentence2=r["sentence2"], score=r["label"]) for r in s[split]])
        for split in ("validation", "test")))

    r = tasks["toy_retrieval"]
    retrieval = RetrievalEvaluator(
        *(ToyRetrievalQueryDataset([RetrievalQuery(query=q["query"], relevant_docs=q["relevant_docs"])
                                    for q in r[split]]) for split in ("validation", "test")),
        doc_dataset=ToyRetrievalDocDataset([RetrievalDoc(id=d["docid"], text=d["text"]) for d in r["corpus"]]),
        doc_chunk_size=30, accuracy_at_k=list(JMTEB_1_4_ACCURACY_AT))

    rr = tasks["toy_reranking"]
    reranking = RerankingEvaluator(
        *(ToyRerankingQueryDataset([RerankingQuery(query=q["query"], retrieved_docs=q["retrieved_docs"],
                                                   relevance_scores=q["relevance_scores"]) for q in rr[split]])
          for split in ("validation", "test")),
        doc_dataset=ToyRerankingDocDataset([RerankingDoc(id=d["docid"], text=d["text"]) for d in rr["corpus"]]))

    p = tasks["toy_pair_classification"]
    pairs = PairClassificationEvaluator(*(ToyPairClassificationDataset(
        [PairClassificationInstance(sentence1=x["sentence1"], sentence2=x["sentence2"], label=x["label"])
         for x in p[split]]) for split in ("validation", "test")))

    return {"toy_classification": classification, "toy_clustering": clustering, "toy_sts": sts,
            "toy_retrieval": retrieval, "toy_reranking": reranking, "toy_pair_classification": pairs}


def check_versions() -> None:
    from importlib.metadata import version

    for package, expected in EXPECTED.items():
        found = version(package)
        if found.split("+")[0] != expected:
            print(f"warning: {package} {found}, the reference files were made with {expected}", file=sys.stderr)


def main(out: Path = HERE) -> None:
    check_versions()
    print(f"JMTEB 1.4.0 ({JMTEB_COMMIT}), writing into {out}")
    with tempfile.TemporaryDirectory() as tmp:
        jmteb_main(text_embedder=ToyTextEmbedder(), evaluators=evaluators(), save_dir=tmp, overwrite_cache=True)
        written = sorted(Path(tmp).glob("*/scores_*.json")) + [Path(tmp) / "summary.json"]
        for old in sorted(out.glob("*/scores_*.json")) + [out / "summary.json"]:
            old.unlink(missing_ok=True)
        for file in written:
            target = out / file.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
            print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
