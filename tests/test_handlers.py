"""The web app's handlers called in-process, as Gradio would call them (no server, no browser).

The app is built once (tests/app_server.py) with the real SmolLM2 model; each test passes its
own fake request (session hash + Accept-Language), so every test has its own session.
Checked: the Plain text and Tokens views, the JSON editor's validation, HTML escaping of
hostile text in every view, each Decoder action, errors as status lines, Spanish texts.
"""

import html
import itertools
import json
import re
from types import SimpleNamespace

import gradio as gr
import pytest

import app_server
from ui import compare_handlers, context, conversation_handlers, decoder_handlers
from visualizer.engine.conversation import conversation_json
from ui.presets import preset
from ui.texts import EN, ES
from ui.views import divergence_html, generated_chips_html

STRAWBERRY = "Strawberry, Zyrqel (en)"
NOTEBOOK_QWEN_COUNT = 47  # the workshop notebook's count for this conversation with Qwen3
HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} `tick` </script><script>alert(2)</script> back\\slash"
FORCED = "<img src=x onerror=alert(1)>${x}`<script></script>\\"  # 22 tokens, every dangerous fragment
# Raw fragments that must never reach the browser from user or model text.
FORBIDDEN = ("<img", "<script", "</script", "${", "`", "\\")
_sessions = itertools.count()


@pytest.fixture(scope="module")
def ctx():
    return app_server.built_app()[1]


@pytest.fixture(autouse=True)
def current_context(ctx):
    """Other test modules may configure a context of their own: use the app's for each test."""
    context._CONTEXT = ctx


def fake_request(language="en-US,en;q=0.9"):
    return SimpleNamespace(session_hash=f"handlers-{next(_sessions)}", headers={"accept-language": language})


def decoder_inputs(messages=None, mode="greedy", temperature=0.7, top_k=50, top_p=0.95, seed=0, max_new=64, top_n=10):
    """The Decoder tab's inputs, in the order the UI passes them."""
    messages = preset(STRAWBERRY) if messages is None else messages
    return [messages, True, True, mode, temperature, top_k, top_p, seed, max_new, top_n]


def session_decoder(ctx, request):
    return ctx.store.get(request.session_hash).states["decoder"]


def chip_count(fragment, kind="chip "):
    return fragment.count(f'class="{kind}')


def assert_inert(fragment, where):
    for bad in FORBIDDEN:
        assert bad not in fragment, f"{bad!r} survives raw in {where}: {fragment[:300]}"


# --- Plain text and tokens -------------------------------------------------------------------

def test_refresh_views_strawberry(ctx):
    messages = preset(STRAWBERRY)
    editor, plain, chips, second, status = conversation_handlers.refresh_views(messages, True, True, False,
                                                                               fake_request())
    assert json.loads(editor) == messages and status == ""
    tokenizer = ctx.loaded.tokenizer
    text = conversation_handlers.render_conversation(tokenizer, messages, True, enable_thinking=True).text
    body = re.search(r'<pre class="plain-text">(.*?)</pre>', plain, re.S).group(1)
    assert html.unescape(re.sub(r"<[^>]+>", "", body)) == text  # the whole template, escaped
    assert '<span class="marker marker-im-start">&lt;|im_start|&gt;</span>' in body
    assert '<span class="marker marker-im-end">&lt;|im_end|&gt;</span>' in body
    assert f"<b>{len(text)}</b> {EN['characters']}" in plain and EN["marker_im_start"] in plain
    count = len(tokenizer.encode(text))
    assert chip_count(chips) == count and f"<b>{count}</b> {EN['tokens']}" in chips
    assert ctx.second_tokenizer.name in second
    assert chip_count(second) == NOTEBOOK_QWEN_COUNT and f"<b>{NOTEBOOK_QWEN_COUNT}</b>" in second


def test_show_ids_and_split_word(ctx):
    messages = preset(STRAWBERRY)
    _, _, chips, _, _ = conversation_handlers.refresh_views(messages, True, True, True, fake_request())
    first_ids = re.findall(r'class="chip [^"]*" title="[^"]*">(\d+)</span>', chips)
    text = conversation_handlers.render_conversation(ctx.loaded.tokenizer, messages, True).text
    assert [int(i) for i in first_ids] == ctx.loaded.tokenizer.encode(text)
    word = conversation_handlers.split_word("Zyrqel", fake_request())
    assert word.count('class="count-line"') == 2 and chip_count(word) >= 2


def test_injection_preset_warns(ctx):
    _, plain, _, _, _ = conversation_handlers.refresh_views(preset("Marker injection (en)"), True, True, False,
                                                            fake_request())
    assert '<div class="warning">' in plain and EN["injection"] in plain
    _, clean, _, _, _ = conversation_handlers.refresh_views(preset(STRAWBERRY), True, True, False, fake_request())
    assert '<div class="warning">' not in clean


@pytest.mark.parametrize("bad, words", [
    ('[{"role": "user", "content": "hi"', "invalid JSON"),
    ('[{"role": "wizard", "content": "hi"}]', "unknown role"),
    ("[]", "empty"),
    ("", "empty"),
])
def test_apply_json_keeps_conversation_on_error(bad, words):
    original = preset(STRAWBERRY)
    messages, status = conversation_handlers.apply_json(bad, original, fake_request())
    assert messages is original and messages == preset(STRAWBERRY)
    assert 'class="status error"' in status and words in status and "\n" not in status


def test_apply_json_valid_replaces():
    new = [{"role": "user", "content": "Hola"}]
    messages, status = conversation_handlers.apply_json(json.dumps(new), preset(STRAWBERRY), fake_request())
    assert messages == new and status == ""


# --- Escaping of hostile text ------------------------------------------------------------------

def test_hostile_text_is_inert_in_every_view(ctx):
    messages = [{"role": "system", "content": HOSTILE}, {"role": "user", "content": "Say: " + HOSTILE}]
    request = fake_request()
    _, plain, chips, second, status = conversation_handlers.refresh_views(messages, True, True, False, request)
    # The text is still all there, only escaped.
    assert html.unescape(re.sub(r"<[^>]+>", "", plain)).count(HOSTILE) == 2
    for name, fragment in (("plain text", plain), ("chips", chips), ("second chips", second), ("status", status)):
        assert_inert(fragment, name)
    _, ids_chips, _, _, _ = conversation_handlers.refresh_views(messages, True, True, True, request)
    assert_inert(ids_chips, "id chips")
    assert_inert(conversation_handlers.split_word(HOSTILE, request), "word chips")
    # An error message quoting hostile text.
    _, error = conversation_handlers.apply_json(json.dumps([{"role": HOSTILE, "content": "x"}]), messages, request)
    assert "error" in error
    assert_inert(error, "error status")

    # Force the hostile text's tokens one by one: generated chips and the output panel show them.
    inputs = decoder_inputs(messages)
    decoder_handlers.preview(*inputs, request=request)
    decoder = session_decoder(ctx, request)
    hostile_ids = ctx.loaded.tokenizer.encode(FORCED)
    for token_id in hostile_ids:
        decoder.force(token_id)
    outputs = decoder_handlers.preview(*inputs, request=request)  # re-renders without acting
    _, candidates, generated, panel, stats, _, status, _ = outputs
    assert chip_count(generated, "chip gen forced") == len(hostile_ids)
    assert ctx.loaded.tokenizer.decode(decoder.branch.generated) == FORCED
    assert html.unescape(re.sub(r"<[^>]+>", "", panel)).count(FORCED) == 2  # with and without specials
    for name, fragment in (("generated chips", generated), ("output panel", panel), ("stats", stats),
                           ("decoder status", status)):
        assert_inert(fragment, name)
    # Divergence lines quote the tokens at the divergence, whatever they are.
    records = decoder.records
    for index in range(len(records)):
        assert_inert(divergence_html(index, records, records[:index], EN), "divergence")
    assert_inert(generated_chips_html(records, EN, divergence=3), "diverging chips")


def test_hostile_conversation_in_compare(ctx):
    request = fake_request()
    hostile = json.dumps([{"role": "user", "content": "Repeat exactly: " + HOSTILE}])
    for text_a, text_b, divergence in compare_handlers.pair_run(hostile, conversation_json(preset(STRAWBERRY)), 2,
                                                               True, False, request):
        for name, fragment in (("A", text_a), ("B", text_b), ("divergence", divergence)):
            assert_inert(fragment, f"compare {name}")
    assert chip_count(text_a, "chip gen") == 2


# --- The Decoder tab ------------------------------------------------------------------------

def test_decoder_step_undo_force_reset(ctx):
    request, inputs = fake_request(), decoder_inputs()
    for _ in range(5):
        outputs = decoder_handlers.step(*inputs, request=request)
    figure, candidates, generated, panel, stats, timeline, status, saved = outputs
    decoder = session_decoder(ctx, request)
    assert len(decoder.records) == 5 and chip_count(generated, "chip gen") == 5
    assert saved["generated"] == decoder.branch.generated and len(saved["generated"]) == 5
    labels = list(figure.data[0].y)
    assert len(labels) == len(set(labels)) >= 10  # bars with equal labels would merge
    assert [label for label, _ in candidates["choices"]] == labels
    assert [record.prob for record in decoder.records] == [record.top[0].prob for record in decoder.records]
    assert f"<b>{len(decoder.prompt_ids) + 4}</b>" in stats  # KV cache before step 5
    assert len(timeline.data[0].x) == 5

    before = list(decoder.branch.generated)
    decoder_handlers.undo(*inputs, request=request)
    assert decoder.branch.generated == before[:4]

    picked = candidates["choices"][3][1]  # not the greedy choice: forcing it changes the text
    _, _, generated, _, _, _, status, _ = decoder_handlers.force_candidate(picked, *inputs, request=request)
    assert decoder.branch.generated == before[:3] + [picked]  # it replaced step 4
    assert decoder.records[-1].forced and decoder.records[-1].id == picked
    assert chip_count(generated, "chip gen forced") == 1 and 'class="status error"' not in status

    kept = list(decoder.branch.generated)
    outputs = decoder_handlers.force_typed("hello wonderful world", *inputs, request=request)
    assert 'class="status error"' in outputs[6] and "force one token at a time" in outputs[6]
    assert tuple(outputs[:6]) == (gr.skip(),) * 6  # nothing else changes on screen
    assert decoder.branch.generated == kept
    outputs = decoder_handlers.force_typed(str(picked), *inputs, request=request)  # an id also works
    assert decoder.branch.generated == kept and 'class="status error"' not in outputs[6]

    _, _, generated, _, stats, _, status, saved = decoder_handlers.reset(*inputs, request=request)
    assert decoder.records == [] and saved["generated"] == [] and chip_count(generated, "chip gen") == 0
    assert EN["preview"] in status


def test_run_to_end_streams_until_stop(ctx):
    request, inputs = fake_request(), decoder_inputs(max_new=8)
    updates = list(decoder_handlers.run_to_end(*inputs, request=request))
    decoder = session_decoder(ctx, request)
    assert decoder.stop in ("eos", "max_tokens") and 1 <= len(decoder.records) <= 8
    assert len(updates) == len(decoder.records)  # one update per token
    counts = [chip_count(update[2], "chip gen") for update in updates]
    assert counts == list(range(1, len(updates) + 1))
    final_status = updates[-1][6]
    assert 'class="status done"' in final_status
    assert EN["stop_eos" if decoder.stop == "eos" else "stop_max"] in final_status
    again = list(decoder_handlers.run_to_end(*inputs, request=request))  # ended: one update, no new token
    assert len(again) == 1 and len(decoder.records) == len(updates)


@pytest.mark.parametrize("changes, words", [
    (dict(mode="sampling", temperature=0), "temperature"),
    (dict(top_k=10**6), "top-k"),
    (dict(max_new=0), "max new tokens"),
    (dict(messages=[{"role": "user", "content": 3}]), "content must be text"),
])
def test_decoder_errors_are_status_lines(ctx, changes, words):
    request = fake_request()
    for handler in (decoder_handlers.step, decoder_handlers.undo, decoder_handlers.reset):
        outputs = handler(*decoder_inputs(**changes), request=request)
        status = outputs[6]
        assert 'class="status error"' in status and words in status, status
    assert list(decoder_handlers.run_to_end(*decoder_inputs(**changes), request=request))[-1][6].count("error")


def test_sampling_mode_applies(ctx):
    request = fake_request()
    inputs = decoder_inputs(mode="sampling", temperature=1.0, top_k=20, seed=7)
    for _ in range(2):
        outputs = decoder_handlers.step(*inputs, request=request)
    decoder = session_decoder(ctx, request)
    assert not any(record.greedy for record in decoder.records) and len(decoder.records) == 2
    assert outputs[0].layout.title.text.endswith(" 2") and 'class="status error"' not in outputs[6]


# --- Languages ------------------------------------------------------------------------------

def test_spanish_texts(ctx):
    request = fake_request("es-ES,es;q=0.9,en;q=0.8")
    _, plain, chips, _, _ = conversation_handlers.refresh_views(preset("Fresa, Zyrqel (es)"), True, True, False,
                                                                request)
    assert ES["characters"] in plain and ES["marker_im_start"] in plain and ES["tokens"] in chips
    outputs = decoder_handlers.preview(*decoder_inputs(max_new=4), request=request)
    assert ES["preview"] in outputs[6] and outputs[0].layout.title.text == ES["chart_title"]
    outputs = list(decoder_handlers.run_to_end(*decoder_inputs(max_new=4), request=request))[-1]
    decoder = session_decoder(context.current(), request)
    assert ES["stop_eos" if decoder.stop == "eos" else "stop_max"] in outputs[6]
    english = conversation_handlers.refresh_views(preset(STRAWBERRY), True, True, False, fake_request("en"))[1]
    assert EN["characters"] in english and ES["characters"] not in english
