"""The registry of task families. A family = named protocols, each load → encode → predict → score."""

from __future__ import annotations

from harness.families.base import Family
from harness.families.classification import CLASSIFICATION
from harness.families.clustering import CLUSTERING
from harness.families.pair_classification import PAIR_CLASSIFICATION
from harness.families.reranking import RERANKING
from harness.families.retrieval import RETRIEVAL
from harness.families.sts import STS
from harness.vocab import Vocab

# JMTEB's run order: classification, clustering, STS, pair classification, retrieval, reranking.
FAMILIES: dict[str, Family] = {family.name: family for family in (
    CLASSIFICATION, CLUSTERING, STS, PAIR_CLASSIFICATION, RETRIEVAL, RERANKING)}
# Every protocol some family implements (a run's `protocol=`, a suite's `task@protocol`).
PROTOCOLS = Vocab.of("protocol", dict.fromkeys(p for f in FAMILIES.values() for p in f.protocols))
