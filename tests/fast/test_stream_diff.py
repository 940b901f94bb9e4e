"""Streamed answers: the edits `ui.stream_diff.diff` sends, applied by gradio_client's own
`apply_diff` (what API clients run; the browser applies the same edit language in order), rebuild
every answer exactly, nested lists that shrink and grow included. Gradio 6.31's own diff fails the
nested case (the first test pins that: when Gradio fixes it, the workaround goes).
"""

import copy
import random

import gradio.utils
import pytest
from gradio_client.utils import apply_diff

from ui import stream_diff

BEFORE = {"ids": [1, 2, 3], "steps": [{"top": [{"id": 1}, {"id": 2}, {"id": 3}]}, {"top": [{"id": 4}]}]}
AFTER = {"ids": [1, 2, 3, 4], "steps": [{"top": [{"id": 5}]}]}  # the steps since the last answer


def applied(old, edits):
    return apply_diff(copy.deepcopy(old), copy.deepcopy(edits))


def random_value(rng, depth=0):
    kind = rng.choice(["int", "str", "list", "dict"] if depth < 3 else ["int", "str"])
    if kind == "int":
        return rng.randrange(5)
    if kind == "str":
        return "ab"[: rng.randrange(3)] + rng.choice(["", "c", "dd"])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {key: random_value(rng, depth + 1) for key in rng.sample("wxyz", rng.randrange(4))}


def test_gradios_own_diff_does_not_rebuild_nested_answers():
    original = gradio.utils.diff
    if original is stream_diff.diff:
        pytest.skip("installed already in this process")
    try:
        rebuilt = applied(BEFORE, original(BEFORE, AFTER))
    except IndexError:  # what an API client saw
        return
    assert rebuilt != AFTER  # what a browser keeps: a stale candidate where the new one belongs


def test_the_steps_since_the_last_answer_arrive_intact():
    assert applied(BEFORE, stream_diff.diff(BEFORE, AFTER)) == AFTER
    assert applied(AFTER, stream_diff.diff(AFTER, BEFORE)) == BEFORE


def test_random_nested_answers_arrive_intact():
    rng = random.Random(0)
    for _ in range(3000):
        old, new = random_value(rng), random_value(rng)
        assert applied(old, stream_diff.diff(old, new)) == new


def test_install_puts_it_where_the_queue_looks():
    stream_diff.install()
    assert gradio.utils.diff is stream_diff.diff
