"""Named limits on user input, and the one place where input is checked against them.

Every number a user can type (conversation size, sampling settings, step counts, forced ids)
passes through here before it reaches the engine, so the CLI, the web app and the API refuse
the same things with the same words. Errors are `InputError`s carrying one readable line.
What is left out: limits on server resources (sessions, memory) live in `sessions.py`.
"""

import math

MAX_MESSAGES = 64
MAX_MESSAGE_CHARS = 8_000
MAX_TOTAL_CHARS = 32_000
MAX_NEW_TOKENS = 1_024
DEFAULT_NEW_TOKENS = 256
MAX_STEPS_PER_CALL = MAX_NEW_TOKENS
DEFAULT_TOP_N = 10
MAX_TOP_N = 50
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 5.0
MAX_SEED = 2**63 - 1


class InputError(ValueError):
    """Bad input from a user: the message is one line, fit to show as is."""


def check_temperature(value):
    """None means greedy; otherwise a float in [MIN_TEMPERATURE, MAX_TEMPERATURE]."""
    if value is None:
        return None
    value = _as_float(value, "temperature")
    if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise InputError(
            f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE} (got {value:g})"
        )
    return value


def check_top_p(value):
    """None or 1.0 means off; otherwise a float in (0, 1]."""
    if value is None:
        return None
    value = _as_float(value, "top-p")
    if not 0.0 < value <= 1.0:
        raise InputError(f"top-p must be in (0, 1] (got {value:g})")
    return None if value == 1.0 else value


def check_top_k(value, vocab_size):
    """None or 0 means off; otherwise an int in [1, vocab_size]."""
    if value is None:
        return None
    value = _as_int(value, "top-k")
    if value == 0:
        return None
    if not 1 <= value <= vocab_size:
        raise InputError(f"top-k must be between 1 and the vocabulary size {vocab_size} (got {value})")
    return value


def check_seed(value):
    return _int_in_range(value, "seed", 0, MAX_SEED, default=0)


def check_top_n(value):
    return _int_in_range(value, "top", 1, MAX_TOP_N, default=DEFAULT_TOP_N)


def check_steps(value, limit=MAX_STEPS_PER_CALL):
    return _int_in_range(value, "steps", 1, limit)


def check_max_new_tokens(value):
    return _int_in_range(value, "max new tokens", 1, MAX_NEW_TOKENS, default=DEFAULT_NEW_TOKENS)


def check_token_id(value, vocab_size):
    return _int_in_range(value, "token id", 0, vocab_size - 1)


def _int_in_range(value, name, low, high, default=None):
    """None -> default (when there is one); else a whole number in [low, high] or InputError."""
    if value is None and default is not None:
        return default
    value = _as_int(value, name)
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high} (got {value})")
    return value


def _as_float(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number (got {value!r:.40})") from None
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number (got {value!r:.40})")
    return number


def _as_int(value, name):
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number (got {value!r})")
    if isinstance(value, float):
        if not value.is_integer():
            raise InputError(f"{name} must be a whole number (got {value:g})")
        return int(value)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number (got {value!r:.40})") from None
