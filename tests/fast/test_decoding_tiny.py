"""Decoding on the shared KV pool, on a tiny random Qwen3: against `generate` and a full recompute.

References: `model.generate` (greedy, and sampled after `torch.manual_seed(s)` with the same knobs,
min-p and repetition penalty included), and a plain forward pass over the whole sequence without
any cache. Also the mechanics a user touches: undo, redo, reset, force, evict and rebuild,
restore from a snapshot in one pass, batched steps equal lone ones, preview without a forward pass.
"""

import pytest
import torch

from visualizer.engine.decoder import Decoder
from visualizer.engine.errors import InputError
from visualizer.engine.lockstep import Lockstep
from visualizer.engine.sampling import SamplingSettings, entropy_bits
from visualizer.engine.stepper import Advance, run_batch

SAMPLED = dict(temperature=0.9, top_k=50, top_p=0.95, min_p=0.02, repetition_penalty=1.2)


def generate(tiny, ids, steps, seed=None, **knobs):
    tokenizer = tiny.tokenizer
    options = dict(max_new_tokens=steps, eos_token_id=list(tokenizer.eos_ids), pad_token_id=tokenizer.eos_ids[0])
    if seed is None:
        options.update(do_sample=False)
    else:
        torch.manual_seed(seed)
        options.update(do_sample=True, **knobs)
    with torch.no_grad():
        out = tiny.model.generate(torch.tensor([ids]), **options)
    return out[0, len(ids):].tolist()


def full_logits(tiny, ids):
    with torch.no_grad():
        return tiny.model(torch.tensor([ids])).logits[0, -1].float()


def test_greedy_steps_equal_generate(engine, tiny, prompt):
    decoder = Decoder(engine, prompt, max_new_tokens=16)
    records = list(decoder.run())
    assert [r.id for r in records] == generate(tiny, prompt, 16)
    assert all(r.rank == 1 and r.greedy and not r.forced for r in records)
    assert records[-1].stop == decoder.stop == "max_tokens"


@pytest.mark.parametrize("seed", [0, 7])
def test_sampled_steps_equal_generate_with_the_same_seed_and_knobs(engine, tiny, prompt, seed):
    decoder = Decoder(engine, prompt, SamplingSettings.sampled(seed=seed, **SAMPLED), max_new_tokens=12)
    assert [r.id for r in decoder.run()] == generate(tiny, prompt, 12, seed, **SAMPLED)


def test_each_step_equals_a_full_recompute(engine, tiny, prompt):
    decoder = Decoder(engine, prompt, max_new_tokens=8)
    decoder.start()
    torch.testing.assert_close(decoder.branch.logits, full_logits(tiny, prompt), atol=1e-4, rtol=0)
    for _ in range(5):
        record = decoder.step()
        assert record.cache_after == decoder.cache_length() == len(decoder.ids)
        torch.testing.assert_close(decoder.branch.logits, full_logits(tiny, decoder.ids), atol=1e-4, rtol=0)


def test_undo_then_step_draws_the_same_token_and_redo_restores(engine, prompt):
    decoder = Decoder(engine, prompt, SamplingSettings.sampled(seed=3, temperature=1.5), max_new_tokens=20)
    records = [decoder.step() for _ in range(6)]
    logits = decoder.branch.logits.clone()
    assert decoder.undo() == records[-1] and decoder.undo() == records[-2]
    assert decoder.cache_length() == len(decoder.ids) == len(prompt) + 4
    assert decoder.redo() == records[-2] and decoder.redo() == records[-1]
    torch.testing.assert_close(decoder.branch.logits, logits, atol=1e-5, rtol=0)
    decoder.undo()
    assert decoder.step().id == records[-1].id  # the generator was rewound exactly
    assert decoder.redo() is None  # a new step forgets what could be redone


def test_the_last_tokens_undo_takes_no_forward_pass_and_gives_a_full_recomputes_logits(engine, tiny, prompt):
    """Undo moves the row's length back and puts back the logits the undone pick was made from (kept
    by a step, a redo and a restore); only an undo past them feeds the last id again."""
    settings = SamplingSettings.sampled(seed=4, temperature=1.3)
    decoder = Decoder(engine, prompt, settings, max_new_tokens=20)
    records = [decoder.step() for _ in range(4)]
    passes = []
    step = engine.runner.step
    engine.runner.step = lambda handles, ids: passes.append(len(handles)) or step(handles, ids)
    assert decoder.undo() == records[-1] and passes == []  # free
    assert decoder.cache_length() == len(decoder.ids) == len(prompt) + 3
    torch.testing.assert_close(decoder.branch.logits, full_logits(tiny, decoder.ids), atol=1e-4, rtol=0)
    assert decoder.undo() == records[-2] and passes == [1]  # the one before: fed again
    torch.testing.assert_close(decoder.branch.logits, full_logits(tiny, decoder.ids), atol=1e-4, rtol=0)
    assert decoder.redo() == records[-2] and passes == [1, 1]
    assert decoder.undo() == records[-2] and passes == [1, 1]  # after a redo: free again
    assert decoder.step().id == records[-2].id and decoder.step().id == records[-1].id  # the same draws

    restored = Decoder(engine, prompt, settings, max_new_tokens=20)
    restored.restore(decoder.generated, noise_state=decoder.branch.noise_state())  # one pass over the ids
    passes.clear()
    assert restored.undo().id == records[-1].id and passes == []  # free: the pass kept the last two positions
    assert restored.cache_length() == len(restored.ids) == len(prompt) + 3
    torch.testing.assert_close(restored.branch.logits, full_logits(tiny, restored.ids), atol=1e-4, rtol=0)
    assert restored.step().id == records[-1].id


def test_reset_and_rebuild_after_eviction_go_on_identically(engine, prompt):
    settings = SamplingSettings.sampled(seed=5, temperature=1.2)
    kept, evicted = Decoder(engine, prompt, settings, 30), Decoder(engine, prompt, settings, 30)
    for _ in range(3):
        assert kept.step().id == evicted.step().id
    evicted.evict()
    assert evicted.cache_length() == 0
    for _ in range(3):
        assert kept.step().id == evicted.step().id
    torch.testing.assert_close(evicted.branch.logits, kept.branch.logits, atol=1e-4, rtol=0)
    first = [r.id for r in kept.records]
    kept.reset()
    assert kept.ids == prompt and kept.cache_length() == len(prompt)
    assert [kept.step().id for _ in range(6)] == first


def test_force_keeps_the_models_probabilities_and_counts_the_rank(engine, tiny, prompt):
    decoder = Decoder(engine, prompt, max_new_tokens=8)
    decoder.start()
    probs = torch.softmax(full_logits(tiny, prompt), dim=-1)
    tenth = int(torch.argsort(probs, descending=True)[9])
    record = decoder.force(tenth)
    assert record.forced and record.id == tenth and decoder.ids[-1] == tenth
    assert record.rank == int((probs > probs[tenth]).sum()) + 1
    assert record.raw_prob == pytest.approx(float(probs[tenth]), abs=1e-6)
    with pytest.raises(InputError):
        decoder.force(tiny.vocab_size)


def test_restore_rebuilds_records_in_one_pass(engine, prompt):
    settings = SamplingSettings.sampled(seed=9, **SAMPLED)
    decoder = Decoder(engine, prompt, settings, 20)
    stepped = [decoder.step() for _ in range(5)] + [decoder.force(100)] + [decoder.step() for _ in range(3)]
    restored = Decoder(engine, prompt, settings, 20)
    restored.restore(decoder.generated, [r.forced for r in stepped], decoder.branch.noise_state())
    assert restored.generated == decoder.generated and restored.cache_length() == len(decoder.ids)
    for a, b in zip(stepped, restored.records):
        assert (a.id, a.forced, a.rank, a.index) == (b.id, b.forced, b.rank, b.index)
        assert a.prob == pytest.approx(b.prob, abs=1e-5) and a.raw_prob == pytest.approx(b.raw_prob, abs=1e-5)
        assert [c.id for c in a.top] == [c.id for c in b.top]
    assert restored.step().id == decoder.step().id  # the generator came back too


def test_rows_stepped_in_one_batch_equal_lone_steps(engine, prompt):
    settings = [SamplingSettings(), SamplingSettings.sampled(seed=1, temperature=0.8), SamplingSettings.sampled(
        seed=2, top_k=5)]
    prompts = [prompt, prompt[:-3], prompt + prompt[:7]]
    batched = [Decoder(engine, p, s, 10) for p, s in zip(prompts, settings)]
    alone = [Decoder(engine, p, s, 10) for p, s in zip(prompts, settings)]
    for decoder in batched:
        decoder.start()
    for _ in range(4):
        records = run_batch(engine.runner, [Advance(d.branch) for d in batched])
        assert {r.batch_rows for r in records} == {3}
        for record, decoder in zip(records, alone):
            lone = decoder.step()
            assert record.id == lone.id and record.prob == pytest.approx(lone.prob, abs=1e-5)
            assert [c.id for c in record.top_raw] == [c.id for c in lone.top_raw]


def test_a_batch_without_knobs_equals_generate_and_the_softmax_of_a_full_recompute(engine, tiny, prompt):
    """No row has a knob: the step computes one softmax for raw and sampled, and the five sampled rows'
    next noise is drawn by several threads at once. Each row still equals `generate` with its seed."""
    seeds = [3, 4, 5, 6, 7]
    decoders = [Decoder(engine, prompt, SamplingSettings.sampled(seed=seed), 6) for seed in seeds]
    decoders.append(Decoder(engine, prompt, max_new_tokens=6))
    for decoder in decoders:
        decoder.start()
    for _ in range(6):
        before = [list(decoder.ids) for decoder in decoders]
        records = run_batch(engine.runner, [Advance(decoder.branch) for decoder in decoders])
        for record, ids in zip(records, before):
            probs = torch.softmax(full_logits(tiny, ids), dim=-1)
            assert record.prob == record.raw_prob == pytest.approx(float(probs[record.id]), abs=1e-5)
            assert record.entropy == record.raw_entropy == pytest.approx(float(entropy_bits(probs)), abs=1e-4)
            top = torch.topk(probs, len(record.top)).indices.tolist()
            assert [c.id for c in record.top] == [c.id for c in record.top_raw] == top
    for seed, decoder in zip(seeds, decoders):
        assert decoder.ids[len(prompt):] == generate(tiny, prompt, 6, seed, top_k=0, top_p=1.0)
    assert decoders[-1].ids[len(prompt):] == generate(tiny, prompt, 6)


def test_preview_re_warps_the_kept_logits_without_a_forward_pass(engine, prompt):
    decoder = Decoder(engine, prompt, max_new_tokens=8)
    decoder.start()
    calls = []
    original = engine.runner.step
    engine.runner.step = lambda *args: calls.append(args) or original(*args)
    hot = decoder.preview(SamplingSettings.sampled(temperature=3.0))
    cut = decoder.preview(SamplingSettings.sampled(top_k=3))
    assert calls == []
    assert hot.entropy > decoder.preview().entropy and cut.kept == 3
    assert [c.cut for c in cut.top_raw][:3] == [False] * 3 and all(c.cut for c in cut.top_raw[3:])


def test_lockstep_rows_equal_lone_decoders_and_share_the_prompts_pages(engine, prompt):
    settings = SamplingSettings.sampled(seed=4, temperature=1.3, top_p=0.9)
    pair = Lockstep.greedy_vs_sampled(engine, prompt, settings, 8)
    pair.start()
    assert engine.pool.nbytes(pair.branches[0].handle) < engine.pool.length(pair.branches[0].handle) * \
        engine.pool.bytes_per_token  # full pages are shared with the fork
    greedy, sampled = Decoder(engine, prompt, None, 8), Decoder(engine, prompt, settings, 8)
    for records in pair.run():
        assert records[0].id == greedy.step().id and records[1].id == sampled.step().id
        assert records[0].batch_rows == 2
    assert pair.divergence == next((i for i, (a, b) in enumerate(zip(greedy.generated, sampled.generated)) if a != b),
                                   None)


def test_max_new_tokens_and_top_n_change_without_losing_tokens(engine, prompt):
    decoder = Decoder(engine, prompt, max_new_tokens=4)
    ids = [decoder.step().id for _ in range(4)]
    assert decoder.stop == "max_tokens"
    decoder.use_settings(max_new_tokens=6, top_n=3)
    assert decoder.generated == ids and decoder.stop is None
    assert len(decoder.step().top) <= 3
