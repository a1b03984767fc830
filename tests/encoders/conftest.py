"""Tiny random models of every architecture family on the model cards, saved in sentence-transformers layout.

Each has hidden size 32 and 2 layers, and a byte-level BPE tokenizer trained here, so the suite needs no
download and builds all of them in seconds. Backends are compared with sentence-transformers loading the
very same directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = ["犬が走っている", "猫が寝ている", "男性がギターを弾いている", "女性が料理をしている", "子供が公園で遊んでいる",
          "a dog is running", "a cat sleeps", "the man plays guitar", "a woman cooks dinner", "kids play in the park",
          "query: passage: 検索クエリ: 検索文書: トピック: task: text: 質問を与えるので関連文書を検索してください。"]
TEXTS = ["犬が走っている", "a cat sleeps on the warm sofa all afternoon", "", "公園",
         "男性がギターを弾いている。" * 12, "kids", "女性が料理をしている and a man plays guitar", "猫"] * 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]


def train_tokenizer(*, encoder_style: bool, padding_side: str = "right", model_input_names: list[str] | None = None):
    """Byte-level BPE; encoder style wraps texts as <s> … </s>, decoder style prefixes <s> only."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS * 5, trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    template = "<s> $A </s>" if encoder_style else "<s> $A"
    tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=[("<s>", bos), ("</s>", eos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                   padding_side=padding_side,
                                   **({"model_input_names": model_input_names} if model_input_names else {}))


def _config(family: str, tokenizer):
    from transformers import (BertConfig, LlamaConfig, LukeConfig, ModernBertConfig, RoFormerConfig,
                              XLMRobertaConfig)

    ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
           "eos_token_id": tokenizer.eos_token_id}
    common = {"vocab_size": len(tokenizer), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 64, "max_position_embeddings": 130}
    if family == "bert":
        return BertConfig(**common, pad_token_id=tokenizer.pad_token_id)
    if family == "xlm-roberta":
        return XLMRobertaConfig(**common, **ids)
    if family == "roformer":
        return RoFormerConfig(**common, embedding_size=32, pad_token_id=tokenizer.pad_token_id)
    if family == "luke":
        return LukeConfig(**common, entity_vocab_size=8, entity_emb_size=16, **ids)
    if family == "modernbert":
        return ModernBertConfig(**common, cls_token_id=tokenizer.bos_token_id, sep_token_id=tokenizer.eos_token_id,
                                global_attn_every_n_layers=2, local_attention=16, **ids)
    if family == "llama":
        return LlamaConfig(**common, num_key_value_heads=1, **ids)
    raise ValueError(family)


def st_modules():
    """sentence-transformers' module classes: `models` in 5.x (the lock), `sentence_transformer.modules` since 6."""
    try:
        from sentence_transformers.sentence_transformer import modules
    except ImportError:
        from sentence_transformers import models as modules
    return modules


def build_st_model(root: Path, family: str, *, pooling: str = "mean", include_prompt: bool = True,
                   normalize: bool = False, padding_side: str = "right") -> Path:
    """A random `family` model + tokenizer saved as a sentence-transformers directory; returns it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    modules = st_modules()

    # as ruri-v3's tokenizer_config.json: ModernBERT's forward takes no token_type_ids (sentence-transformers 5.x
    # passes every tokenizer output to it)
    inputs = ["input_ids", "attention_mask"] if family == "modernbert" else None
    tokenizer = train_tokenizer(encoder_style=family != "llama", padding_side=padding_side, model_input_names=inputs)
    torch.manual_seed(0)
    hf_dir = root / "hf"
    AutoModel.from_config(_config(family, tokenizer)).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = modules.Transformer(str(hf_dir), max_seq_length=64)
    parts = [transformer, modules.Pooling(32, pooling_mode=pooling, include_prompt=include_prompt)]
    if normalize:
        parts.append(modules.Normalize())
    out = root / "st"
    SentenceTransformer(modules=parts, device="cpu").save(str(out))
    return out


def build_static_model(root: Path, *, normalize: bool = False) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer

    modules = st_modules()
    tokenizer = train_tokenizer(encoder_style=True)
    torch.manual_seed(0)
    static = modules.StaticEmbedding(tokenizer, embedding_dim=32)
    torch.nn.init.normal_(static.embedding.weight)
    parts = [static] + ([modules.Normalize()] if normalize else [])
    out = root / "static"
    SentenceTransformer(modules=parts, device="cpu").save(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Build-once cache: tiny_models(family, **options) -> directory."""
    built: dict[tuple, Path] = {}

    def get(family: str, **options) -> Path:
        key = (family, tuple(sorted(options.items())))
        if key not in built:
            root = tmp_path_factory.mktemp(f"tiny-{family}")
            built[key] = (build_static_model(root, **options) if family == "static"
                          else build_st_model(root, family, **options))
        return built[key]

    return get


@pytest.fixture(autouse=True, scope="package")
def one_torch_thread():
    """Tiny matrices: one thread is fastest, and OpenMP spinning on a busy 2-core machine costs 100x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
