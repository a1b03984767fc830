"""Exact top-k search over a corpus in chunks (the "predict" step of retrieval), and reranking.

Two tie conventions, each its reference's own:

- `top_k` / `rerank`: ties resolved deterministically by (score descending, tie_rank ascending); with tie_rank =
  rank of the document id this is sentence-transformers 6.2's rule, so results do not depend on the chunk size.
  `top_k` never materialises the full query x corpus matrix: each chunk of documents is scored against a batch of
  queries, only its best candidates survive, and survivors are merged, all on the search device (CPU or GPU; only
  the final k per query come back). The corpus may be a memmap (float32 or float16, see harness.store): only the
  current chunk is read and converted, so memory is bounded by the score block (at most MAX_SCORE_BYTES) plus one
  chunk of vectors.
- `jmteb_top_k` / `jmteb_rerank`: JMTEB 1.4's own torch operations, in order, on CPU (retrieval and reranking
  evaluators of JMTEB, hkazuakey/JMTEB @ da3756b833c41ccb1878d799efd4a274e4b5a348 = v1.4.0; ranking unchanged
  since v1.3.3). Nothing orders ties there: torch.topk and the unstable torch.argsort decide, and their order
  depends on the chunk size and the list width (measured: argsort keeps ties in input order for rows of at most
  16 and permutes them beyond). Reproducing JMTEB's rankings bit for bit therefore needs the same operations on
  the same shapes: all queries at once against each chunk of JMTEB's `doc_chunk_size` (no memory cap: JMTEB's
  memory), on CPU (CUDA's topk/sort order ties by another implementation).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from harness.encoders.base import resolve_device
from harness.vocab import Vocab

# query x document scores, larger = closer
_SCORES = {
    "cosine": lambda q, d: torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T,
    "dot": lambda q, d: q @ d.T,
    "euclidean": lambda q, d: -torch.cdist(q, d),
    "manhattan": lambda q, d: -torch.cdist(q, d, p=1),
    "euclidean_jmteb_retrieval": lambda q, d: 100.0 / (torch.cdist(q, d) + 1e-4),  # JMTEB: 100 / (L2 + 1e-4)
}
SIMILARITIES = Vocab.of("similarity", _SCORES)
# What a model config's `similarity` may name (sentence-transformers' similarity functions); protocols that
# use "the model's similarity" rank with it.
MODEL_SIMILARITIES = SIMILARITIES.subset("similarity", ("cosine", "dot", "euclidean", "manhattan"))


def _scores(q: torch.Tensor, d: torch.Tensor, similarity: str) -> torch.Tensor:
    return _SCORES[SIMILARITIES.check(similarity, "search")](q, d)


# Scores held at once (query batch x document chunk, float32). A task's chunk_size (JMTEB's doc_chunk_size
# is 1,000,000) is cut to fit, so a Mr.TyDi-size corpus cannot exhaust memory; the chunking never changes the
# result (candidates are exact per chunk, ties resolved by tie_rank).
MAX_SCORE_BYTES = 256 * 2**20


def chunk_for(chunk_size: int, n_queries: int, k: int, max_score_bytes: int = MAX_SCORE_BYTES) -> int:
    """Documents per chunk: at most chunk_size, and few enough that the score block fits max_score_bytes."""
    fitting = max_score_bytes // (4 * max(n_queries, 1))
    return max(k, 1, min(chunk_size, fitting))


def top_k(queries: np.ndarray, corpus: np.ndarray, k: int, similarity: str, *, chunk_size: int = 50_000,
          tie_rank: np.ndarray | None = None, device: str = "auto", query_batch: int = 4096,
          max_score_bytes: int = MAX_SCORE_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n_queries, k') and scores of the best k' = min(k, n_docs) documents per query."""
    n_docs = corpus.shape[0]
    k = min(k, n_docs)
    dev = torch.device(resolve_device(device))
    tie = torch.as_tensor(np.arange(n_docs) if tie_rank is None else np.asarray(tie_rank), dtype=torch.int64,
                          device=dev)
    out_idx = np.empty((queries.shape[0], k), dtype=np.int64)
    out_score = np.empty((queries.shape[0], k), dtype=np.float32)
    for qs in range(0, queries.shape[0], query_batch):
        q = torch.as_tensor(queries[qs:qs + query_batch], dtype=torch.float32, device=dev)
        chunk = chunk_for(chunk_size, q.shape[0], k, max_score_bytes)
        best_score = torch.empty((q.shape[0], 0), dtype=torch.float32, device=dev)
        best_idx = torch.empty((q.shape[0], 0), dtype=torch.int64, device=dev)
        for ds in range(0, n_docs, chunk):
            scores = _scores(q, _as_float32(corpus[ds:ds + chunk], dev), similarity)
            values, indices = _chunk_candidates(scores, k)
            best_score, best_idx = _merge(torch.cat([best_score, values], dim=1),
                                          torch.cat([best_idx, indices + ds], dim=1), tie, k)
        out_idx[qs:qs + q.shape[0]] = best_idx.cpu().numpy()
        out_score[qs:qs + q.shape[0]] = best_score.cpu().numpy()
    return out_idx, out_score


def _as_float32(block: np.ndarray, dev: torch.device) -> torch.Tensor:
    """One chunk as float32 on the device; a float16 chunk is converted by torch (vectorised, several times
    faster than numpy's astype), a read-only memmap chunk is wrapped without a copy (it is only read)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(block, device=dev).float()


def _chunk_candidates(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's k best of the chunk, widened to every document tied with the k-th: topk cuts a tie
    arbitrarily, and the tie rank, not topk, must decide. One extra column tells whether any row has such a
    tie (rare: it needs identical scores), so the common case costs no pass over the whole score block."""
    kk = min(k, scores.shape[1])
    if kk == scores.shape[1]:
        return torch.topk(scores, kk, dim=1)
    best = torch.topk(scores, kk + 1, dim=1)
    if not bool((best.values[:, kk] == best.values[:, kk - 1]).any()):
        return best.values[:, :kk], best.indices[:, :kk]
    width = int((scores >= best.values[:, kk - 1:kk]).sum(dim=1).max())
    return torch.topk(scores, width, dim=1)


def _merge(scores: torch.Tensor, idx: torch.Tensor, tie: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k best candidates per row, by (score descending, tie rank ascending): two stable sorts."""
    by_tie = torch.argsort(tie[idx], dim=1, stable=True)
    scores, idx = scores.gather(1, by_tie), idx.gather(1, by_tie)
    by_score = torch.argsort(scores, dim=1, descending=True, stable=True)[:, :k]
    return scores.gather(1, by_score), idx.gather(1, by_score)


def rerank(query: np.ndarray, candidates: np.ndarray, similarity: str, tie_rank: np.ndarray) -> np.ndarray:
    """Order of one query's candidate list, best first, ties by tie_rank."""
    scores = _scores(torch.as_tensor(query[None], dtype=torch.float32),
                     torch.as_tensor(candidates, dtype=torch.float32), similarity)[0].numpy()
    return np.lexsort((tie_rank, -scores.astype(np.float64)))


def jmteb_top_k(queries: np.ndarray, corpus: np.ndarray, max_top_k: int, similarity: str, *,
                chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """JMTEB's retrieval ranking: per document chunk, the similarity of every query to the chunk and its
    torch.topk(k = min(max_top_k, chunk width)); the chunks' candidates concatenated; then
    torch.argsort(-scores) cut at min(max_top_k, number of queries) (JMTEB cuts at the query count, sic: a
    split with fewer queries than max_top_k gets shorter lists). Indices into `corpus` and their scores."""
    cpu = torch.device("cpu")
    q = torch.as_tensor(np.asarray(queries), dtype=torch.float32)
    indices, scores = [], []
    for offset in range(0, corpus.shape[0], chunk_size):
        block = _scores(q, _as_float32(corpus[offset:offset + chunk_size], cpu), similarity)
        values, found = torch.topk(block, k=min(max_top_k, block.shape[1]), dim=1)
        indices.append(found + offset)
        scores.append(values)
    all_indices, all_scores = torch.cat(indices, dim=1), torch.cat(scores, dim=1)
    order = torch.argsort(-all_scores, dim=1)[:, :min(max_top_k, all_indices.shape[0])]
    return (torch.take_along_dim(all_indices, order, dim=1).numpy(),
            torch.take_along_dim(all_scores, order, dim=1).numpy())


def jmteb_rerank(query: np.ndarray, candidates: np.ndarray, similarity: str) -> np.ndarray:
    """JMTEB's reranking of one query's candidate list (rows in the list's order): the (1, n) similarity in
    float32 and torch.argsort(similarity, descending=True), unstable as JMTEB calls it."""
    scores = _scores(torch.as_tensor(np.asarray(query)[None], dtype=torch.float32),
                     torch.as_tensor(np.asarray(candidates), dtype=torch.float32), similarity)
    return torch.argsort(scores, dim=1, descending=True)[0].numpy()
