"""Similarity functions used by the JMTEB / MTEB style evaluators.

`paired` scores aligned rows (STS, pair classification); `matrix` scores every
query against every document (retrieval, reranking). Larger is always "more
similar" except where a name says otherwise; distance-valued variants are
negated so callers can rank with one rule.
"""

from __future__ import annotations

import numpy as np

PAIRED_NAMES = ("cosine", "manhattan", "euclidean_jmteb", "euclidean", "dot")
MATRIX_NAMES = ("cosine", "dot", "euclidean_jmteb_retrieval", "euclidean")

# torch.nn.functional.normalize divides by max(norm, eps): a zero vector stays
# zero and therefore gets cosine 0 with everything instead of NaN.
_NORM_EPS = 1e-12


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, _NORM_EPS)


def _as_2d(x: np.ndarray, dtype) -> np.ndarray:
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D embedding matrix, got shape {arr.shape}")
    return arr


def _unknown(name: str, valid: tuple[str, ...]) -> ValueError:
    return ValueError(f"unknown similarity {name!r}; valid names: {', '.join(valid)}")


def paired(a: np.ndarray, b: np.ndarray, name: str) -> np.ndarray:
    """Row-wise similarity of aligned rows a[i], b[i], computed in float64.

    "euclidean_jmteb" reproduces JMTEB's STS bug: it computes
    -sum(sqrt((a-b)^2)), i.e. the negative *Manhattan* distance, so JMTEB's
    "euclidean" STS row equals its "manhattan" row. "euclidean" is the true
    negative L2 distance.
    """
    if name not in PAIRED_NAMES:
        raise _unknown(name, PAIRED_NAMES)
    a64, b64 = _as_2d(a, np.float64), _as_2d(b, np.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"paired inputs must have the same shape, got {a64.shape} and {b64.shape}")
    if name == "cosine":
        return np.einsum("ij,ij->i", _unit_rows(a64), _unit_rows(b64))
    if name == "dot":
        return np.einsum("ij,ij->i", a64, b64)
    diff = a64 - b64
    if name in ("manhattan", "euclidean_jmteb"):
        # sqrt(d^2) == |d|, so both names reduce to the same expression.
        return -np.abs(diff).sum(axis=1)
    return -np.sqrt(np.einsum("ij,ij->i", diff, diff))


def _l2_distances(q: np.ndarray, d: np.ndarray) -> np.ndarray:
    # Expand ||q-d||^2 = |q|^2 + |d|^2 - 2 q.d in float64: the expansion
    # cancels badly in float32 for near-duplicate vectors.
    q64, d64 = q.astype(np.float64), d.astype(np.float64)
    sq = (q64 * q64).sum(1)[:, None] + (d64 * d64).sum(1)[None, :] - 2.0 * (q64 @ d64.T)
    return np.sqrt(np.maximum(sq, 0.0))


def matrix(q: np.ndarray, d: np.ndarray, name: str) -> np.ndarray:
    """Query x document score matrix (higher = more similar).

    "euclidean_jmteb_retrieval" is JMTEB's retrieval/reranking transform
    100 / (L2 distance + 1e-4); it is monotone in -distance, so rankings match
    "euclidean" apart from floating-point ties. Output dtype follows the inputs
    (float32 embeddings give a float32 matrix).
    """
    if name not in MATRIX_NAMES:
        raise _unknown(name, MATRIX_NAMES)
    out_dtype = np.result_type(np.asarray(q).dtype, np.asarray(d).dtype, np.float32)
    q2, d2 = _as_2d(q, out_dtype), _as_2d(d, out_dtype)
    if q2.shape[1] != d2.shape[1]:
        raise ValueError(f"dimension mismatch: queries {q2.shape[1]}, docs {d2.shape[1]}")
    if name == "cosine":
        return (_unit_rows(q2) @ _unit_rows(d2).T).astype(out_dtype, copy=False)
    if name == "dot":
        return (q2 @ d2.T).astype(out_dtype, copy=False)
    dist = _l2_distances(q2, d2)
    if name == "euclidean":
        return (-dist).astype(out_dtype)
    return (100.0 / (dist + 1e-4)).astype(out_dtype)
