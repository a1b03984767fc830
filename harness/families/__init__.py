"""The registry of task families. A family = load → encode → predict → score, one module each."""

from __future__ import annotations

from harness.families.base import Family
from harness.families.retrieval import RETRIEVAL
from harness.families.sts import STS

FAMILIES: dict[str, Family] = {family.name: family for family in (STS, RETRIEVAL)}
