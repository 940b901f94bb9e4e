"""SmolLM2 as the app loads it (linear layers on oneDNN's packed weights) against transformers' stock model.

The reference is the same converted folder loaded by `AutoModelForCausalLM` and left as transformers
builds it (MKL's sgemm): a prompt's logits at every position within 2e-4 (measured: 1.1e-4 at most, on
logits of magnitude ~20; the same arithmetic in another order), their softmax within 1e-5, and 16
greedy tokens of `generate` equal.
What is left out: the speed (bench/engine_bench.py), other models (packing is per layer, not per model).
"""

import pytest
import torch
from transformers import AutoModelForCausalLM

from visualizer.engine.cpu_linear import PackedLinear

STORY = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]


@pytest.fixture(scope="module")
def stock(loaded):
    folder = loaded.model.config._name_or_path
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def test_the_loaded_model_is_packed_and_equals_transformers_stock_one(loaded, stock):
    assert isinstance(loaded.model.get_output_embeddings(), PackedLinear)
    assert type(stock.get_output_embeddings()) is torch.nn.Linear
    ids = torch.tensor([loaded.tokenizer.encode(loaded.tokenizer.render(STORY))])
    with torch.no_grad():
        got, expected = loaded.model(ids).logits, stock(ids).logits
        torch.testing.assert_close(got, expected, atol=2e-4, rtol=0)
        torch.testing.assert_close(torch.softmax(got, -1), torch.softmax(expected, -1), atol=1e-5, rtol=0)
        options = dict(attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=16, min_new_tokens=16,
                       pad_token_id=loaded.tokenizer.eos_ids[0])
        assert torch.equal(loaded.model.generate(ids, **options), stock.generate(ids, **options))
