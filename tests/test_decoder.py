"""The stepping decoder against transformers' own `generate` and a plain full forward pass.

References: `model.generate` (greedy, and sampled with the global generator seeded the same
way), `model(ids).logits` recomputed from scratch with no cache, and softmax ranks computed
here from the logits. The model is the real SmolLM2-135M-Instruct on the CPU, in float32.
"""

import pytest
import torch

from visualizer.engine.branch import DecodeFinished
from visualizer.engine.decoder import Decoder
from visualizer.engine.limits import InputError
from visualizer.engine.sampling import SamplingSettings
from visualizer.engine.template import render_conversation

# The notebook's opening conversation and its strawberry prompt (SmolLM2 answers both in about
# 20 tokens, then stops on <|im_end|>), a Spanish one that runs past 64 tokens, and a short
# prompt (25 tokens, so each prefill is cheap) with a long answer for the stepping mechanics.
MADRID = [
    {
        "role": "system",
        "content": "You are a helpful assistant called ChatGPT.\n\nCurrent date: June 10, 2024\n"
        "Knowledge cutoff: June 2024\nUser's name: Mikel",
    },
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello Mikel! How can I assist you today?"},
    {"role": "user", "content": "If I travel to Madrid in October, should I bring a coat?"},
]
STRAWBERRY = [
    {
        "role": "system",
        "content": "You are a helpful assistant, but you can't say the word strawberry.\nYour name is Zyrqel.",
    },
    {"role": "user", "content": "How many Rs are in the word strawberry?"},
]
SPANISH = [{"role": "user", "content": "Escribe un poema corto sobre el otoño en Madrid."}]
STORY = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me a story about a cat."}]
SAMPLED = dict(temperature=0.7, top_k=50, top_p=0.9)


def prompt_ids(loaded, messages):
    return loaded.tokenizer.encode(render_conversation(loaded.tokenizer, messages).text)


def reference_logits(loaded, ids):
    """Next-token logits from one full forward pass over all ids, no cache."""
    with torch.no_grad():
        return loaded.model(torch.tensor([ids]), use_cache=False).logits[0, -1].float()


def generate(loaded, ids, **kwargs):
    with torch.no_grad():
        output = loaded.model.generate(torch.tensor([ids]), **kwargs)
    assert output[0, : len(ids)].tolist() == ids
    return output[0, len(ids) :].tolist()


@pytest.fixture(scope="module")
def madrid(loaded):
    return prompt_ids(loaded, MADRID)


@pytest.fixture(scope="module")
def story(loaded):
    return prompt_ids(loaded, STORY)


@pytest.mark.parametrize("messages", [MADRID, STRAWBERRY, SPANISH], ids=["madrid", "strawberry", "es"])
def test_greedy_run_equals_generate(loaded, engine, messages):
    ids = prompt_ids(loaded, messages)
    expected = generate(loaded, ids, do_sample=False, max_new_tokens=64)
    decoder = Decoder(engine, ids, max_new_tokens=64)
    records = list(decoder.run())
    assert [record.id for record in records] == expected
    assert decoder.ids == ids + expected
    if expected[-1] in loaded.tokenizer.eos_ids:
        assert decoder.stop == "eos" and len(expected) < 64
    else:
        assert decoder.stop == "max_tokens" and len(expected) == 64
    assert all(record.greedy and not record.forced and record.rank == 1 for record in records)


def test_cached_steps_match_a_full_recompute(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=64)
    decoder.start()
    torch.testing.assert_close(decoder.branch.logits, reference_logits(loaded, story), atol=1e-4, rtol=0)
    for expected_length in range(len(story) + 1, len(story) + 7):
        record = decoder.step()
        assert record.cache_after == expected_length == decoder.cache_length()
        torch.testing.assert_close(decoder.branch.logits, reference_logits(loaded, decoder.ids), atol=1e-4, rtol=0)


def test_undo_crops_one_and_a_new_step_repeats_exactly(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=64)
    for _ in range(4):
        decoder.step()
    logits_before = decoder.branch.logits.clone()
    ids_before = decoder.ids
    record = decoder.step()
    logits_after = decoder.branch.logits.clone()
    length = decoder.cache_length()

    undone = decoder.undo()
    assert undone == record
    assert decoder.cache_length() == length - 1 == len(decoder.ids)
    assert decoder.ids == ids_before
    torch.testing.assert_close(decoder.branch.logits, logits_before, atol=1e-5, rtol=0)

    again = decoder.step()
    assert again.id == record.id
    torch.testing.assert_close(decoder.branch.logits, logits_after, atol=1e-5, rtol=0)
    torch.testing.assert_close(decoder.branch.logits, reference_logits(loaded, decoder.ids), atol=1e-4, rtol=0)


def test_undo_to_the_prompt_and_on_an_empty_message(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=8)
    decoder.step()
    decoder.undo()
    assert decoder.ids == story and decoder.cache_length() == len(story)
    torch.testing.assert_close(decoder.branch.logits, reference_logits(loaded, story), atol=1e-4, rtol=0)
    assert decoder.undo() is None
    assert decoder.redo() is not None  # the token just undone comes back
    assert decoder.redo() is None


def test_redo_restores_record_ids_and_logits(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=64)
    records = [decoder.step() for _ in range(3)]
    ids, logits = decoder.ids, decoder.branch.logits.clone()
    decoder.undo()
    decoder.undo()
    assert decoder.ids == ids[:-2]
    assert decoder.redo() == records[1]
    assert decoder.redo() == records[2]
    assert decoder.records == records
    assert decoder.ids == ids and decoder.cache_length() == len(ids)
    torch.testing.assert_close(decoder.branch.logits, logits, atol=1e-5, rtol=0)
    # A new step after undo forgets what could be redone.
    decoder.undo()
    decoder.step()
    assert decoder.redo() is None


def test_reset_returns_to_the_prompt(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=64)
    first = [decoder.step().id for _ in range(3)]
    decoder.reset()
    assert decoder.ids == story and decoder.records == [] and decoder.stop is None
    assert decoder.cache_length() == len(story)
    torch.testing.assert_close(decoder.branch.logits, reference_logits(loaded, story), atol=1e-4, rtol=0)
    assert [decoder.step().id for _ in range(3)] == first


def test_evicted_cache_is_rebuilt_with_the_same_results(loaded, engine, story):
    kept = Decoder(engine, story, max_new_tokens=64)
    evicted = Decoder(engine, story, max_new_tokens=64)
    for _ in range(3):
        kept.step()
        evicted.step()
    evicted.evict()
    assert not evicted.branch.ready and evicted.cache_length() == 0
    for _ in range(3):
        a, b = kept.step(), evicted.step()
        assert a.id == b.id
        assert b.cache_before == a.cache_before and b.cache_after == a.cache_after
        torch.testing.assert_close(evicted.branch.logits, kept.branch.logits, atol=1e-4, rtol=0)
    # Undo on an evicted decoder, then step: still the same path.
    kept.undo()
    evicted.evict()
    evicted.undo()
    assert kept.step().id == evicted.step().id
    torch.testing.assert_close(evicted.branch.logits, kept.branch.logits, atol=1e-4, rtol=0)


def test_force_appends_the_id_and_records_its_rank(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=64)
    decoder.step()
    probs = torch.softmax(reference_logits(loaded, decoder.ids), dim=-1)
    order = torch.argsort(probs, descending=True)
    fifth = int(order[4])
    assert probs[order[3]] > probs[fifth] > probs[order[5]]  # no ties around it
    ids_before = decoder.ids
    record = decoder.force(fifth)
    assert decoder.ids == ids_before + [fifth]
    assert record.id == fifth and record.forced and record.rank == 5
    assert record.raw_prob == pytest.approx(float(probs[fifth]), abs=1e-5)
    assert decoder.cache_length() == len(decoder.ids)

    # A very unlikely token: its rank counts the tokens strictly more likely than it.
    probs = torch.softmax(reference_logits(loaded, decoder.ids), dim=-1)
    unlikely = int(torch.argsort(probs)[100])
    record = decoder.force(unlikely)
    assert record.forced and record.id == unlikely
    assert record.rank == int((probs > probs[unlikely]).sum()) + 1 > 40_000
    torch.testing.assert_close(decoder.branch.logits, reference_logits(loaded, decoder.ids), atol=1e-4, rtol=0)


@pytest.mark.parametrize("bad", [-1, 49152, 10**12, "abc", 1.5, None])
def test_force_out_of_range_is_refused(loaded, engine, story, bad):
    decoder = Decoder(engine, story, max_new_tokens=8)
    assert loaded.vocab_size == 49152
    with pytest.raises(InputError):
        decoder.force(bad)
    assert decoder.ids == story


def test_max_tokens_stop(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=3)
    records = list(decoder.run())
    assert len(records) == 3 and decoder.stop == "max_tokens"
    assert [r.stop for r in records] == [None, None, "max_tokens"]
    with pytest.raises(DecodeFinished):
        decoder.step()
    decoder.undo()
    assert decoder.stop is None
    assert decoder.step().stop == "max_tokens"


def test_eos_stop(loaded, engine, story):
    decoder = Decoder(engine, story, max_new_tokens=64)
    decoder.step()
    eos = loaded.tokenizer.eos_ids[0]
    assert loaded.tokenizer.token_bytes(eos) == b"<|im_end|>"
    record = decoder.force(eos)
    assert record.stop == "eos" and decoder.stop == "eos"
    with pytest.raises(DecodeFinished):
        decoder.step()
    with pytest.raises(DecodeFinished):
        decoder.force(42)
    assert list(decoder.run()) == []
    assert decoder.ids[-1] == eos and len(decoder.ids) == len(story) + 2


def sampled_ids(engine, ids, seed, steps=8):
    decoder = Decoder(engine, ids, SamplingSettings.sampled(seed=seed, **SAMPLED), max_new_tokens=steps)
    return [record.id for record in decoder.run()]


def test_same_seed_same_tokens_different_seeds_differ(loaded, engine):
    ids = prompt_ids(loaded, STORY)
    first = sampled_ids(engine, ids, seed=11)
    assert sampled_ids(engine, ids, seed=11) == first
    assert sampled_ids(engine, ids, seed=12) != first


def test_sampled_undo_then_step_draws_the_same_token(loaded, engine):
    ids = prompt_ids(loaded, STORY)
    decoder = Decoder(engine, ids, SamplingSettings.sampled(temperature=1.0, seed=5), max_new_tokens=64)
    chosen = []
    for _ in range(6):
        record = decoder.step()
        decoder.undo()
        again = decoder.step()
        assert again.id == record.id and again.prob == pytest.approx(record.prob, abs=1e-5)
        chosen.append(again.id)
    # Several at once: undo three, step three, same tokens again.
    for _ in range(3):
        decoder.undo()
    assert [decoder.step().id for _ in range(3)] == chosen[3:]
    # And the whole run equals one made with no undo at all.
    plain = Decoder(engine, ids, SamplingSettings.sampled(temperature=1.0, seed=5), max_new_tokens=64)
    assert [plain.step().id for _ in range(6)] == chosen


@pytest.mark.parametrize("seed", [1, 2])
def test_sampled_run_equals_generate_with_the_same_seed(loaded, engine, madrid, seed):
    # `generate(do_sample=True)` draws one torch.multinomial per step from the global CPU
    # generator; ours draws one per step from its own CPU generator seeded the same way, after
    # the same warpers (temperature -> top-k -> top-p) in the same order. Same draws, same ids.
    torch.manual_seed(seed)
    expected = generate(loaded, madrid, do_sample=True, max_new_tokens=20, **SAMPLED)
    assert sampled_ids(engine, madrid, seed=seed, steps=20) == expected
