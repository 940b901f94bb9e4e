"""Inside the step on a tiny random Qwen3: logit lens, attention weights and the sampler's stage view.

References: a plain forward pass over the whole sequence without any cache, in eager attention
with `output_hidden_states` / `output_attentions` (transformers' own numbers), the step's kept
logits, the decoder's own greedy step, and transformers' processors applied one after another.
Also: the probe leaves the KV pool exactly as it was and the attention implementation as it was,
it takes a turn on the scheduler's model thread, the ZeroGPU path gives the same answer, and the
stage view needs no forward pass.
"""

import copy
import threading

import pytest
import torch
from transformers import (MinPLogitsWarper, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                          TopKLogitsWarper, TopPLogitsWarper)

from visualizer.engine.decoder import Decoder
from visualizer.engine.engine import Engine
from visualizer.engine.errors import InputError
from visualizer.engine.forward import ModelRunner
from visualizer.engine.inspection import attention_payload, inspect, lens_payload
from visualizer.engine.kvpool import KVPool
from visualizer.engine.probe import ProbeOptions
from visualizer.engine.sampling import SamplingSettings
from visualizer.engine.stage_view import decoder_stage_view
from visualizer.serving.scheduler import Scheduler

KNOBS = dict(repetition_penalty=1.3, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)


def reference(tiny, ids):
    """Eager full forward without cache -> (hidden states at the last position, attentions of the last query)."""
    model = tiny.model
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
    finally:
        model.set_attn_implementation("sdpa")
    hidden = torch.stack([state[0, -1] for state in out.hidden_states])
    return hidden, torch.stack([layer[0, :, -1] for layer in out.attentions]), out.logits[0, -1]


@pytest.fixture()
def stepped(engine, prompt):
    decoder = Decoder(engine, prompt, max_new_tokens=8)
    for _ in range(3):
        decoder.step()
    return decoder


def test_lens_last_layer_is_the_steps_raw_distribution_and_its_top_is_the_greedy_pick(stepped):
    inspection = inspect(stepped, top=5, distributions=True)
    raw = torch.softmax(stepped.branch.logits, dim=-1)
    torch.testing.assert_close(inspection.probe.distributions[-1], raw, atol=1e-5, rtol=0)
    assert inspection.probe.target == int(inspection.probe.top_ids[-1, 0]) == stepped.step().id
    assert inspection.position == len(stepped.ids) - 2 and inspection.generated == 3


def test_lens_layers_are_the_hidden_states_through_the_final_norm_and_head(stepped, tiny):
    inspection = inspect(stepped, top=5, distributions=True)
    hidden, _, _ = reference(tiny, stepped.ids)
    model = tiny.model
    with torch.no_grad():
        expected = torch.softmax(model.lm_head(torch.cat([model.model.norm(hidden[:-1]), hidden[-1:]])), dim=-1)
    assert inspection.probe.distributions.shape == (model.config.num_hidden_layers + 1, tiny.vocab_size)
    torch.testing.assert_close(inspection.probe.distributions, expected, atol=1e-5, rtol=0)
    ranks = (expected > expected[:, inspection.probe.target:inspection.probe.target + 1]).sum(dim=1) + 1
    assert inspection.probe.target_ranks.tolist() == ranks.tolist()


def test_attention_equals_eager_output_attentions_and_rows_sum_to_one(stepped, tiny):
    attention = inspect(stepped, lens=False).probe.attention
    _, expected, _ = reference(tiny, stepped.ids)
    config = tiny.model.config
    assert attention.shape == (config.num_hidden_layers, config.num_attention_heads, len(stepped.ids))
    torch.testing.assert_close(attention, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(attention.shape[:2]), atol=1e-5, rtol=0)


def test_the_probe_leaves_the_pool_and_the_attention_implementation_as_they_were(engine, tiny, prompt):
    probed, untouched = Decoder(engine, prompt, max_new_tokens=8), Decoder(engine, prompt, max_new_tokens=8)
    probed.step(), untouched.step()
    pool = engine.pool
    before = [(keys.clone(), values.clone()) for keys, values in zip(pool.keys, pool.values)]
    free, length = pool.free_pages, probed.cache_length()
    inspect(probed)
    assert pool.free_pages == free and probed.cache_length() == length
    table = pool.block_table(probed.branch.handle)
    for (keys, values), (old_keys, old_values) in zip(zip(pool.keys, pool.values), before):
        assert torch.equal(keys[table], old_keys[table]) and torch.equal(values[table], old_values[table])
    assert tiny.model.config._attn_implementation == "sdpa"
    assert [probed.step().id for _ in range(4)] == [untouched.step().id for _ in range(4)]


def test_inspection_takes_its_turn_on_the_model_thread(tiny, prompt):
    threads = []
    engine = Engine.create(tiny, 8 * 2**20, turns=Scheduler)
    original = engine.runner.inspect
    engine.runner.inspect = lambda *args: threads.append(threading.current_thread().name) or original(*args)
    try:
        decoder = Decoder(engine, prompt, max_new_tokens=4)
        decoder.step()
        assert inspect(decoder, lens=False).probe.attention.shape[-1] == len(decoder.ids)
    finally:
        engine.turns.close()
    assert threads == ["model"]


def test_the_zerogpu_path_probes_staged_pages_with_the_same_result(engine, tiny, prompt):
    def worker_boundary(function):  # arguments and results cross a process boundary: copied
        return lambda model, *args: copy.deepcopy(function(model, *copy.deepcopy(args)))

    remote = ModelRunner(tiny.model, KVPool(tiny.model.config, 64, dtype=tiny.model.dtype), device_call=worker_boundary)
    handle = remote.pool.new()
    remote.extend(handle, prompt)
    decoder = Decoder(engine, prompt, max_new_tokens=4)
    decoder.start()
    options = ProbeOptions(top=5, distributions=True)
    far = remote.inspect(handle, len(prompt) - 1, prompt[-1], options)
    near = inspect(decoder, top=5, distributions=True).probe
    torch.testing.assert_close(far.attention, near.attention, atol=1e-6, rtol=0)
    torch.testing.assert_close(far.distributions, near.distributions, atol=1e-6, rtol=0)
    with pytest.raises(ValueError):
        remote.inspect(handle, len(prompt), prompt[-1], options)


def test_payloads_follow_the_contract(stepped, tiny):
    inspection = inspect(stepped, top=4)
    lens = lens_payload(tiny.name, tiny.tokenizer, inspection)
    assert set(lens) >= {"model", "prompt_tokens", "position", "layers", "final", "chosen", "first_top_layer"}
    assert [layer["layer"] for layer in lens["layers"]] == list(range(tiny.model.config.num_hidden_layers + 1))
    assert all(set(layer) >= {"layer", "top", "chosen_prob", "chosen_rank"} and len(layer["top"]) == 4
               for layer in lens["layers"])
    assert lens["final"][0]["id"] == lens["chosen"]["id"] and lens["layers"][-1]["chosen_rank"] == 1
    first = lens["first_top_layer"]
    assert lens["layers"][first]["chosen_rank"] == 1 and all(l["chosen_rank"] > 1 for l in lens["layers"][:first])
    attention = attention_payload(tiny.name, tiny.tokenizer, inspection, heads=True)
    assert len(attention["tokens"]) == len(stepped.ids) == attention["position"] + 1
    for layer in attention["layers"]:
        assert len(layer["weights"]) == len(attention["tokens"]) and sum(layer["weights"]) == pytest.approx(1, abs=1e-5)
        assert len(layer["heads"]) == tiny.model.config.num_attention_heads
    parts = [token["part"] for token in attention["tokens"]]
    assert parts[0] == "system" and parts[-3:] == ["generated"] * 3 and "user" in parts and "assistant" in parts
    assert attention["tokens"][0]["special"] and attention["tokens"][0]["text"] == "<|im_start|>"
    one = attention_payload(tiny.name, tiny.tokenizer, inspection, layer="1")
    assert [layer["layer"] for layer in one["layers"]] == [1] and "heads" not in one["layers"][0]
    for bad in (2, -1, "x", 1.5):
        with pytest.raises(InputError) as refused:
            attention_payload(tiny.name, tiny.tokenizer, inspection, layer=bad)
        assert refused.value.code in {"out_of_range", "not_whole"}


def test_stage_view_needs_no_forward_pass_and_follows_generates_order(stepped, engine):
    calls = []
    for name in ("step", "extend", "inspect"):
        original = getattr(engine.runner, name)
        setattr(engine.runner, name, lambda *args, original=original, name=name: calls.append(name) or original(*args))
    logits, ids = stepped.branch.logits.clone(), list(stepped.ids)
    view = decoder_stage_view(stepped, SamplingSettings.sampled(**KNOBS), top=8)
    hotter = decoder_stage_view(stepped, SamplingSettings.sampled(**dict(KNOBS, temperature=2.0)), top=8)
    assert calls == [] and hotter["stages"][2]["entropy"] > view["stages"][2]["entropy"]
    assert [stage["name"] for stage in view["stages"]] == ["raw", *KNOBS, "final"]
    processors = [RepetitionPenaltyLogitsProcessor(1.3), TemperatureLogitsWarper(0.7), TopKLogitsWarper(40),
                  TopPLogitsWarper(0.9), MinPLogitsWarper(0.05)]
    scores, columns = logits.unsqueeze(0), [token["id"] for token in view["tokens"]]
    cut_before = torch.zeros_like(logits, dtype=torch.bool)
    for stage, processor in zip(view["stages"][1:], processors):
        scores = processor(torch.tensor([ids]), scores.clone())
        probs, cut = torch.softmax(scores[0], dim=-1), torch.isneginf(scores[0])
        assert stage["probs"] == pytest.approx(probs[columns].tolist(), abs=1e-6)
        assert stage["kept"] == int((~cut).sum()) and stage["removed"] == int((cut & ~cut_before).sum())
        cut_before = cut
    assert view["stages"][-1]["probs"] == view["stages"][-2]["probs"] and view["stages"][3]["kept"] == 40


def test_stage_view_of_off_knobs_passes_the_distribution_on(stepped):
    view = decoder_stage_view(stepped, SamplingSettings.sampled(top_k=5), top=5)
    by_name = {stage["name"]: stage for stage in view["stages"]}
    assert [by_name[name]["on"] for name in KNOBS] == [False, False, True, False, False]
    assert by_name["temperature"]["probs"] == by_name["raw"]["probs"] and by_name["temperature"]["removed"] == 0
    assert by_name["top_k"]["removed"] == stepped.engine.vocab_size - 5 and by_name["final"]["kept"] == 5
    assert by_name["top_k"]["removed_mass"] == pytest.approx(1 - sum(sorted(by_name["raw"]["probs"])[-5:]), abs=1e-5)
    assert view["greedy"] is False and decoder_stage_view(stepped)["greedy"] is True
