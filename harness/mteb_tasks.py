"""Which harness tasks are MTEB tasks, and under which names: the mapping `harness export mteb` and
`harness import mteb` use.

A task is mapped only when MTEB's definition is ours: the same examples in the same split (MTEB's eval split
named here is the split our task reports), and a result computed under our `mteb` protocol (the same
scoring). The definitions were read from mteb 2.26.24's task metadata (`mteb.get_task(name).metadata`:
dataset path and revision, eval splits, subsets, main score; sizes from its descriptive statistics) and
/work/shared/reference/notes/nanobeir_mteb.md §3. Each entry says why it matches; `UNMAPPED` says why the
others are not.
"""

from __future__ import annotations

from dataclasses import dataclass

MTEB_VERSION = "2.26.24"  # the mteb whose task definitions were checked (the test extra pins it)


@dataclass(frozen=True)
class MtebTask:
    name: str  # MTEB's task name
    type: str  # MTEB's task type
    split: str  # MTEB's eval split that equals the split our task reports
    subset: str  # MTEB's hf_subset
    languages: tuple[str, ...]  # MTEB's languages of that subset
    dataset: str  # MTEB's dataset path
    revision: str  # its revision in mteb 2.26.24
    main_score: str  # MTEB's main score = our mteb protocol's main metric
    why: str

    @property
    def prefixed(self) -> bool:
        """MTEB names STS and pair scores `<similarity>_<metric>` (cosine_spearman, cosine_ap), retrieval
        scores bare (ndcg_at_10)."""
        return self.type in ("STS", "PairClassification")


MAPPED: dict[str, MtebTask] = {
    "jsts": MtebTask(
        "JSTS", "STS", "validation", "default", ("jpn-Jpan",), "mteb/JSTS",
        "5bac629e25799df4c9c80a6a5db983d6cba9e77d", "cosine_spearman",
        "JGLUE JSTS valid v1.3 on both sides (our test = MTEB's validation, 1,457 pairs); cosine Spearman; "
        "all-MiniLM-L6-v2 gives 0.6264595 here, MTEB published 0.6264692 (float32 arithmetic, 1e-5)"),
    "jsick": MtebTask(
        "JSICK", "STS", "test", "default", ("jpn-Jpan",), "mteb/JSICK",
        "729cfe4a16d3c2b61c6aa9f9f6c8a96bb5512868", "cosine_spearman",
        "JSICK test on both sides (1,986 pairs); cosine Spearman"),
    "paws_x_ja": MtebTask(
        "PawsXPairClassification", "PairClassification", "validation", "ja", ("jpn-Hira",),
        "mteb/PawsXPairClassification", "558da352e7dba3ed3229fc4922aef2ebaff0a90b", "max_ap",
        "PAWS-X ja dev (2,000 pairs: the split our task reports, MTEB's validation/ja); max AP over cosine, "
        "Manhattan, Euclidean and dot"),
    "scifact": MtebTask(
        "SciFact", "Retrieval", "test", "default", ("eng-Latn",), "mteb/scifact",
        "d56462d0e63a25450459c4f213e49ffdb866f7f9", "ndcg_at_10",
        "the same hub dataset (mteb/scifact; 300 test queries, 5,183 documents, title + text); pytrec_eval "
        "nDCG@10 rounded to 5 decimals; all-MiniLM-L6-v2 gives MTEB's published 0.64508 exactly"),
}

UNMAPPED: dict[str, str] = {
    "jaquad_retrieval": "rebuilt from JaQuAD by MTEB's recipe, but all-MiniLM-L6-v2 gives 0.0916 here against MTEB's "
                        "published 0.09144: equality of the data is not established",
    "classification": "our mteb protocol re-implements MTEB's undersampled logistic regression with another "
                      "random stream: approximate, not MTEB's number",
    "clustering": "MTEB's clustering tasks pool splits and bootstrap samples; ours cluster the test split: "
                  "approximate",
    "reranking": "the reranking family has no mteb protocol (MTEB's JQaRA/JaCWIR/ESCI main score is map_at_1000)",
    "jmteb-sourced retrieval": "JaqketRetrieval, MrTidyRetrieval, JaGovFaqsRetrieval, NLPJournal*, JaCWIRRetrieval, "
                               "MIRACLRetrieval, MultiLongDocRetrieval, MintakaRetrieval read MTEB's own copies; "
                               "equality with sbintuitions/JMTEB's was not verified (and MTEB ignores identical "
                               "ids on JaGovFaqs and JaCWIR)",
    "nano_*": "MTEB's Nano*Retrieval read mteb/Nano* (train split), ours sentence-transformers/NanoBEIR-en; "
              "MultilingualNano* (ja) is another translation than tomaarsen/NanoBEIR-ja",
}


def unmapped_reason(task: str, family: str) -> str:
    if task in UNMAPPED:
        return UNMAPPED[task]
    if task.startswith("nano_"):
        return UNMAPPED["nano_*"]
    if family in ("classification", "clustering", "reranking"):
        return UNMAPPED[family]
    if family == "retrieval":
        return UNMAPPED["jmteb-sourced retrieval"]
    return "no MTEB task with the same data and scoring is known"


def by_mteb_name() -> dict[str, tuple[str, MtebTask]]:
    """MTEB task name -> (our task, its mapping)."""
    return {m.name: (task, m) for task, m in MAPPED.items()}
