"""One room: a conversation the instructor steps, what everyone who joined answers at each step, its history.

A `Room` holds one Decoder on the server's engine: its forward passes go through the shared
scheduler, the prefix is read once, then one forward pass per committed token, however many
people answer. Each step's distribution is computed once (`draws.StepDistribution`). Per step the
room is in a mode:
- "guess": attendees type a token (`Workspace.lookup_token`'s rules: "#id", else the text's one token);
- "sample": attendees draw with their own seed at the room's settings. A seed's draw at step n uses
  the noise a `decode --seed S` run uses at its n-th sampled token (`draws.SeedStream`): at step 1 it
  is exactly `python -m visualizer decode --steps 1 --seed S` on the room's conversation and settings;
  at step n, what that run would draw at its step n had it taken the room's committed tokens before.
An attendee has one answer per step, changeable until `reveal`. The model's candidates are hidden
until reveal, so a guess is a guess. `commit` forces a token (the greedy one, the room's most chosen
or any id), keeps the step in the history and opens the next step, in the same mode.
`snapshot()` / `Room.restore()`: plain data (prefix ids, settings, committed ids, answers, history)
that a restart rebuilds the room from; the decoder is rebuilt on first use, in one prefill.
What is left out: codes, limits across rooms, keys, rates, expiry and the file (`rooms.py`); locking
(the store holds `room.lock` around every call); HTTP and languages.
"""

import collections
import statistics
import threading

from ..engine.draws import SeedStream, StepDistribution
from ..engine.errors import refuse
from ..engine.limits import check_seed, check_token_id
from ..engine.records import token_text
from ..engine.sampling import SamplingSettings
from ..engine.workspace import DecodeOptions, Workspace

MODES = ("guess", "sample")
CHOICES = ("greedy", "top")
TOP_N = 10  # the model's candidates shown per step


class Room:
    def __init__(self, code, loaded, engine, messages, knobs, max_new_tokens, now, prompt_ids=None):
        """`knobs`: {"temperature", "top_k", "top_p"} as the user gave them (validated here)."""
        self.code = code
        self.loaded = loaded
        self.engine = engine
        sampling = room_sampling(loaded, knobs)
        self.knobs = {name: sampling.get(name) for name in knobs}
        self.workspace = Workspace(loaded, engine, messages, options=DecodeOptions(sampling, TOP_N, 1))
        self.messages = self.workspace.messages
        rendered = tuple(self.workspace.prompt().ids)
        if prompt_ids is not None and tuple(prompt_ids) != rendered:
            raise ValueError(f"room {code}: its conversation renders to other ids on this model")
        self.prompt_ids = list(rendered)
        self.max_new_tokens = max(1, min(max_new_tokens, loaded.context_length - len(self.prompt_ids)))
        self.workspace.configure(max_new_tokens=self.max_new_tokens)
        self.committed, self.history = [], []
        self.mode, self.revealed = "guess", False
        self.attendees = {}  # attendee -> when they joined
        self.answers = {}  # attendee -> {"id", "seed", "at"}, this step
        self.created = self.last_active = now
        self.version = 0  # bumped by every change anyone can see
        self.lock = threading.RLock()
        self._restored = 0  # committed ids not yet in the decoder (after a restart)
        self._distribution = None  # this step's StepDistribution
        self._draws = {}  # seed -> id, this step
        self._seeds = SeedStream(loaded.vocab_size, engine.pool.device if engine is not None else "cpu")
        self._state = None  # (version, state dict)

    # The decoder and this step's distribution.
    def decoder(self):
        decoder = self.workspace.decoder()
        if self._restored:
            decoder.restore(self.committed, [True] * len(self.committed))
            self._restored = 0
        return decoder

    def distribution(self):
        if self._distribution is None:
            decoder = self.decoder()
            decoder.start()  # (re)reads the prefix if its pool row is gone
            self._distribution = StepDistribution.of(decoder.branch)
        return self._distribution

    @property
    def step(self):
        return len(self.committed) + 1

    @property
    def stop(self):
        if self.committed and self.committed[-1] in self.loaded.tokenizer.eos_ids:
            return "eos"
        return "max_tokens" if len(self.committed) >= self.max_new_tokens else None

    # Attendees.
    def join(self, attendee, limit, now):
        if attendee not in self.attendees:
            if len(self.attendees) >= limit:
                raise refuse("room_full", room=self.code, limit=limit)
            self.attendees[attendee] = now
            self._changed(now)

    def answer(self, attendee, typed, now):
        """A guess: a token id (int) or typed text -> {"step", "id", "text"}."""
        self._check_can_answer(attendee, "guess", "room_sampling")
        token_id = typed if isinstance(typed, int) and not isinstance(typed, bool) else None
        token_id = check_token_id(token_id, self.loaded.vocab_size) if token_id is not None else \
            self.workspace.lookup_token(typed)
        self.answers[attendee] = {"id": token_id, "seed": None, "at": now}
        self._changed(now)
        return {"step": self.step, "id": token_id, "text": self._text(token_id)}

    def sample(self, attendee, seed, now):
        """This attendee's draw with `seed` -> {"step", "id", "text", "prob"}."""
        self._check_can_answer(attendee, "sample", "room_guessing")
        seed = check_seed(seed)
        distribution = self.distribution()
        token_id = self._draws.get(seed)
        if token_id is None:
            token_id = self._draws[seed] = distribution.draw([self._seeds.noise(seed, self.step)])[0]
        self.answers[attendee] = {"id": token_id, "seed": seed, "at": now}
        self._changed(now)
        return {"step": self.step, "id": token_id, "text": self._text(token_id),
                "prob": float(distribution.probs[token_id])}

    def mine(self, attendee):
        """What one attendee sees of their own answer: it, and after reveal where it sits."""
        answer = self.answers.get(attendee)
        mine = {"joined": attendee in self.attendees, "answer": None, "position": None}
        if answer is not None:
            mine["answer"] = {"id": answer["id"], "text": self._text(answer["id"]), "seed": answer["seed"]}
            if self.revealed:
                mine["position"] = self.distribution().position(answer["id"])
        return mine

    # The instructor.
    def set_mode(self, mode, now):
        if mode not in MODES:
            raise refuse("room_bad_mode", value=str(mode)[:20])
        if mode != self.mode:  # guesses and draws do not mix in one histogram
            self.mode, self.revealed = mode, False
            self.answers.clear()
            self._changed(now)

    def reveal(self, now):
        if not self.revealed:
            self.revealed = True
            self._changed(now)

    def choose(self, choice):
        """"greedy", "top" (the room's most chosen), a token id or a typed token -> a token id."""
        if isinstance(choice, str) and choice.strip().lower() in CHOICES:
            if choice.strip().lower() == "greedy":
                return self.distribution().greedy_id
            histogram = self.histogram()
            if not histogram:
                raise refuse("room_no_answers", step=self.step)
            raw = self.distribution().raw
            return max(histogram, key=lambda bar: (bar["count"], float(raw[bar["id"]]), -bar["id"]))["id"]
        if isinstance(choice, int) and not isinstance(choice, bool):
            return check_token_id(choice, self.loaded.vocab_size)
        if not isinstance(choice, str) or not choice.strip():
            raise refuse("room_bad_choice", value=str(choice)[:20])
        return self.workspace.lookup_token(choice)

    def commit(self, token_id, now):
        """Force `token_id` as this step's token (one forward pass) and open the next step."""
        if self.stop:
            raise refuse("room_ended", reason=self.stop)
        entry = self._history_entry(self.distribution(), token_id)
        self.decoder().force(token_id)  # raises before anything changes if the pass fails
        self.committed.append(token_id)
        self.history.append(entry)
        self.answers.clear()
        self.revealed, self._distribution = False, None
        self._draws.clear()
        self._changed(now)

    # What everyone sees.
    def histogram(self):
        counts = collections.Counter(answer["id"] for answer in self.answers.values())
        return [{"id": token_id, "text": self._text(token_id), "count": count}
                for token_id, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    def state(self):
        """The contract's state (plus "code", "revealed", "text", "answer", "stop", "settings",
        "committed_tokens", "history", "version"); cached until the next change."""
        if self._state is not None and self._state[0] == self.version:
            return self._state[1]
        tokenizer = self.loaded.tokenizer
        state = {
            "code": self.code, "step": self.step, "mode": self.mode, "revealed": self.revealed,
            "attendees": len(self.attendees), "answered": len(self.answers), "histogram": self.histogram(),
            "model_top": candidates(self.distribution().record) if self.revealed and not self.stop else [],
            "committed": list(self.committed),
            "committed_tokens": [{"id": i, "text": self._text(i)} for i in self.committed],
            "text": tokenizer.decode(self.prompt_ids + self.committed), "answer": tokenizer.decode(self.committed),
            "stop": self.stop, "settings": dict(self.knobs), "history": [timeline_point(h) for h in self.history],
            "version": self.version,
        }
        self._state = (self.version, state)
        return state

    # Keeping and restoring.
    def snapshot(self):
        """Plain data, copied (it is written to disk outside the room's lock)."""
        return {"code": self.code, "messages": self.messages, "knobs": dict(self.knobs),
                "prompt_ids": list(self.prompt_ids), "max_new_tokens": self.max_new_tokens,
                "committed": list(self.committed), "history": list(self.history), "mode": self.mode,
                "revealed": self.revealed, "attendees": dict(self.attendees), "answers": dict(self.answers),
                "created": self.created, "last_active": self.last_active, "version": self.version}

    @classmethod
    def restore(cls, data, loaded, engine):
        """A room from its snapshot; the decoder reads the prefix and committed ids on first use."""
        room = cls(str(data["code"]), loaded, engine, data["messages"], dict(data["knobs"]),
                   int(data["max_new_tokens"]), float(data["created"]), prompt_ids=data["prompt_ids"])
        room.committed = [check_token_id(i, loaded.vocab_size) for i in data["committed"]]
        room.history = list(data["history"])
        room.mode = data["mode"] if data["mode"] in MODES else "guess"
        room.revealed = bool(data["revealed"])
        room.attendees = {str(k): float(v) for k, v in data["attendees"].items()}
        room.answers = {str(k): {"id": check_token_id(v["id"], loaded.vocab_size), "seed": v.get("seed"),
                                 "at": float(v["at"])} for k, v in data["answers"].items()}
        room.last_active, room.version = float(data["last_active"]), int(data["version"])
        room._restored = len(room.committed)
        return room

    def evict(self):
        """Give the decoder's pool row back (the room is closed)."""
        self.workspace.evict()

    # Inside.
    def _check_can_answer(self, attendee, mode, wrong_mode):
        if attendee not in self.attendees:
            raise refuse("not_in_room", room=self.code)
        if self.stop:
            raise refuse("room_ended", reason=self.stop)
        if self.mode != mode:
            raise refuse(wrong_mode, step=self.step)
        if self.revealed:
            raise refuse("room_revealed", step=self.step)

    def _changed(self, now):
        self.version += 1
        self.last_active = now

    def _text(self, token_id):
        return token_text(self.loaded.tokenizer, token_id)

    def _history_entry(self, distribution, token_id):
        answered = [answer["id"] for answer in self.answers.values()]
        positions = [distribution.position(token_id) for token_id in answered]
        greedy = distribution.greedy_id
        return {
            "step": self.step, "mode": self.mode, "revealed": self.revealed, "answered": len(answered),
            "committed": token_id, "committed_text": self._text(token_id), "greedy": greedy,
            "counts": self.histogram(), "model_top": candidates(distribution.record),
            "hit_rate": sum(i == greedy for i in answered) / len(answered) if answered else None,
            "mean_raw_prob": statistics.fmean(p["raw_prob"] for p in positions) if positions else None,
            "median_rank": statistics.median(p["rank"] for p in positions) if positions else None,
        }


def room_sampling(loaded, knobs):
    """The room's sampling settings: the CLI's rule (sampling when a temperature is given), seed 0."""
    unknown = set(knobs) - {"temperature", "top_k", "top_p"}
    if unknown:
        raise TypeError(f"unknown room knobs: {sorted(unknown)}")
    return SamplingSettings.from_user(loaded.vocab_size, **knobs)


def candidates(record):
    """A preview record's top candidates (by probability after the settings) as plain dicts."""
    return [{"id": c.id, "text": c.text, "prob": c.prob, "raw_prob": c.raw_prob} for c in record.top]


def timeline_point(entry):
    """The part of a history entry the timeline and the chips need."""
    keys = ("step", "mode", "answered", "committed", "committed_text", "greedy", "hit_rate", "mean_raw_prob",
            "median_rank")
    return {key: entry.get(key) for key in keys}
