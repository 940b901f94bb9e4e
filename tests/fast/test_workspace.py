"""The Workspace (one user's session API) on the tiny Qwen3, and the small bad inputs a stranger sends.

Checked: a prompt is rendered and encoded once per change, not per step; display settings never
discard tokens; typed tokens ("#42", text, digits), and the inputs that once gave a blank "internal
error": JSON nested 5,000 deep, an Arabic-Indic three, a superscript two, a lone surrogate; a
snapshot restored onto a new workspace; and how a browser's language is picked (q-values).
"""

import unicodedata

import pytest

from ui.texts import language_from_header
from visualizer.engine.errors import InputError
from visualizer.engine.workspace import Workspace

from conftest import CONVERSATION


@pytest.fixture()
def workspace(tiny, engine):
    return Workspace(tiny, engine, messages=CONVERSATION)


def test_the_prompt_is_rendered_once_per_change(workspace, tiny, monkeypatch):
    calls = []
    original = tiny.tokenizer.encode
    monkeypatch.setattr(tiny.tokenizer, "encode", lambda text: calls.append(text) or original(text))
    decoder = workspace.decoder()
    for _ in range(3):
        workspace.set_conversation(CONVERSATION)  # the same conversation again: nothing to do
        assert workspace.decoder() is decoder
        decoder.step()
    assert len(calls) == 1
    workspace.set_conversation(CONVERSATION + [{"role": "assistant", "content": "Three."}])
    assert workspace.decoder() is not decoder and len(calls) == 2


def test_an_edit_undone_gives_the_decoders_tokens_back(workspace, tiny, engine):
    """An attendee's tokens went away for good when the conversation changed, even when the edit was then
    undone (found by hand): the previous prompt's decoder is set aside, pool rows given back, and comes back
    whole; the steps after equal those of a decoder never set aside."""
    decoder = workspace.decoder()
    ids = [decoder.step().id for _ in range(3)]
    edited = CONVERSATION + [{"role": "user", "content": "And in French?"}]
    workspace.set_conversation(edited)
    fresh = workspace.decoder()
    assert fresh is not decoder and not fresh.generated and workspace.tokens_set_aside == 3
    assert decoder.branch.handle is None  # its pool rows given back
    fresh.step()
    workspace.set_conversation(CONVERSATION)
    assert workspace.decoder() is decoder and decoder.generated == ids
    assert workspace.tokens_set_aside == 1  # the edited prompt's one token, set aside in turn
    following = [decoder.step().id for _ in range(2)]
    alone = Workspace(tiny, engine, messages=CONVERSATION).decoder()
    assert [alone.step().id for _ in range(5)] == ids + following
    workspace.set_conversation(CONVERSATION + [{"role": "user", "content": "Why?"}])
    workspace.decoder()
    workspace.set_conversation(edited)  # a third prompt: only the one before it is kept
    assert not workspace.decoder().generated


def test_display_settings_never_discard_tokens(workspace):
    decoder = workspace.decoder()
    ids = [decoder.step().id for _ in range(3)]
    workspace.configure(top_n=3, max_new_tokens=5)
    assert workspace.decoder() is decoder and decoder.generated == ids
    assert len(decoder.step().top) <= 3


@pytest.mark.parametrize("typed, expected", [("#42", 42), (" #7 ", 7), (" the", 279), ("42", None)])
def test_typed_tokens(workspace, tiny, typed, expected):
    token = workspace.lookup_token(typed)
    if expected is None:  # digits that are not one token as text (Qwen splits digits) are an id
        assert tiny.tokenizer.encode(typed) != [token] and token == 42
    else:
        assert token == expected


@pytest.mark.parametrize("typed", ["٣", "²"])
def test_non_ascii_digits_are_text_never_an_id(workspace, tiny, typed):
    ids = tiny.tokenizer.encode(typed)
    if len(ids) == 1:
        assert workspace.lookup_token(typed) == ids[0] != unicodedata.digit(typed)  # its token, not id 3 or 2
    else:
        with pytest.raises(InputError) as refused:
            workspace.lookup_token(typed)
        assert refused.value.code == "not_one_token"


def test_nothing_typed_asks_for_a_token_instead_of_counting_zero_tokens(workspace):
    with pytest.raises(InputError) as refused:
        workspace.lookup_token("")
    assert refused.value.code == "nothing_typed" and "0 tokens" not in str(refused.value)


@pytest.mark.parametrize("value, code", [
    ("[" * 5000 + "]" * 5000, "json_too_deep"),
    ('[{"role": "user", "content": "\\ud800"}]', "message_surrogate"),
    ("[" + "1," * 200_000 + "1]", "conversation_too_long"),
])
def test_bad_conversations_are_one_clear_line(workspace, value, code):
    with pytest.raises(InputError) as refused:
        workspace.set_conversation(value)
    assert refused.value.code == code and "\n" not in str(refused.value)
    assert workspace.messages == CONVERSATION  # the last good conversation is kept


def test_a_lone_surrogate_typed_as_a_token_is_refused(workspace):
    with pytest.raises(InputError) as refused:
        workspace.lookup_token("a\ud800")
    assert refused.value.code == "surrogate"


def test_a_snapshot_comes_back_on_a_new_workspace(workspace, tiny, engine):
    decoder = workspace.decoder()
    stepped = [decoder.step() for _ in range(4)]
    again = Workspace(tiny, engine, messages=CONVERSATION)
    assert again.restore(workspace.snapshot())
    assert again.decoder().generated == [r.id for r in stepped]
    assert not again.restore(workspace.snapshot())  # already applied: nothing to do
    assert again.decoder().step().id == decoder.step().id


@pytest.mark.parametrize("header, language", [
    ("es-ES,es;q=0.9,en;q=0.8", "es"), ("fr;q=0.9, es;q=0.8, en;q=0.1", "es"), ("en-US,en;q=0.9,es;q=0.95", "en"),
    ("de, es;q=0", "en"), ("", "en"), ("es;q=abc, en;q=0.2", "en"),
])
def test_the_language_follows_accept_language_q_values(header, language):
    assert language_from_header(header) == language
