"""Linear layers on oneDNN's packed weights (engine/cpu_linear.py) against transformers' own nn.Linear.

The reference is the same seeded model left as transformers builds it (MKL's sgemm): logits of a
prompt pass and of a batch of one-token steps within 1e-5, greedy generate's tokens equal, and the
embedding a tied head shares left whole. What is left out: the speed (bench/engine_bench.py).
"""

import torch

from visualizer.engine.cpu_linear import PackedLinear, pack_linears
from visualizer.engine.qwen_offline import build_tiny_qwen3


def test_packed_model_equals_transformers_dense_one():
    dense, packed = build_tiny_qwen3(), build_tiny_qwen3()
    embedding = packed.get_input_embeddings().weight.clone()
    assert pack_linears(packed) == 2 * 7 + 1  # q k v o gate up down per layer, and the head
    assert not any(type(module) is torch.nn.Linear for module in packed.modules())
    assert isinstance(packed.get_output_embeddings(), PackedLinear)
    assert torch.equal(packed.get_input_embeddings().weight, embedding)
    prompt = torch.tensor([[3, 141, 59, 26, 535, 89, 79, 323]])
    batch = torch.tensor([[5], [77], [901]])
    with torch.no_grad():
        for ids in (prompt, batch):
            expected, got = dense(ids).logits, packed(ids).logits
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, atol=1e-5, rtol=0)
        options = dict(do_sample=False, max_new_tokens=16, min_new_tokens=16, pad_token_id=0)
        assert torch.equal(packed.generate(prompt, **options), dense.generate(prompt, **options))


def test_models_packing_does_not_apply_to_are_left_as_they_are():
    model = build_tiny_qwen3().to(torch.bfloat16)
    assert pack_linears(model) == 0
    assert sum(type(module) is torch.nn.Linear for module in model.modules()) == 2 * 7 + 1
