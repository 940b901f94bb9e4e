"""The sampling pipeline on hand-worked numbers, and against transformers' processors and torch's draws.

References: probabilities worked out by hand with math.exp for each knob; transformers'
processor classes called directly on the same logits; `torch.multinomial` with a generator
seeded alike (what `generate(do_sample=True)` calls).
"""

import math

import pytest
import torch
from transformers import (LogitsProcessorList, MinPLogitsWarper, RepetitionPenaltyLogitsProcessor,
                          TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)

from visualizer.engine.errors import InputError
from visualizer.engine.knobs import KNOB_BY_NAME, KNOBS
from visualizer.engine.records import summarize
from visualizer.engine.noise import Noise, cpu_exponential
from visualizer.engine.sampling import SamplingSettings, pick_rows, stages, warp_rows


def probs_after(logits, **knobs):
    settings = SamplingSettings.sampled(**knobs)
    scores = warp_rows(torch.tensor([logits]), [settings], [[0]])[0]
    return torch.softmax(scores, dim=-1).tolist(), torch.isneginf(scores).tolist()


def softmax(values):
    exps = [math.exp(v) for v in values]
    return [e / sum(exps) for e in exps]


def test_temperature_divides_the_logits():
    probs, cut = probs_after([2.0, 1.0, 0.0], temperature=0.5)
    assert probs == pytest.approx(softmax([4.0, 2.0, 0.0]), abs=1e-6)
    assert cut == [False, False, False]


def test_top_k_keeps_the_k_largest():
    probs, cut = probs_after([3.0, 1.0, 2.0, 0.0], top_k=2)
    kept = softmax([3.0, 2.0])
    assert probs == pytest.approx([kept[0], 0.0, kept[1], 0.0], abs=1e-6)
    assert cut == [False, True, False, True]


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = [math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]
    probs, cut = probs_after(logits, top_p=0.7)  # 0.5 + 0.3 = 0.8 >= 0.7
    assert probs == pytest.approx([0.625, 0.375, 0.0, 0.0], abs=1e-6)
    assert cut == [False, False, True, True]


def test_min_p_cuts_below_a_fraction_of_the_top_probability():
    logits = [math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]
    probs, cut = probs_after(logits, min_p=0.4)  # threshold 0.4 * 0.5 = 0.2
    assert probs == pytest.approx([0.625, 0.375, 0.0, 0.0], abs=1e-6)
    assert cut == [False, False, True, True]


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_ids():
    settings = SamplingSettings(greedy=True, knobs=(("repetition_penalty", 2.0),))
    scores = warp_rows(torch.tensor([[2.0, 1.0, -1.0, 0.5]]), [settings], [[0, 2]])[0]
    assert scores.tolist() == pytest.approx([1.0, 1.0, -2.0, 0.5])  # ids 0 and 2 were seen


def test_greedy_skips_warpers_but_keeps_processors():
    settings = SamplingSettings(greedy=True, knobs=(("temperature", 0.5), ("top_k", 1), ("repetition_penalty", 2.0)))
    assert [knob.name for knob, _ in settings.active()] == ["repetition_penalty"]
    assert not SamplingSettings(greedy=False).active()


def test_the_pipeline_runs_in_generates_order_and_equals_transformers():
    torch.manual_seed(0)
    logits = torch.randn(3, 500) * 3
    ids = [[1, 2, 3], [4], [5, 5, 6, 7]]
    values = dict(repetition_penalty=1.3, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)
    settings = SamplingSettings.sampled(seed=1, **values)
    assert [knob.name for knob, _ in settings.active()] == [knob.name for knob in KNOBS]
    reference = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.3), TemperatureLogitsWarper(0.7),
                                     TopKLogitsWarper(40), TopPLogitsWarper(0.9), MinPLogitsWarper(0.05)])
    scores = warp_rows(logits, [settings] * 3, ids)
    for row in range(3):
        expected = reference(torch.tensor([ids[row]]), logits[row:row + 1].clone())[0]
        torch.testing.assert_close(scores[row], expected)


def test_rows_with_different_settings_get_their_own_pipelines_and_logits_stay_untouched():
    torch.manual_seed(1)
    logits = torch.randn(3, 200)
    before = logits.clone()
    rows = [SamplingSettings.sampled(temperature=0.5), SamplingSettings(), SamplingSettings.sampled(top_k=3)]
    scores = warp_rows(logits, rows, [[0]] * 3)
    assert torch.equal(logits, before)
    torch.testing.assert_close(scores[0], logits[0] / 0.5)
    assert torch.equal(scores[1], logits[1])
    assert int((~torch.isneginf(scores[2])).sum()) == 3


def test_no_transform_gives_the_logits_themselves_and_the_same_summary_as_a_copy():
    torch.manual_seed(4)
    logits = torch.randn(3, 300) * 3
    scores = warp_rows(logits, [SamplingSettings(), SamplingSettings.sampled(seed=1), SamplingSettings()], [[0]] * 3)
    assert scores is logits  # nothing to warp: no copy, one softmax
    chosen = torch.tensor([4, -1, 250])
    shared, separate = summarize(logits, scores, chosen, 6), summarize(logits, logits.clone(), chosen, 6)
    torch.testing.assert_close(shared, separate, atol=1e-6, rtol=0)
    probs = torch.softmax(logits, dim=-1)
    assert shared[:, 4].tolist() == pytest.approx([-sum(p * math.log2(p) for p in row) for row in probs.tolist()],
                                                  abs=1e-4)


def test_stages_show_each_knob_in_order_and_end_with_what_is_drawn_from():
    torch.manual_seed(2)
    logits = torch.randn(300)
    settings = SamplingSettings.sampled(temperature=0.8, top_k=20, top_p=0.5)
    steps = stages(logits, settings, [1, 2])
    assert [name for name, *_ in steps] == ["raw", "temperature", "top_k", "top_p"]
    final = torch.softmax(warp_rows(logits.unsqueeze(0), [settings], [[1, 2]])[0], dim=-1)
    torch.testing.assert_close(steps[-1][2], final)
    assert int((~steps[2][3]).sum()) == 20 and int((~steps[3][3]).sum()) <= 20


def test_picks_equal_torch_multinomial_with_the_same_seed_greedy_and_forced():
    torch.manual_seed(3)
    logits = torch.randn(4, 1000) * 2
    noise = [Noise(seed) for seed in range(4)]
    chosen = pick_rows(logits, [False, False, True, False], [None, None, None, 7],
                       [noise[0].peek(1000), noise[1].peek(1000), None, None])
    for row in (0, 1):
        generator = torch.Generator().manual_seed(row)
        assert int(chosen[row]) == int(torch.multinomial(torch.softmax(logits[row], -1), 1, generator=generator))
    assert int(chosen[2]) == int(torch.argmax(logits[2])) and int(chosen[3]) == 7


@pytest.mark.parametrize("seed,size", [(0, 1000), (5, 49152), (123456789, 151936), (2**40 + 3, 7)])
def test_cpu_noise_equals_torch_exponential_value_for_value_and_leaves_the_generator_where_it_does(seed, size):
    ours, theirs = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    assert torch.equal(cpu_exponential(size, ours), torch.empty(size).exponential_(generator=theirs))
    assert torch.equal(ours.get_state(), theirs.get_state())


def test_noise_peeks_without_consuming_and_restores_exactly():
    noise = Noise(11)
    first = noise.peek(100).clone()
    assert torch.equal(noise.peek(100), first)  # peeking twice draws nothing new
    state = noise.state()
    noise.consume(100)
    second = noise.peek(100).clone()
    assert not torch.equal(first, second)
    noise.set_state(state)
    assert torch.equal(noise.peek(100), first)


def test_an_undo_gets_the_consumed_draw_back_and_a_greedy_undo_keeps_the_one_ahead():
    noise = Noise(5)
    before = noise.state()
    first = noise.peek(100)
    noise.consume(100, undoable=True)
    state = torch.Generator().get_state().numel()
    assert noise.nbytes() == 400 + 2 * state  # the consumed draw, kept for an undo (and the states around it)
    second = noise.peek(100)
    noise.set_state(noise.state())  # a greedy pick undone: the generator did not move
    assert noise.peek(100) is second
    noise.set_state(before)  # the sampled pick undone
    assert noise.peek(100) is first  # not drawn again...
    assert torch.equal(first, torch.empty(100).exponential_(generator=torch.Generator().manual_seed(5)))  # ...and right
    noise.consume(100)
    assert torch.equal(noise.peek(100), second)
    assert noise.nbytes() == 400 + state  # a plain consume (a room's seed stream) keeps no vector: only the one ahead


def test_summary_ranks_entropies_and_kept_counts():
    logits = torch.tensor([[math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]])
    settings = SamplingSettings.sampled(top_k=2)
    scores = warp_rows(logits, [settings], [[0]])
    row = summarize(logits, scores, torch.tensor([1]), top_n=3)[0].tolist()
    assert row[:4] == pytest.approx([1, 0.3, 0.375, 2])  # chosen, raw prob, sampled prob, rank
    entropy = -(0.625 * math.log2(0.625) + 0.375 * math.log2(0.375))
    raw_entropy = -sum(p * math.log2(p) for p in (0.5, 0.3, 0.15, 0.05))
    assert row[4:7] == pytest.approx([entropy, raw_entropy, 2], abs=1e-5)


@pytest.mark.parametrize("name,value", [("temperature", 0), ("temperature", "1e9"), ("top_k", -1), ("top_k", 1001),
                                        ("top_p", 1.5), ("min_p", -0.1), ("repetition_penalty", "abc"),
                                        ("temperature", "٣"), ("top_k", "²"), ("top_p", "nan")])
def test_bad_knob_values_are_refused_with_a_code(name, value):
    with pytest.raises(InputError) as refused:
        SamplingSettings.from_user(1000, greedy=False, **{name: value})
    assert refused.value.code in {"out_of_range", "out_of_range_above", "not_number", "not_whole", "not_finite"}


def test_off_values_build_no_processor():
    settings = SamplingSettings.from_user(1000, greedy=False, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0,
                                          repetition_penalty=1.0)
    assert settings.knobs == () and settings.processors() == []
    assert KNOB_BY_NAME["top_k"].elem_id == "top-k" and KNOB_BY_NAME["min_p"].flag == "--min-p"


def test_one_token_left_has_zero_entropy_not_minus_zero():
    """A cut that leaves one token: Shannon entropy 0, shown "0.00" (it read "-0.00" in the Decoder)."""
    from visualizer.engine.sampling import entropy_bits, entropy_bits_of

    scores = torch.full((1, 6), -math.inf)
    scores[0, 2] = 3.0
    probs = torch.softmax(scores, -1)
    for entropy in (float(entropy_bits_of(scores, probs, torch.isinf(scores))[0]), float(entropy_bits(probs[0]))):
        assert entropy == 0.0 and math.copysign(1.0, entropy) == 1.0 and f"{entropy:.2f}" == "0.00"
