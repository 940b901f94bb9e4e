"""Named limits on user input, and the one place where input numbers and texts are checked.

Every number a user can type (step counts, seeds, forced ids, sampling knobs through `knobs.py`)
and every text field passes through here before it reaches the engine, so the CLI, the web app
and the API refuse the same things with the same words. Errors are `InputError`s carrying one
readable line. Numbers must be written with ASCII digits: `int("٣")` is 3 in Python, but a typed
Arabic-Indic three or a superscript two is text, not an id.
What is left out: limits on server resources (sessions, memory, request sizes) live in `serving/`.
"""

import math
import re

from .errors import InputError, refuse

MAX_MESSAGES = 64
MAX_MESSAGE_CHARS = 8_000
MAX_TOTAL_CHARS = 32_000
MAX_PROMPT_TOKENS = 8_192  # a rendered conversation longer than this is refused before any forward pass
MAX_NEW_TOKENS = 1_024
DEFAULT_NEW_TOKENS = 256
MAX_STEPS_PER_CALL = MAX_NEW_TOKENS
DEFAULT_TOP_N = 10
MAX_TOP_N = 50
MAX_SEED = 2**63 - 1
MAX_TYPED_CHARS = 200  # a typed token or number

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")




def check_seed(value):
    return _int_in_range(value, "seed", 0, MAX_SEED, default=0)


def check_top_n(value):
    return _int_in_range(value, "top", 1, MAX_TOP_N, default=DEFAULT_TOP_N)


def check_steps(value, limit=MAX_STEPS_PER_CALL):
    return _int_in_range(value, "steps", 1, limit)


def check_max_new_tokens(value, limit=MAX_NEW_TOKENS, name="max new tokens"):
    """A whole number in [1, limit]; `limit` is the server's own cap where it has one; `name`: the value's
    name in a refusal (A vs B's steps)."""
    return _int_in_range(value, name, 1, limit, default=min(DEFAULT_NEW_TOKENS, limit))


def check_token_id(value, vocab_size):
    return _int_in_range(value, "token id", 0, vocab_size - 1)


def check_text(value, name, limit):
    """A text field: str, at most `limit` characters, no unpaired surrogates (they are not text)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise refuse("not_text", name=name)
    if len(value) > limit:
        raise refuse("text_too_long", name=name, length=len(value), limit=limit)
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise refuse("surrogate", name=name)
    return value


def is_ascii_integer(text):
    return bool(_INTEGER.match(text.strip()))


def as_float(value, name):
    if isinstance(value, bool):
        raise refuse("not_number", name=name, value=str(value)[:40])
    if isinstance(value, str):
        if not _DECIMAL.match(value.strip()):
            raise refuse("not_number", name=name, value=value[:40])
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise refuse("not_number", name=name, value=str(value)[:40]) from None
    if not math.isfinite(number):
        raise refuse("not_finite", name=name, value=str(value)[:40])
    return number


def as_int(value, name):
    if isinstance(value, bool):
        raise refuse("not_whole", name=name, value=str(value))
    if isinstance(value, float):
        if not value.is_integer():
            raise refuse("not_whole", name=name, value=f"{value:g}")
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()[:MAX_TYPED_CHARS]
    if not _INTEGER.match(text):
        raise refuse("not_whole", name=name, value=text[:40])
    return int(text)


def _int_in_range(value, name, low, high, default=None):
    """None -> default (when there is one); else a whole number in [low, high] or InputError."""
    if value is None and default is not None:
        return default
    value = as_int(value, name)
    if not low <= value <= high:
        raise refuse("out_of_range", name=name, low=low, high=high, value=value)
    return value
