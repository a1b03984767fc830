"""Static embeddings: the mean of per-token vectors (an embedding bag), no transformer.

Reads sentence-transformers' StaticEmbedding layout (`tokenizer.json` + `model.safetensors` with
`embedding.weight`, optionally followed by a Normalize module) and computes what it computes: tokens without
special tokens, no padding, mean over the text's tokens, zeros for a text with none.
"""

from __future__ import annotations

import numpy as np

from harness.encoders import model_files
from harness.encoders.base import BatchedEncoder, EncoderConfig, Side, check_embeddings
from harness.errors import HarnessError


class StaticEmbeddingEncoder(model_files.FilePrompts, BatchedEncoder):
    def __init__(self, config: EncoderConfig):
        self.config = config
        self._tokenizer = None
        self._weights: np.ndarray | None = None
        self._normalize_module = False

    def _load(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = model_files.model_dir(self.config)
        model_files.check_remote_code(directory, self.config)
        found = model_files.modules(directory)
        kinds = [m.kind for m in found]
        if kinds[:1] != ["StaticEmbedding"] or any(k != "Normalize" for k in kinds[1:]):
            raise HarnessError(f"model {self.config.name}: {directory / 'modules.json'} lists {kinds}; backend "
                               f"static reads StaticEmbedding [+ Normalize] only")
        if self.config.pooling not in (None, "mean"):
            raise HarnessError(f"model {self.config.name}: field 'pooling' must be null or mean for backend static")
        weights_file = found[0].path / "model.safetensors"
        if not weights_file.is_file():
            raise HarnessError(f"model {self.config.name}: {weights_file} is missing")
        weights = load_file(str(weights_file))
        if "embedding.weight" not in weights:
            raise HarnessError(f"{weights_file}: no tensor 'embedding.weight' (found {', '.join(weights)})")
        self._weights = weights["embedding.weight"].astype(np.float32)
        self._tokenizer = Tokenizer.from_file(str(found[0].path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._normalize_module = "Normalize" in kinds[1:]
        self._default_prompt = model_files.default_prompt(directory)

    def encode_in_order(self, texts: list[str], side: Side) -> np.ndarray:
        if self._weights is None:
            self._load()
        prompt = (self._default_prompt if side.prompt is None else side.prompt) or ""
        dim = self._weights.shape[1]
        out = np.zeros((len(texts), dim), np.float32)
        encodings = self._tokenizer.encode_batch([prompt + t for t in texts], add_special_tokens=False)
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                out[row] = self._weights[encoding.ids].mean(axis=0, dtype=np.float32)
        for flag in (self._normalize_module, self.config.normalize):
            if flag:
                out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return check_embeddings(out, len(texts), f"model {self.config.name} on task {side.task}")
