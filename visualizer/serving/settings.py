"""Server-wide settings for the shared web app, each one overridable by an environment variable.

`ServerSettings` holds the named defaults; `ServerSettings.from_env()` reads `LLM_VIZ_<FIELD>`
(e.g. `LLM_VIZ_MAX_SESSIONS=50`, `LLM_VIZ_CACHE_BUDGET_BYTES=512MiB`,
`LLM_VIZ_ALLOW_MODELS=smollm2,Qwen/Qwen3-0.6B`, `LLM_VIZ_GRAPHS=0`, `LLM_VIZ_INSTRUCTOR_KEY=...`). An empty
variable means the default; a bad value raises ValueError with one line naming the variable. An empty
instructor key means "none set": the app makes one at start-up (`rooms.with_instructor_key`).
What is left out: command-line flags (the app maps its own flags onto these fields).
"""

import os
import re
from dataclasses import dataclass, field, fields, replace

from ..engine.limits import MAX_NEW_TOKENS

PREFIX = "LLM_VIZ_"
GIB = 2**30
# Binary units with an "i" (KiB, Mi, GiB), decimal without (KB, M, GB); case does not matter.
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(i?)b?|b)?\s*$", re.IGNORECASE)
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_size(text):
    """'512MiB' -> 536870912, '2GiB', '1.5G' (decimal), '4096' (bytes) -> int; else ValueError."""
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"not a size: {text!r:.40} (use bytes or e.g. 512MiB, 2GiB)")
    number, unit, binary = match.groups()
    scale = (1024 if binary else 1000) ** _POWERS[unit.lower()] if unit else 1
    return int(float(number) * scale)


@dataclass(frozen=True)
class ServerSettings:
    idle_timeout_s: float = 1800.0  # a session untouched this long is dropped
    max_sessions: int = 200  # at the cap, a new session drops the least recently used idle one
    cache_budget_bytes: int = 2 * GIB  # the KV pool all sessions share (preallocated, filled as used)
    queue_size: int = 512  # events waiting in the web queue
    concurrency_limit: int = 128  # model events in flight at once (they wait in the scheduler, not here)
    max_batch: int = 32  # rows in one batched forward pass
    prefill_chunk: int = 128  # prompt tokens per turn: a long prompt delays a click by one chunk (<1 s on 2 CPU cores)
    max_prefill_tokens: int = 65_536  # prompt tokens waiting to be read, server-wide
    max_new_tokens: int = MAX_NEW_TOKENS  # per message, for every route (UI and API)
    max_pending: int = 32  # actions of one session waiting their turn
    creations_per_minute: int = 240  # new sessions per client address (a room behind one NAT is one address)
    max_body_bytes: int = 4 * 2**20  # any HTTP request body, uploads included
    graphs: bool = True  # CUDA graphs for decode steps on a GPU (ignored on the CPU)
    allow_models: tuple = ()  # hosted mode: the only specs the server may be started with
    instructor_key: str = field(default="", repr=False)  # protects room actions; "" = made at start-up
    max_rooms: int = 16  # rooms open at once, server-wide
    room_max_attendees: int = 200  # people who joined one room
    room_idle_timeout_s: float = 3 * 3600.0  # a room nobody acted in (answers, steps) this long is closed
    room_answers_per_minute: int = 30  # answers and draws of one attendee
    room_answer_chars: int = 64  # a typed guess

    def __post_init__(self):
        _check(self.idle_timeout_s > 0, "idle_timeout_s", "must be > 0", self.idle_timeout_s)
        _check(self.room_idle_timeout_s > 0, "room_idle_timeout_s", "must be > 0", self.room_idle_timeout_s)
        _check(self.cache_budget_bytes >= 0, "cache_budget_bytes", "must be >= 0", self.cache_budget_bytes)
        for name in ("max_sessions", "queue_size", "concurrency_limit", "max_batch", "prefill_chunk",
                     "max_prefill_tokens", "max_pending", "creations_per_minute", "max_body_bytes", "max_rooms",
                     "room_max_attendees", "room_answers_per_minute", "room_answer_chars"):
            _check(getattr(self, name) >= 1, name, "must be >= 1", getattr(self, name))
        _check(1 <= self.max_new_tokens <= MAX_NEW_TOKENS, "max_new_tokens",
               f"must be between 1 and {MAX_NEW_TOKENS}", self.max_new_tokens)
        object.__setattr__(self, "allow_models", tuple(self.allow_models))

    @classmethod
    def from_env(cls, environ=os.environ):
        values = {}
        for field in fields(cls):
            text = environ.get(PREFIX + field.name.upper(), "").strip()
            if text:
                try:
                    values[field.name] = _PARSERS[field.name](text)
                except ValueError as error:
                    raise ValueError(f"{PREFIX}{field.name.upper()}: {error}") from None
        try:
            return replace(cls(), **values)
        except ValueError as error:
            raise ValueError(f"{PREFIX}{error}") from None


def _check(ok, name, rule, value):
    if not ok:
        raise ValueError(f"{name.upper()} {rule} (got {value!r})")


def _number(kind, what):
    def parse(text):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"not {what}: {text!r:.40}") from None
    return parse


def _flag(text):
    if text.lower() not in _TRUE + _FALSE:
        raise ValueError(f"not a yes/no value: {text!r:.40} (use 1/0, true/false, yes/no, on/off)")
    return text.lower() in _TRUE


_whole = _number(int, "a whole number")
_PARSERS = {
    "idle_timeout_s": _number(float, "a number of seconds"), "max_sessions": _whole,
    "cache_budget_bytes": parse_size, "queue_size": _whole, "concurrency_limit": _whole, "max_batch": _whole,
    "prefill_chunk": _whole, "max_prefill_tokens": _whole, "max_new_tokens": _whole, "max_pending": _whole,
    "creations_per_minute": _whole, "max_body_bytes": parse_size, "graphs": _flag,
    "allow_models": lambda text: tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip())),
    "instructor_key": str, "max_rooms": _whole, "room_max_attendees": _whole,
    "room_idle_timeout_s": _number(float, "a number of seconds"), "room_answers_per_minute": _whole,
    "room_answer_chars": _whole,
}
