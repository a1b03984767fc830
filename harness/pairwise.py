"""Row-wise similarities of aligned embedding pairs, with the reference evaluators' own float32 operations.

Why not numpy float64: a correlation or a threshold over similarities is decided at the last bit when
pairs tie. On JSTS six pairs sit within 1e-6 of cosine 1 (identical sentences, labels 1.6 to 5.0); the
rounding of each formula orders them differently and moves test Spearman by up to 1.5e-5. Computing
exactly what JMTEB computes (torch float32, normalise then multiply-and-sum, which is also
sentence-transformers' `pairwise_cos_sim`) makes our number the reference's number, not a neighbour of it.
"""

from __future__ import annotations

import numpy as np

from harness.vocab import Vocab

STS_SIMILARITIES = Vocab.of("similarity", ("cosine", "manhattan", "euclidean_jmteb", "euclidean", "dot"))
# pair classification: cosine and dot are similarities, manhattan and euclidean distances (lower = closer)
PAIR_SCORES = Vocab.of("distance", ("cosine", "manhattan", "euclidean", "dot"))


def _tensors(a: np.ndarray, b: np.ndarray):
    import torch

    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"paired inputs must be 2-D and equal in shape, got {a.shape} and {b.shape}")
    return torch.from_numpy(np.ascontiguousarray(a, np.float32)), torch.from_numpy(np.ascontiguousarray(b, np.float32))


def sts_similarity(a: np.ndarray, b: np.ndarray, name: str) -> np.ndarray:
    """JMTEB's STS `PairwiseSimilarities` (and sentence-transformers' pairwise_*), float32; larger = closer.

    "euclidean_jmteb" is JMTEB's `-sqrt(square(e2 - e1)).sum()`: the negative Manhattan distance (its bug);
    "euclidean" is the true negative L2 distance of sentence-transformers/MTEB.
    """
    import torch

    STS_SIMILARITIES.check(name, "sts_similarity")
    e1, e2 = _tensors(a, b)
    with torch.inference_mode():
        if name == "cosine":
            n1 = torch.nn.functional.normalize(e1, p=2, dim=1)
            n2 = torch.nn.functional.normalize(e2, p=2, dim=1)
            out = (n1 * n2).sum(dim=1)
        elif name == "manhattan":
            out = -torch.abs(e2 - e1).sum(dim=1)
        elif name == "euclidean_jmteb":
            out = -torch.sqrt(torch.square(e2 - e1)).sum(dim=1)
        elif name == "euclidean":
            out = -torch.sqrt(torch.sum((e1 - e2) ** 2, dim=-1))
        else:
            out = (e1 * e2).sum(dim=1)
    return out.numpy()


def pair_scores(a: np.ndarray, b: np.ndarray, name: str) -> np.ndarray:
    """JMTEB's pair-classification `get_similarities`, float32: cosine and dot similarities (sklearn's
    1 - paired cosine distance; a batched matrix product), Manhattan and Euclidean distances (sklearn)."""
    from sklearn.metrics.pairwise import paired_cosine_distances, paired_euclidean_distances, \
        paired_manhattan_distances

    PAIR_SCORES.check(name, "pair_scores")
    if name == "dot":
        import torch

        e1, e2 = _tensors(a, b)
        with torch.inference_mode():
            return torch.bmm(e1.unsqueeze(1), e2.unsqueeze(2)).reshape(-1).numpy()
    x, y = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if name == "cosine":
        return (1 - paired_cosine_distances(x, y)).astype(np.float32)
    function = paired_manhattan_distances if name == "manhattan" else paired_euclidean_distances
    return function(x, y).astype(np.float32)
