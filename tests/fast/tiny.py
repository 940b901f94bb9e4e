"""Tiny random decoder models for engine tests: fast, float32, seeded, built once per process.

2 layers, hidden 64, 4 query heads / 2 KV heads (grouped-query attention as in the real models),
vocabulary 1000. Weights are random: only equalities between code paths are meaningful.
What is left out: tokenizers (tests feed ids directly).
"""

from functools import lru_cache

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

VOCAB = 1000
SHAPES = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)


@lru_cache(maxsize=None)
def tiny_llama(attn="sdpa"):
    return _build(LlamaForCausalLM, LlamaConfig(**SHAPES), attn)


@lru_cache(maxsize=None)
def tiny_qwen3(attn="sdpa"):
    return _build(Qwen3ForCausalLM, Qwen3Config(head_dim=16, **SHAPES), attn)


def _build(model_class, config, attn):
    torch.manual_seed(0)
    model = model_class(config)
    model.set_attn_implementation(attn)
    return model.eval()
