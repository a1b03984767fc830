"""harness.weights: an in-memory model's identity is the content of its tensors (and, for sentence-transformers,
its modules' configuration and tokenizer)."""

from __future__ import annotations

import hashlib

import torch

from harness.weights import sentence_transformer_sha256, state_dict_sha256


def test_state_dict_hash_is_the_bytes_of_the_tensors_in_name_order():
    module = torch.nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([[1.0, -2.0]]))
        module.bias.copy_(torch.tensor([0.5]))
    expected = hashlib.sha256()
    for name, values in (("bias", [0.5]), ("weight", [1.0, -2.0])):
        shape = (1,) if name == "bias" else (1, 2)
        expected.update(f"\x00{name}\x00torch.float32\x00{shape}\x00".encode())
        expected.update(torch.tensor(values, dtype=torch.float32).numpy().tobytes())
    assert state_dict_sha256(module) == expected.hexdigest()


def test_any_change_of_a_bit_dtype_or_shape_changes_it():
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 3)
    before = state_dict_sha256(module)
    assert state_dict_sha256(module) == before
    with torch.no_grad():
        module.weight.view(-1)[5] = torch.nextafter(module.weight.view(-1)[5], torch.tensor(1.0))  # one ulp
    assert state_dict_sha256(module) != before
    assert state_dict_sha256(module.to(torch.bfloat16)) not in (before, state_dict_sha256(module.float()))


def test_sentence_transformer_identity_covers_the_tokenizer_and_max_length(tiny_model):
    from sentence_transformers import SentenceTransformer

    a, b = (SentenceTransformer(str(tiny_model), device="cpu") for _ in range(2))
    assert sentence_transformer_sha256(a) == sentence_transformer_sha256(b)
    b.max_seq_length = 32
    assert sentence_transformer_sha256(a) != sentence_transformer_sha256(b)
    b.max_seq_length = a.max_seq_length
    b.tokenizer.add_tokens(["新語"])
    assert sentence_transformer_sha256(a) != sentence_transformer_sha256(b)
