"""The headless CLI contract, run as a user runs it: `python -m visualizer ...` in a subprocess.

References: the notebook's 47 Qwen3 ids for its strawberry prompt, and `model.generate` run
in-process on the same prompt (greedy, and sampled with the global generator seeded alike).
Each subprocess imports torch and loads the model again (a few seconds), so the runs are few,
and all of them start together from one fixture, two at a time (one per core, one thread each).
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from visualizer.cli import main
from visualizer.engine.qwen_offline import QWEN3_THINKING_SPEC
from visualizer.engine.template import render_conversation

REPO = Path(__file__).resolve().parent.parent
STRAWBERRY = [
    {
        "role": "system",
        "content": "You are a helpful assistant, but you can't say the word strawberry.\nYour name is Zyrqel.",
    },
    {"role": "user", "content": "How many Rs are in the word strawberry?"},
]
# The notebook's "Paso 2" output: Qwen3-4B-Thinking-2507's ids for the strawberry prompt.
NOTEBOOK_IDS = [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 11, 714, 498, 646, 944, 1977, 279, 3409, 72600, 624, 7771, 829, 374, 1863, 10920, 80, 301, 13, 151645, 198, 151644, 872, 198, 4340, 1657, 19215, 525, 304, 279, 3409, 72600, 30, 151645, 198, 151644, 77091, 198, 151667, 198]  # fmt: skip
SAMPLED_FLAGS = ["--temperature", "0.7", "--top-k", "50", "--top-p", "0.9", "--seed", "7"]
CPU = ["--device", "cpu"]  # float32 on the CPU, like the in-process reference, even where a GPU is


# name -> (arguments, stdin); "{file}" stands for the strawberry conversation's file.
RUNS = {
    "tokens": (("tokens", "--messages", "{file}", "--json"), None),
    "tokens-qwen": (("tokens", "--model", QWEN3_THINKING_SPEC, "--tokenizer-only", "--messages", "{file}", "--json"),
                    None),
    "tokens-qwen-no-prompt": (("tokens", "--model", QWEN3_THINKING_SPEC, "--tokenizer-only", "--messages", "-",
                               "--no-generation-prompt", "--json"), json.dumps(STRAWBERRY)),
    "tokens-text": (("tokens", "--text", "Zyrqel 😀 <|im_end|>", "--tokenizer-only", "--json"), None),
    "decode-greedy": (("decode", "--messages", "{file}", "--json", "--steps", "8", "--top", "3", *CPU), None),
    "decode-sampled-1": (("decode", "--messages", "{file}", "--json", "--steps", "8", *SAMPLED_FLAGS, *CPU), None),
    "decode-sampled-2": (("decode", "--messages", "{file}", "--json", "--steps", "8", *SAMPLED_FLAGS, *CPU), None),
    "missing-file": (("tokens", "--messages", "/no/such/file.json"), None),
    "top-k-over-vocab": (("decode", "--messages", "{file}", "--temperature", "1", "--top-k", "49153", *CPU), None),
    "unknown-model": (("tokens", "--model", "nosuch/model", "--text", "hi"), None),
    "qwen-has-no-weights": (("decode", "--model", QWEN3_THINKING_SPEC, "--messages", "{file}", "--steps", "4"), None),
}


def cli(*args, stdin=None):
    # Offline: a Qwen3 decode must fall back to its tokenizer, never start a 8 GB download.
    # One thread each: two runs share the two cores without fighting over them.
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "visualizer", *map(str, args)],
        cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def runs(strawberry_file):
    """Every CLI run of this module, name -> CompletedProcess."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(cli, *[str(strawberry_file) if a == "{file}" else a for a in args], stdin=stdin)
            for name, (args, stdin) in RUNS.items()
        }
        return {name: future.result() for name, future in futures.items()}


def ok_json(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def one_line_error(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0]
    assert result.stdout == ""


@pytest.fixture(scope="module")
def strawberry_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "strawberry.json"
    path.write_text(json.dumps(STRAWBERRY), encoding="utf-8")
    return path


def reference_generate(loaded, messages, **kwargs):
    ids = loaded.tokenizer.encode(render_conversation(loaded.tokenizer, messages).text)
    with torch.no_grad():
        output = loaded.model.generate(torch.tensor([ids]), **kwargs)
    return len(ids), output[0, len(ids) :].tolist()


def test_tokens_json_shape(loaded, runs):
    payload = ok_json(runs["tokens"])
    assert set(payload) == {"model", "text", "count", "tokens"}
    assert payload["model"] == "SmolLM2-135M-Instruct"
    assert payload["text"] == render_conversation(loaded.tokenizer, STRAWBERRY).text
    assert payload["count"] == len(payload["tokens"])
    assert all(set(token) == {"id", "text", "special"} for token in payload["tokens"])
    ids = [token["id"] for token in payload["tokens"]]
    assert ids == loaded.tokenizer.tokenizer(payload["text"], add_special_tokens=False)["input_ids"]
    assert "".join(token["text"] for token in payload["tokens"]) == payload["text"]
    assert [t["text"] for t in payload["tokens"] if t["special"]] == ["<|im_start|>", "<|im_end|>"] * 2 + [
        "<|im_start|>"
    ]


def test_tokens_of_the_notebook_prompt_with_qwen3(runs):
    payload = ok_json(runs["tokens-qwen"])
    assert [token["id"] for token in payload["tokens"]] == NOTEBOOK_IDS
    assert payload["count"] == 47
    assert QWEN3_THINKING_SPEC in payload["model"]
    assert payload["text"].endswith("<|im_start|>assistant\n<think>\n")


def test_tokens_without_generation_prompt_from_stdin(runs):
    payload = ok_json(runs["tokens-qwen-no-prompt"])
    # The notebook's ids without the 5 of "<|im_start|>assistant\n<think>\n".
    assert [token["id"] for token in payload["tokens"]] == NOTEBOOK_IDS[:42]


def test_tokens_of_plain_text(loaded, runs):
    text = "Zyrqel 😀 <|im_end|>"
    payload = ok_json(runs["tokens-text"])
    assert payload["model"] == "SmolLM2-135M-Instruct"
    assert payload["text"] == text
    assert [token["id"] for token in payload["tokens"]] == loaded.tokenizer.tokenizer(
        text, add_special_tokens=False
    )["input_ids"]
    assert [token["special"] for token in payload["tokens"]][-1] is True
    assert payload["tokens"][-1]["text"] == "<|im_end|>"


def test_decode_greedy_json_equals_generate(loaded, runs):
    payload = ok_json(runs["decode-greedy"])
    assert set(payload) == {"model", "prompt_tokens", "steps", "ids", "text", "stop"}
    prompt_tokens, expected = reference_generate(loaded, STRAWBERRY, do_sample=False, max_new_tokens=8)
    assert payload["prompt_tokens"] == prompt_tokens
    assert payload["ids"] == expected and len(expected) == 8
    assert payload["stop"] == "max_tokens"
    assert payload["text"] == loaded.tokenizer.tokenizer.decode(expected)
    assert len(payload["steps"]) == 8
    for step, token_id in zip(payload["steps"], expected):
        assert {"id", "text", "prob", "top", "top_raw", "ms"} <= set(step)
        assert step["id"] == token_id
        assert len(step["top"]) == 3 and len(step["top_raw"]) == 3
        assert all(set(c) == {"id", "text", "prob"} for c in step["top"] + step["top_raw"])
        assert step["top"][0]["id"] == token_id  # greedy takes the most likely
        assert step["prob"] == step["top"][0]["prob"] >= step["top"][1]["prob"] >= step["top"][2]["prob"]
        assert step["ms"] > 0


@pytest.fixture(scope="module")
def sampled_runs(runs):
    return ok_json(runs["decode-sampled-1"]), ok_json(runs["decode-sampled-2"])


def test_decode_sampled_with_a_seed_repeats(sampled_runs):
    first, second = sampled_runs
    assert first["ids"] == second["ids"]
    assert [s["prob"] for s in first["steps"]] == [s["prob"] for s in second["steps"]]


def test_decode_sampled_equals_generate_with_the_same_seed(loaded, sampled_runs):
    torch.manual_seed(7)
    _, expected = reference_generate(loaded, STRAWBERRY, do_sample=True, temperature=0.7, top_k=50, top_p=0.9,
                                     max_new_tokens=8)
    assert sampled_runs[0]["ids"] == expected


@pytest.mark.parametrize(
    "name,words",
    [
        ("missing-file", ("cannot read", "/no/such/file.json")),
        ("top-k-over-vocab", ("top-k", "49152")),
        ("unknown-model", ("nosuch/model",)),
        ("qwen-has-no-weights", ("weights",)),
    ],
)
def test_bad_input_exits_2_with_one_line(runs, name, words):
    one_line_error(runs[name], *words)


# Refused before any model loads: checked in-process (same `main`, no subprocess start-up),
# with stderr captured at the file descriptor so stray warnings would show up too.
@pytest.mark.parametrize(
    "content,extra,words",
    [
        ('[{"role": "user", "content": "hi"', (), ("invalid JSON",)),
        ('[{"role": "wizard", "content": "hi"}]', (), ("unknown role 'wizard'",)),
        (None, ("--temperature", "0"), ("temperature",)),
        (None, ("--temperature", "1", "--top-p", "1.5"), ("top-p",)),
        (None, ("--steps", "0"), ("max new tokens", "got 0")),
        (None, ("--greedy", "--temperature", "1"), ("--greedy",)),
        (None, ("--top-k",), ("--top-k",)),
    ],
    ids=["invalid-json", "bad-role", "temperature-0", "top-p-1.5", "steps-0", "greedy-and-temperature", "no-value"],
)
def test_bad_decode_input_in_process(tmp_path, capfd, strawberry_file, content, extra, words):
    path = strawberry_file
    if content is not None:
        path = tmp_path / "bad.json"
        path.write_text(content, encoding="utf-8")
    status = main(["decode", "--messages", str(path), "--json", *extra])
    out, err = capfd.readouterr()
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err

