"""Content identity of an in-memory model: a sha256 over what it computes with, never over where it came from.

`state_dict_sha256` hashes every tensor of a torch module's state_dict (name, dtype, shape, raw bytes, in name
order), so a model changed by one training step gets another identity, and the embedding cache (keyed by it
through the model path `memory:sha256:<hex>`, harness.api) never serves the vectors of other weights. For a
sentence-transformers model the modules' configuration and the tokenizer are part of the identity too: the
same weights behind another pooling mode, max length or vocabulary embed differently.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_BLOCK = 1 << 24  # bytes hashed per update: a large tensor is read in slices, never copied whole


def update_with_state_dict(digest: Any, module: Any) -> None:
    """Feed `module.state_dict()` to `digest`: each tensor's name, dtype and shape, then its bytes."""
    import torch

    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach()
        digest.update(f"\x00{name}\x00{tensor.dtype}\x00{tuple(tensor.shape)}\x00".encode())
        flat = tensor.reshape(-1)
        step = max(1, _BLOCK // flat.element_size())
        for start in range(0, flat.numel(), step):  # bytes as stored (bfloat16 too: viewed as uint8)
            digest.update(flat[start:start + step].cpu().contiguous().view(torch.uint8).numpy().tobytes())


def state_dict_sha256(module: Any) -> str:
    """sha256 of a torch module's parameters and buffers (see `update_with_state_dict`)."""
    digest = hashlib.sha256()
    update_with_state_dict(digest, module)
    return digest.hexdigest()


def sentence_transformer_sha256(model: Any) -> str:
    """sha256 of a SentenceTransformer's weights, its modules' configuration and its tokenizer."""
    digest = hashlib.sha256()
    update_with_state_dict(digest, model)
    layout = [[type(m).__name__, m.get_config_dict() if hasattr(m, "get_config_dict") else None] for m in model]
    digest.update(json.dumps({"modules": layout, "max_seq_length": model.max_seq_length},
                             sort_keys=True, default=str).encode())
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)  # a fast tokenizer: its whole definition as JSON
    if backend is not None:
        digest.update(backend.to_str().encode())
    elif tokenizer is not None:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode())
    return digest.hexdigest()
