"""The noise's state is a seed and a count: any count reached again gives torch's own draws, quickly, in little memory.

The reference is torch's `exponential_` on a generator seeded alike and advanced by as many draws
(what `torch.multinomial` uses); the undo bound is counted in draws made, not in time.
"""

import random

import pytest
import torch

from visualizer.engine.errors import InputError
from visualizer.engine.noise import CHECKPOINT_DRAWS, Noise
from visualizer.engine.decoder import Decoder
from visualizer.engine.sampling import SamplingSettings
from visualizer.engine.workspace import Workspace

VOCAB = 1000
CONVERSATION = [{"role": "user", "content": "Hi"}]


def torch_draw(seed, number):
    """torch's noise for the `number`-th draw (1-based) of a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(number - 1):
        torch.empty(VOCAB).exponential_(generator=generator)
    return torch.empty(VOCAB).exponential_(generator=generator)


def test_any_count_set_again_gives_torchs_draw_there():
    noise, steps = Noise(7), random.Random(0)
    for _ in range(40):
        if steps.random() < 0.6:
            noise.consume(VOCAB, undoable=True)
        else:
            noise.set_state((7, steps.randrange(0, 90)))
        seed, draws = noise.state()
        assert seed == 7 and torch.equal(noise.peek(VOCAB), torch_draw(7, draws + 1))


def test_another_seed_and_a_saved_count_start_from_that_seed():
    noise = Noise(1)
    for _ in range(3):
        noise.consume(VOCAB)
    noise.set_state((5, 4))  # a state saved under seed 5, four draws in
    assert noise.state() == (5, 4) and torch.equal(noise.peek(VOCAB), torch_draw(5, 5))


def test_going_back_draws_at_most_a_checkpoints_worth_and_the_last_draw_comes_back_free(monkeypatch):
    noise = Noise(3)
    for _ in range(100):
        noise.consume(VOCAB, undoable=True)
    made = []
    real = Noise._draw
    monkeypatch.setattr(Noise, "_draw", lambda self, vocab, generator: made.append(1) or real(self, vocab, generator))
    noise.set_state((3, 99))  # an undo: the consumed draw is held
    assert torch.equal(noise.peek(VOCAB), torch_draw(3, 100)) and made == []
    noise.set_state((3, 37))
    noise.peek(VOCAB)
    assert len(made) <= CHECKPOINT_DRAWS  # from the checkpoint at 32: five draws, and the one ahead


def test_a_long_sampled_run_keeps_checkpoints_not_a_state_per_token():
    noise = Noise(0)
    for _ in range(320):
        noise.consume(VOCAB)
    state_bytes = torch.Generator().get_state().numel()
    assert noise.nbytes() <= 320 // CHECKPOINT_DRAWS * state_bytes + VOCAB * 4


def test_a_snapshot_carries_the_noise_as_two_numbers_and_bad_ones_are_refused(tiny, engine):
    workspace = Workspace(tiny, engine, messages=CONVERSATION)
    decoder = workspace.decoder()
    for _ in range(3):
        decoder.step()
    snapshot = workspace.snapshot()
    assert snapshot["decoder"]["noise"] == [0, 0]  # greedy: nothing drawn
    for bad in (["x", 1], [0, 4], [0, -1], [-5, 0], [0], "AAAA"):
        saved = {**snapshot, "decoder": {**snapshot["decoder"], "noise": bad}}
        again = Workspace(tiny, engine, messages=CONVERSATION)
        with pytest.raises(InputError) as refused:
            again.restore(saved)
        assert refused.value.code in ("bad_saved_state", "out_of_range") and again.decoder().generated == []


def test_undoing_past_restored_picks_leaves_a_state_that_restores_again(engine, tiny):
    """A restored pick's noise state was not saved; undoing it must not leave more draws than tokens,
    which a saved state may not have (found in review: the page's second reload refused its own state)."""
    prompt = tiny.tokenizer.encode("Hello there")
    settings = SamplingSettings.sampled(seed=4, temperature=1.5)
    first = Decoder(engine, prompt, settings, 12)
    for _ in range(4):
        first.step()
    second = Decoder(engine, prompt, settings, 12)
    second.restore(first.generated, [False] * 4, first.branch.noise_state())
    second.undo()
    second.undo()
    seed, draws = second.branch.noise_state()
    assert seed == 4 and draws <= len(second.generated) == 2
    third = Decoder(engine, prompt, settings, 12)
    third.restore(second.generated, [False] * 2, (seed, draws))
    assert third.generated == first.generated[:2]


def test_undoing_past_a_seed_change_draws_the_seed_now_set(engine, tiny):
    """Seed 7 for four picks, then seed 9 for four; six undos and six steps draw what a run that switched
    to seed 9 after its second pick draws (a page showed seed 9 and drew seed 7's tokens, found by hand)."""
    prompt = tiny.tokenizer.encode("Hello there")
    seven, nine = (SamplingSettings.sampled(seed=seed, temperature=1.5) for seed in (7, 9))

    def run(actions):
        decoder = Decoder(engine, prompt, seven, 12)
        for action, times in actions:
            for _ in range(times):
                decoder.use_settings(settings=nine) if action == "seed 9" else getattr(decoder, action)()
        return decoder
    changed = run([("step", 4), ("seed 9", 1), ("step", 4), ("undo", 6), ("step", 6)])
    straight = run([("step", 2), ("seed 9", 1), ("step", 6)])
    assert changed.generated == straight.generated
