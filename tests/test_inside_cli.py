"""`python -m visualizer lens|attention --json`, run as a user runs them, against the engine in-process.

References: the same inspection run in this process on the `loaded` SmolLM2 (tests/conftest.py).
Each subprocess imports torch and loads the model (a few seconds), so there are two, started
together; bad values are checked in-process through `cli.main` (they are refused before any model
is loaded), the `decode` flags of the knob table (min-p, repetition penalty) included.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from visualizer.cli import EXIT_BAD_INPUT, main
from visualizer.engine.decoder import Decoder
from visualizer.engine.engine import Engine
from visualizer.engine.inspection import attention_payload, inspect, lens_payload
from visualizer.engine.template import render_conversation

REPO = Path(__file__).resolve().parent.parent
CONVERSATION = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the capital of France?"}]
STEPS = 3


@pytest.fixture(scope="module")
def conversation_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inside") / "conversation.json"
    path.write_text(json.dumps(CONVERSATION), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def printed(conversation_file):
    """Both commands' JSON, run side by side (one thread each)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    common = ["--messages", str(conversation_file), "--steps", str(STEPS), "--device", "cpu", "--json"]
    runs = {name: subprocess.Popen([sys.executable, "-m", "visualizer", name, *common, *extra], cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, extra in (("lens", ["--top", "4"]), ("attention", []))}
    out = {}
    for name, process in runs.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]
        out[name] = json.loads(stdout)
    return out


@pytest.fixture(scope="module")
def in_process(loaded):
    ids = loaded.tokenizer.encode(render_conversation(loaded.tokenizer, CONVERSATION).text)
    decoder = Decoder(Engine.create(loaded, 64 * 2**20), ids, max_new_tokens=STEPS)
    list(decoder.run(STEPS))
    return inspect(decoder, top=4)


def test_lens_prints_the_contract_and_the_engines_numbers(printed, in_process, loaded):
    lens = printed["lens"]
    assert set(lens) >= {"model", "prompt_tokens", "position", "layers", "final"}
    assert lens["model"] == loaded.name and lens["position"] == lens["prompt_tokens"] + STEPS - 1
    assert [layer["layer"] for layer in lens["layers"]] == list(range(loaded.model.config.num_hidden_layers + 1))
    for layer in lens["layers"]:
        assert set(layer) >= {"layer", "top", "chosen_prob", "chosen_rank"} and len(layer["top"]) == 4
        assert all(set(entry) == {"id", "text", "prob"} for entry in layer["top"])
    expected = lens_payload(loaded.name, loaded.tokenizer, in_process)
    assert [entry["id"] for entry in lens["final"]] == [entry["id"] for entry in expected["final"]]
    assert lens["final"][0]["id"] == lens["chosen"]["id"] and lens["layers"][-1]["chosen_rank"] == 1
    assert [layer["chosen_prob"] for layer in lens["layers"]] == pytest.approx(
        [layer["chosen_prob"] for layer in expected["layers"]], abs=1e-5)


def test_attention_prints_one_weight_per_token_for_every_layer(printed, in_process, loaded):
    attention = printed["attention"]
    assert set(attention) >= {"model", "position", "tokens", "layers"}
    assert len(attention["tokens"]) == attention["position"] + 1
    assert [layer["layer"] for layer in attention["layers"]] == list(range(loaded.model.config.num_hidden_layers))
    expected = attention_payload(loaded.name, loaded.tokenizer, in_process)
    assert [token["id"] for token in attention["tokens"]] == [token["id"] for token in expected["tokens"]]
    for layer, reference in zip(attention["layers"], expected["layers"]):
        assert len(layer["weights"]) == len(attention["tokens"]) and sum(layer["weights"]) == pytest.approx(1, abs=1e-5)
        assert layer["weights"] == pytest.approx(reference["weights"], abs=1e-5)


@pytest.mark.parametrize("arguments", [
    ["lens", "--steps", "-1"], ["lens", "--steps", "x"], ["lens", "--top", "0"], ["attention", "--layer", "two"],
    ["lens", "--layer", "1"], ["decode", "--min-p", "1.5"], ["decode", "--repetition-penalty", "0"],
    ["decode", "--min-p", "nan"],
])
def test_bad_values_exit_2_with_one_line(arguments, conversation_file, capsys):
    assert main([arguments[0], "--messages", str(conversation_file), *arguments[1:], "--json"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
