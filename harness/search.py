"""Exact top-k search over a corpus in chunks (the "predict" step of retrieval).

Never materialises the full query x corpus matrix: each chunk of documents is scored against all queries,
only its best candidates survive, and survivors are merged. The corpus may be a memmap (float32 or float16,
see harness.store): only the current chunk is read and converted, so memory is bounded by
query_batch x chunk_size scores plus one chunk of vectors. Ties are resolved deterministically by
(score descending, tie_rank ascending); with tie_rank = rank of the document id this is
sentence-transformers 6.2's rule, so results do not depend on the chunk size.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.encoders.base import resolve_device


def _scores(q: torch.Tensor, d: torch.Tensor, similarity: str) -> torch.Tensor:
    if similarity == "cosine":
        return torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T
    if similarity == "dot":
        return q @ d.T
    if similarity == "euclidean_jmteb_retrieval":  # JMTEB: 100 / (L2 + 1e-4)
        return 100.0 / (torch.cdist(q, d) + 1e-4)
    if similarity == "euclidean":
        return -torch.cdist(q, d)
    raise ValueError(f"unknown similarity '{similarity}'")


def top_k(queries: np.ndarray, corpus: np.ndarray, k: int, similarity: str, *, chunk_size: int = 50_000,
          tie_rank: np.ndarray | None = None, device: str = "auto",
          query_batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n_queries, k') and scores of the best k' = min(k, n_docs) documents per query."""
    n_docs = corpus.shape[0]
    k = min(k, n_docs)
    tie = np.arange(n_docs) if tie_rank is None else np.asarray(tie_rank)
    dev = torch.device(resolve_device(device))
    out_idx = np.empty((queries.shape[0], k), dtype=np.int64)
    out_score = np.empty((queries.shape[0], k), dtype=np.float32)
    for qs in range(0, queries.shape[0], query_batch):
        q = torch.as_tensor(queries[qs:qs + query_batch], dtype=torch.float32, device=dev)
        # survivors per query so far (ragged until the corpus has contributed k documents)
        best_idx = [np.empty(0, dtype=np.int64) for _ in range(q.shape[0])]
        best_score = [np.empty(0, dtype=np.float32) for _ in range(q.shape[0])]
        for ds in range(0, n_docs, chunk_size):
            block = corpus[ds:ds + chunk_size]
            if block.dtype != np.float32 or not block.flags.writeable:
                block = np.array(block, dtype=np.float32)  # float16 or a read-only memmap: copy this chunk only
            d = torch.as_tensor(block, device=dev)
            scores = _scores(q, d, similarity)
            kk = min(k, d.shape[0])
            # k-th best score per query: every doc scoring >= it is a candidate, so boundary ties survive.
            kth = torch.topk(scores, kk, dim=1).values[:, -1:]
            mask = (scores >= kth).cpu().numpy()
            scores_np = scores.cpu().numpy()
            for row in range(q.shape[0]):
                cols = np.flatnonzero(mask[row])
                ci = np.concatenate([best_idx[row], cols + ds])
                cs = np.concatenate([best_score[row], scores_np[row, cols]])
                order = np.lexsort((tie[ci], -cs.astype(np.float64)))[:k]
                best_idx[row], best_score[row] = ci[order], cs[order]
        out_idx[qs:qs + q.shape[0]] = np.stack(best_idx)
        out_score[qs:qs + q.shape[0]] = np.stack(best_score)
    return out_idx, out_score


def rerank(query: np.ndarray, candidates: np.ndarray, similarity: str, tie_rank: np.ndarray) -> np.ndarray:
    """Order of one query's candidate list, best first, ties by tie_rank."""
    scores = _scores(torch.as_tensor(query[None], dtype=torch.float32),
                     torch.as_tensor(candidates, dtype=torch.float32), similarity)[0].numpy()
    return np.lexsort((tie_rank, -scores.astype(np.float64)))
