"""Lockstep decoding against outside references.

References: `model.generate(do_sample=False)` for the greedy row, and a lone `Decoder` with
the same settings and seed for the sampled row (batching must change nothing). The model's
own forward is wrapped with a counter to check that a step is one batched forward pass.
The model is conftest.py's session fixture `loaded`.
"""

import contextlib

import pytest
import torch

from visualizer.engine.branch import DecodeFinished
from visualizer.engine.decoder import Decoder
from visualizer.serving.forward_queue import ForwardQueue
from visualizer.engine.limits import InputError
from visualizer.engine.lockstep import GREEDY, SAMPLED, Lockstep, first_divergence
from visualizer.engine.sampling import SamplingSettings

STORY = [{"role": "user", "content": "Tell me a short story about a cat."}]
SHORT_ANSWER = [{"role": "user", "content": "What is 2+2? Answer with one number only."}]
HOT = SamplingSettings(temperature=1.5, seed=7)
# Batched rows differ from a lone row by float32 rounding only (measured: under 7e-5).
LOGITS_TOLERANCE = {"atol": 1e-4, "rtol": 1.3e-6}


def prompt(loaded, messages):
    return loaded.tokenizer.encode(loaded.tokenizer.render(messages))


def generate_greedy(loaded, ids, max_new_tokens):
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        output = loaded.model.generate(
            input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
            max_new_tokens=max_new_tokens, eos_token_id=list(loaded.tokenizer.eos_ids),
            pad_token_id=loaded.tokenizer.eos_ids[0],
        )
    return output[0, len(ids):].tolist()


def test_first_divergence():
    assert first_divergence([1, 2, 3], [1, 2, 3]) is None
    assert first_divergence([], []) is None
    assert first_divergence([1, 2, 3], [1, 5, 3]) == 1
    assert first_divergence([9], [1]) == 0
    assert first_divergence([1, 2], [1, 2, 3]) == 2  # a strict prefix parts where it ends
    assert first_divergence([1, 2, 3], [1]) == 1
    assert first_divergence([], [4]) == 0


def test_greedy_row_equals_generate_and_sampled_row_equals_a_lone_decoder(loaded):
    ids = prompt(loaded, STORY)
    lockstep = Lockstep(loaded, ids, HOT, max_new_tokens=32)
    lone = Decoder(loaded, ids, HOT, max_new_tokens=32)
    greedy_preview, sampled_preview = lockstep.start()
    assert sampled_preview.top == lone.start().top
    assert greedy_preview.is_preview and greedy_preview.greedy and not sampled_preview.greedy
    for _ in range(32):
        greedy, sampled = lockstep.step()
        expected = lone.step()
        assert (sampled.id, sampled.index, sampled.stop) == (expected.id, expected.index, expected.stop)
        assert greedy.index == sampled.index
        if lockstep.logits(SAMPLED) is not None:
            torch.testing.assert_close(lockstep.logits(SAMPLED), lone.next_logits, **LOGITS_TOLERANCE)
    assert lockstep.finished
    assert lockstep.branches[GREEDY].generated == generate_greedy(loaded, ids, 32)
    assert lockstep.branches[SAMPLED].generated == lone.branch.generated


def test_a_step_is_one_batched_forward_inside_the_lock(loaded):
    held = []

    class RecordingQueue(ForwardQueue):
        @contextlib.contextmanager
        def exclusive(self):
            with super().exclusive():
                held.append(True)
                yield self
                held[-1] = False

    lockstep = Lockstep(loaded, prompt(loaded, STORY), HOT, max_new_tokens=8, forwards=RecordingQueue())
    model = loaded.model
    calls = []
    original = model.forward

    def counting(*args, **kwargs):
        assert held and held[-1], "a forward pass ran outside the forward lock"
        calls.append(kwargs["input_ids"].shape)
        return original(*args, **kwargs)

    model.forward = counting
    try:
        lockstep.start()
        assert len(calls) == 1 and calls[0][0] == 1  # the prompt is prefilled once, batch 1
        for taken in range(1, 4):
            lockstep.step()
            assert len(calls) == 1 + taken and tuple(calls[-1]) == (2, 1)
    finally:
        del model.forward
    assert len(held) == len(calls)  # one lock per forward pass
    assert lockstep.cache_length() == len(lockstep.prompt_ids) + 3


def test_high_temperature_diverges_within_32_steps(loaded):
    lockstep = Lockstep(loaded, prompt(loaded, STORY), HOT, max_new_tokens=32)
    assert lockstep.divergence is None
    list(lockstep.run())
    index = lockstep.divergence
    assert index is not None and index < 32
    greedy, sampled = (branch.generated for branch in lockstep.branches)
    assert greedy[:index] == sampled[:index] and greedy[index] != sampled[index]
    again = Lockstep(loaded, prompt(loaded, STORY), HOT, max_new_tokens=32)
    list(again.run(max_steps=index + 1))  # seeded: the same draws part at the same place
    assert again.divergence == index and again.branches[SAMPLED].generated == sampled[: index + 1]


def test_after_one_branch_stops_the_other_goes_on_alone(loaded):
    ids = prompt(loaded, SHORT_ANSWER)
    lockstep = Lockstep(loaded, ids, HOT, max_new_tokens=16)
    lone = Decoder(loaded, ids, HOT, max_new_tokens=16)
    pairs = list(lockstep.run())
    list(lone.run())
    greedy = lockstep.branches[GREEDY]
    assert greedy.stop == "eos" and len(greedy.generated) < 16  # "The answer is 4." and <|im_end|>
    assert greedy.generated == generate_greedy(loaded, ids, 16)
    assert all(pair[GREEDY] is None for pair in pairs[len(greedy.generated):])
    assert [pair[SAMPLED].id for pair in pairs] == lone.branch.generated
    assert lockstep.branches[SAMPLED].stop == lone.stop
    assert lockstep.finished and lockstep.cache is None  # nothing left to feed: the cache is gone
    with pytest.raises(DecodeFinished):
        lockstep.step()


def test_the_lone_row_is_batch_one_and_matches_a_lone_decoder(loaded):
    ids = prompt(loaded, SHORT_ANSWER)
    lockstep = Lockstep(loaded, ids, HOT, max_new_tokens=16)
    lone = Decoder(loaded, ids, HOT, max_new_tokens=16)
    lockstep.start()
    lone.start()
    while not lockstep.branches[GREEDY].stop:
        lockstep.step()
        lone.step()
    assert lockstep.rows == [SAMPLED] and lockstep.next_logits.shape[0] == 1
    assert lockstep.cache.layers[0].keys.shape[0] == 1
    torch.testing.assert_close(lockstep.logits(SAMPLED), lone.next_logits, **LOGITS_TOLERANCE)
    greedy, sampled = lockstep.step()
    assert greedy is None and sampled.id == lone.step().id


@pytest.mark.parametrize("evict_after", [5, 10])  # 10: after the greedy row has stopped
def test_evict_rebuilds_the_same_rows(loaded, evict_after):
    ids = prompt(loaded, SHORT_ANSWER)
    steady = Lockstep(loaded, ids, HOT, max_new_tokens=16)
    evicted = Lockstep(loaded, ids, HOT, max_new_tokens=16)
    list(steady.run())
    list(evicted.run(max_steps=evict_after))
    held = evicted.nbytes()
    evicted.evict()
    assert evicted.nbytes() < held and evicted.cache is None
    logits_before = Lockstep(loaded, ids, HOT, max_new_tokens=16)
    list(logits_before.run(max_steps=evict_after))
    for branch in (GREEDY, SAMPLED):
        expected = logits_before.logits(branch)
        rebuilt = evicted.logits(branch)  # rebuilds: shared prefix once, then each row's tail
        assert (expected is None) == (rebuilt is None)
        if expected is not None:
            torch.testing.assert_close(rebuilt, expected, **LOGITS_TOLERANCE)
    assert evicted.cache_length() == len(ids) + evict_after
    list(evicted.run())
    for branch in (GREEDY, SAMPLED):
        assert evicted.branches[branch].generated == steady.branches[branch].generated


def test_reset_starts_both_rows_again(loaded):
    ids = prompt(loaded, STORY)
    lockstep = Lockstep(loaded, ids, HOT, max_new_tokens=12)
    first = [pair for pair in lockstep.run(max_steps=6)]
    lockstep.reset()
    assert lockstep.cache_length() == len(ids) and lockstep.divergence is None
    assert all(not branch.generated for branch in lockstep.branches)
    again = [pair for pair in lockstep.run(max_steps=6)]
    assert [(g.id, s.id) for g, s in again] == [(g.id, s.id) for g, s in first]
    list(lockstep.run())
    lockstep.reset()  # after both stopped and the cache was dropped
    assert lockstep.start()[SAMPLED].top == Lockstep(loaded, ids, HOT, max_new_tokens=12).start()[SAMPLED].top


def test_refuses_what_a_decoder_refuses(loaded):
    with pytest.raises(InputError):
        Lockstep(loaded, [], HOT, max_new_tokens=8)
    with pytest.raises(InputError):
        Lockstep(loaded, [1] * 10, HOT, max_new_tokens=loaded.context_length)
