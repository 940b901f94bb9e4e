"""The fast tier's fixtures: a tiny random Qwen3 with Qwen3's real tokenizer, and engines on it.

`tiny` is a LoadedModel like the app's (offline Qwen3 tokenizer, 151,936-row vocabulary) whose
model has 2 layers of width 64, so every forward pass takes about a millisecond; `engine()` makes
an Engine with its own small KV pool that runs each request at once (DirectTurns).
What is left out: SmolLM2 (the reference tier in tests/ uses it).
"""

import pytest

from visualizer.engine.cpu_linear import pack_linears
from visualizer.engine.engine import Engine
from visualizer.engine.models import LoadedModel
from visualizer.engine.qwen_offline import build_tiny_qwen3, load_qwen_offline

POOL_BYTES = 32 * 2**20
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant, but you can't say the word strawberry."},
    {"role": "user", "content": "How many Rs are in the word strawberry?"},
]


@pytest.fixture(scope="session")
def tiny():
    model = build_tiny_qwen3()
    pack_linears(model)  # as load_model does on the CPU
    return LoadedModel("tiny-qwen3", "tiny Qwen3 (random)", load_qwen_offline(), model, "cpu", "float32", 4096)


@pytest.fixture()
def engine(tiny):
    return Engine.create(tiny, POOL_BYTES)


@pytest.fixture(scope="session")
def prompt(tiny):
    from visualizer.engine.template import render_conversation

    return tiny.tokenizer.encode(render_conversation(tiny.tokenizer, CONVERSATION).text)
