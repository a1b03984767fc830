"""The registry of task families. A family = load → encode → predict → score, one module each."""

from __future__ import annotations

from harness.families.base import Family
from harness.families.classification import CLASSIFICATION
from harness.families.clustering import CLUSTERING
from harness.families.pair_classification import PAIR_CLASSIFICATION
from harness.families.reranking import RERANKING
from harness.families.retrieval import RETRIEVAL
from harness.families.sts import STS

# JMTEB's run order: classification, clustering, STS, pair classification, retrieval, reranking.
FAMILIES: dict[str, Family] = {family.name: family for family in (
    CLASSIFICATION, CLUSTERING, STS, PAIR_CLASSIFICATION, RETRIEVAL, RERANKING)}
