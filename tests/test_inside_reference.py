"""Inside the step on SmolLM2-135M (float32, CPU): the logit lens and the attention against transformers.

References: the step's kept logits and the decoder's own greedy step for the lens; a plain eager
forward pass over the whole sequence without cache, with `output_attentions=True`, for the
attention weights. The fast tier checks the same on a tiny random Qwen3 (tests/fast/).
"""

import pytest
import torch

from visualizer.engine.decoder import Decoder
from visualizer.engine.engine import Engine
from visualizer.engine.inspection import inspect
from visualizer.engine.template import render_conversation

CONVERSATION = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def stepped(loaded):
    ids = loaded.tokenizer.encode(render_conversation(loaded.tokenizer, CONVERSATION).text)
    decoder = Decoder(Engine.create(loaded, 64 * 2**20), ids, max_new_tokens=16)
    for _ in range(4):
        decoder.step()
    return decoder


def test_lens_last_layer_is_the_raw_distribution_and_its_top_the_greedy_token(stepped, loaded):
    inspection = inspect(stepped, top=5, distributions=True)
    layers = loaded.model.config.num_hidden_layers
    assert inspection.probe.distributions.shape[0] == layers + 1
    raw = torch.softmax(stepped.branch.logits, dim=-1)
    torch.testing.assert_close(inspection.probe.distributions[-1], raw, atol=1e-5, rtol=0)
    assert inspection.probe.target_ranks[-1] == 1
    assert inspection.probe.target == stepped.step().id


def test_attention_equals_eager_output_attentions_and_rows_sum_to_one(stepped, loaded):
    attention = inspect(stepped, lens=False).probe.attention
    model = loaded.model
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            expected = model(torch.tensor([stepped.ids]), output_attentions=True).attentions
    finally:
        model.set_attn_implementation(before)
    expected = torch.stack([layer[0, :, -1] for layer in expected])
    assert attention.shape == expected.shape == (model.config.num_hidden_layers, model.config.num_attention_heads,
                                                 len(stepped.ids))
    torch.testing.assert_close(attention, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(attention.shape[:2]), atol=1e-5, rtol=0)
