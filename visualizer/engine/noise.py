"""A decode state's seeded noise: one exponential vector per sampled pick, its state a seed and a count.

A draw is `argmax(probs / noise)` (`sampling.pick_rows`), what `torch.multinomial` computes with the
same generator, so `Noise(seed)` on the CPU reproduces `torch.manual_seed(seed); generate(do_sample=True)`.
`peek(vocab)` gives the next sampled pick's noise, drawn ahead from a copy of the generator (peeking
consumes nothing; the stepper draws it while a GPU runs the pass); `consume(vocab)` moves past it
(a sampled pick was committed). Forced and greedy picks consume nothing, as in `generate`.

`state()` is `(seed, draws)`: every draw takes the same share of the generator (one vocabulary's
worth), so the count alone says where it is. A branch keeps one such pair per pick for exact undo
(16 bytes; the generator's own state is 5,056 bytes on the CPU, which a long sampled run kept per
token and a browser got with every streamed token). `set_state` goes back or forward to any count:
the draw consumed last comes back at once (an undo, then a step: nothing drawn again); elsewhere the
generator restarts from the nearest checkpoint below (its full state, kept every `CHECKPOINT_DRAWS`
draws) and skips its way there at the next `peek` (which knows the vocabulary): 31 draws at most for
a count this generator passed, 0.1 ms each for 49,152 on this CPU; a count under another seed, or
past every draw made (a saved state), is skipped to from the seed (a branch never holds more draws
than tokens, so that costs less than the prefill of those tokens).
On a GPU the generator is a CUDA one: the same seed gives the same tokens on the same GPU, not the CPU's.
`cpu_exponential` makes the CPU's draws 3x faster than `exponential_`, value for value the same.
What is left out: picking (`sampling.pick_rows`), and which picks were sampled (`branch.py`).
"""

import torch

CHECKPOINT_DRAWS = 32  # a full generator state is kept every this many draws (158 bytes a draw on the CPU)


class Noise:
    def __init__(self, seed, device="cpu", checkpoints=True):
        """`checkpoints=False`: none kept (a room's seed stream only moves on, or starts again)."""
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.keeps_checkpoints = checkpoints
        self._start(seed)

    def peek(self, vocab_size):
        self._reach(vocab_size)
        if self._ahead is None or self._ahead[0].numel() != vocab_size:
            copy = torch.Generator(device=self.device)
            copy.set_state(self.generator.get_state())
            self._ahead = (self._draw(vocab_size, copy), copy.get_state())
        return self._ahead[0]

    def consume(self, vocab_size, undoable=False):
        self.peek(vocab_size)
        self._consumed = (self.draws, self.generator.get_state(), self._ahead) if undoable else None
        self.generator.set_state(self._ahead[1])
        self._passed()
        self._target = self.draws

    def state(self):
        return self.seed, self._target

    def set_state(self, state):
        seed, draws = state
        if seed != self.seed:
            self._start(seed)
        if draws == self._target:
            return
        consumed, self._consumed = self._consumed, None
        if consumed is not None and consumed[0] == draws and self.draws == draws + 1:
            self.generator.set_state(consumed[1])  # the last draw undone: its noise is still held
            self.draws, self._ahead = draws, consumed[2]
        self._target = draws

    def nbytes(self):
        """Bytes held: noise vectors and generator states (the draw ahead, the last undoable one
        consumed, the checkpoints)."""
        held = [self._ahead, self._consumed[2] if self._consumed is not None else None]
        vectors = sum(kept[0].numel() * kept[0].element_size() + kept[1].numel() for kept in held if kept is not None)
        consumed = self._consumed[1].numel() if self._consumed is not None else 0
        return vectors + consumed + sum(state.numel() for state in self._checkpoints.values())

    def _start(self, seed):
        self.seed = seed
        self.generator.manual_seed(seed)
        self.draws = 0  # draws the generator is past
        self._target = 0  # the draws a `set_state` asked for, reached at the next peek
        self._ahead = None  # (noise of the next draw, generator state after it)
        self._consumed = None  # (draws and generator state before the last consumed draw, that draw's _ahead)
        self._checkpoints = {}  # draw count -> generator state there

    def _reach(self, vocab_size):
        """Move the generator to `_target` draws: on from where it is when that is on the way, else
        from the nearest checkpoint below (or the seed), drawing the draws between."""
        if self.draws == self._target:
            return
        start = max((count for count in self._checkpoints if count <= self._target), default=0)
        if not start <= self.draws <= self._target:
            if start:
                self.generator.set_state(self._checkpoints[start])
            else:
                self.generator.manual_seed(self.seed)
            self.draws = start
        self._ahead = None
        while self.draws < self._target:
            self._skip(vocab_size)
            self._passed()

    def _passed(self):
        """One more draw behind the generator: counted, and a checkpoint on every CHECKPOINT_DRAWS-th."""
        self._ahead = None
        self.draws += 1
        if self.keeps_checkpoints and self.draws % CHECKPOINT_DRAWS == 0:
            self._checkpoints.setdefault(self.draws, self.generator.get_state())

    def _skip(self, vocab_size):
        """The generator past one draw without its values: on the CPU the uniforms alone (what a draw
        takes from the generator, a third of its time); on a GPU the draw itself."""
        if self.device.type == "cpu":
            torch.empty(vocab_size, dtype=torch.float64).uniform_(generator=self.generator)
        else:
            self._draw(vocab_size, self.generator)

    def _draw(self, vocab_size, generator):
        if self.device.type == "cpu":
            return cpu_exponential(vocab_size, generator)
        return torch.empty(vocab_size, device=self.device).exponential_(generator=generator)


def cpu_exponential(size, generator):
    """`torch.empty(size).exponential_(generator=generator)` on the CPU, the same values and the same
    generator state after, in a third of the time (0.25 ms against 0.75 for 49,152 here). torch draws
    each value as float32(-log1p(-u)) of a float64 uniform u = one 64-bit draw of the generator, one
    element at a time through the C library's log1p; here `uniform_` makes the same u's (the same draws)
    and the logarithm runs vectorized over all of them. Equal in every value tested (tests/fast:
    14.7 M values over 300 seeds checked once, a few seeds in every run); float64's log1p may differ
    from the C library's in its last bit, which float32 rounds away except at a rounding boundary.
    On the CPU of a GPU machine the result is pinned: its copy to the device overlaps the device's work."""
    exponential = torch.empty(size, dtype=torch.float64).uniform_(generator=generator)
    torch.log1p(exponential.neg_(), out=exponential).neg_()
    return torch.empty(size, pin_memory=torch.cuda.is_available()).copy_(exponential)
