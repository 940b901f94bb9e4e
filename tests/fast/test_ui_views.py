"""The UI's pure parts without a model or a browser: texts, views, chart, controls, presets, edits, saved state.

English and Spanish have the same keys; every knob of the table has a label; every user or model
string is escaped (gr.HTML evaluates `${...}`); the generated chips are append-only (a streamed
run sends one chip per token); the chart's legend says what the pipeline applied; the browser's
saved tokens are never replaced by fewer unless an action changed the tokens.
What is left out: anything that needs the model or a browser (tests/test_browser*.py).
"""

import re
from dataclasses import replace
from types import SimpleNamespace

import pytest

from ui import conversation_edits as edits
from ui.bars import applied_label, next_token_chart
from ui.charts import timeline_html
from ui.decoder_views import generated_chips_html, stats_html, stop_message
from ui.decoding_controls import _slider_minimum
from ui.presets import compare_pair, default_name, preset, preset_names
from ui.shared import PageSession
from ui.texts import EN, ES, base, decoding
from ui.views import esc, esc_filled, status_html, token_chips_html
from visualizer.engine.knobs import KNOBS
from visualizer.engine.records import Candidate, StepRecord
from visualizer.engine.sampling import SamplingSettings

HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} `tick` \\u {x}"


def record(index, text="tok", prob=0.5, forced=False, top=()):
    return StepRecord(index=index, id=100 + index, text=text, display=text, prob=prob, raw_prob=prob, rank=1,
                      forced=forced, greedy=True, top=top, top_raw=top, entropy=1.0, raw_entropy=1.0, kept=10,
                      cache_before=50 + index, cache_after=51 + index, ms=40.0)


def test_english_and_spanish_have_the_same_keys():
    assert set(EN) == set(ES)
    for area in (base, decoding):
        assert set(area.EN) == set(area.ES), area.__name__


def test_every_knob_has_a_label_in_every_language():
    for knob in KNOBS:
        assert EN.get(knob.name) and ES.get(knob.name), knob.name


def test_esc_leaves_nothing_live():
    escaped = esc(HOSTILE)
    for live in ("<", ">", "$", "`", "\\", "{", "}"):
        assert live not in escaped


def test_chart_and_chips_escape_model_text():
    candidate = Candidate(7, HOSTILE, HOSTILE, 0.6, 0.5, False)
    step = record(1, text=HOSTILE, top=(candidate,))
    html = next_token_chart(step, SamplingSettings(), EN, clickable=True) + generated_chips_html([step], EN)
    html += token_chips_html([SimpleNamespace(id=1, text=HOSTILE, display=HOSTILE, special=False)], EN, title=HOSTILE)
    assert "<img" not in html and "${" not in html and "`" not in html


def test_generated_chips_are_append_only():
    records = [record(i, text="a\n" if i % 3 == 0 else f"w{i}", prob=i / 10) for i in range(1, 9)]
    for n in range(len(records)):
        assert generated_chips_html(records[:n + 1], EN).startswith(generated_chips_html(records[:n], EN))


def test_legend_says_what_the_pipeline_applied():
    assert applied_label(SamplingSettings(), EN) == EN["chart_nothing_applied"]
    sampled = SamplingSettings.sampled(temperature=0.7, top_k=50, top_p=0.95)
    assert applied_label(sampled, EN) == "<code>temperature</code> 0.7 · <code>top-k</code> 50 · <code>top-p</code> 0.95"
    greedy_penalty = SamplingSettings(greedy=True, knobs=(("repetition_penalty", 1.2), ("temperature", 0.7)))
    assert applied_label(greedy_penalty, EN) == "<code>repetition-penalty</code> 1.2"  # no warpers in greedy


def test_chart_marks_chosen_and_cut_rows():
    kept, cut = Candidate(1, "a", "a", 1.0, 0.6, False), Candidate(2, "b", "b", 0.0, 0.4, True)
    html = next_token_chart(replace(record(3, top=(kept, cut)), id=1), SamplingSettings(), EN)
    assert 'class="ntc-row chosen" data-token="1"' in html and 'class="ntc-row cut" data-token="2"' in html
    assert 'data-step="3"' in html and f"{EN['step_word']} 3" in html


def test_chart_counts_one_candidate_left_in_the_singular():
    one, many = replace(record(2), kept=1), replace(record(2), kept=49152)
    assert "1 candidate left" in next_token_chart(one, SamplingSettings(), EN)
    assert "queda 1 candidato" in next_token_chart(one, SamplingSettings(), ES)
    assert "49\u202f152 candidates left" in next_token_chart(many, SamplingSettings(), EN)
    assert "quedan 49\u202f152 candidatos" in next_token_chart(many, SamplingSettings(), ES)


def test_an_end_marker_forced_by_the_user_is_not_said_to_be_the_models():
    assert stop_message("eos", EN, forced=True) == EN["stop_eos_forced"] != stop_message("eos", EN)
    assert stop_message("eos", ES, forced=True) == ES["stop_eos_forced"]


def test_every_error_line_is_new_and_other_lines_are_not():
    """An error is drawn (and toasted when out of sight) again when it comes again: data-at differs."""
    first, second = status_html("Error: x", "error"), status_html("Error: x", "error")
    assert first != second and 'data-at="' in first
    assert status_html("x", "info") == status_html("x", "info")


def test_stats_show_a_shared_forward_pass():
    shared = replace(record(2), batch_rows=12)
    assert "×12" in stats_html(shared, 47, EN) and "batched" not in stats_html(record(2), 47, EN)
    assert timeline_html([record(1), record(2)], EN).count("<polyline") == 2


def test_one_step_draws_a_level_line_not_a_point():
    html = timeline_html([record(1, prob=0.5)], EN)
    points = re.findall(r'points="([^"]*)" class="prob"', html)[0].split()
    assert len(points) == 2 and points[0].split(",")[1] == points[1].split(",")[1]  # flat, two ends


def test_controls_offer_the_off_value_and_never_a_denormal():
    lows = {knob.name: _slider_minimum(knob) for knob in KNOBS}
    assert lows["top_k"] == 0 and lows["min_p"] == 0 and lows["top_p"] == pytest.approx(0.01)
    assert lows["temperature"] == pytest.approx(0.01) and lows["repetition_penalty"] == pytest.approx(0.1)


def test_presets_follow_the_language():
    assert preset_names("es")[0].endswith("(es)") and preset_names("en")[0].endswith("(en)")
    assert default_name("es") == "Fresa, Zyrqel (es)" and "fresa" in preset(default_name("es"))[0]["content"]
    assert "fresa" in compare_pair("es")[0][0]["content"]
    assert set(preset_names("es")) == set(preset_names("en"))


def test_conversation_edits_never_change_their_input():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    copy = [dict(m) for m in messages]
    assert edits.move_message(messages, 1, -1)[0]["role"] == "user"
    assert edits.set_role(messages, 0, "assistant")[0]["role"] == "assistant"
    assert edits.set_role(messages, 0, "wizard") == messages
    assert edits.add_message(messages)[-1] == {"role": "assistant", "content": ""}
    assert edits.delete_message(messages, 0) == [messages[1]]
    assert messages == copy


def test_a_message_edit_is_cut_at_the_limit_on_the_server():
    from visualizer.engine.limits import MAX_MESSAGE_CHARS

    edited = edits.set_content([{"role": "user", "content": ""}], 0, "x" * (3 * 2**20))  # a crafted 3 MiB input
    assert len(edited[0]["content"]) == MAX_MESSAGE_CHARS
    assert edits.set_content([{"role": "user", "content": "a"}], 0, {"not": "text"})[0]["content"] == ""


def test_saved_tokens_are_kept_until_an_action_changes_them():
    shared = SimpleNamespace(saved_decoding="saved", controls=None)
    page = PageSession(ctx=None, shared=shared)
    saved = {"snapshot": {"version": 1, "decoder": {"generated": [1, 2, 3]}}, "settings": {}}
    fresh = SimpleNamespace(snapshot=lambda: {"version": 1})
    assert page.saved_decoding(fresh, {"saved": saved}, tokens_changed=False)["snapshot"] == saved["snapshot"]
    assert page.saved_decoding(fresh, {"saved": saved}, tokens_changed=True)["snapshot"] == {"version": 1}


def test_a_status_with_clicks_waiting_and_no_message_shows_only_the_wait():
    line = status_html(None, pending=2, texts=ES)
    assert "None" not in line and ES["pending"].format(count=2) in line and 'data-pending="2"' in line


def test_a_json_error_reads_in_spanish_reason_included():
    """The JSON parser's English reason ("Expecting ',' delimiter") showed inside the Spanish line (found by hand)."""
    from ui.app_context import AppContext
    from visualizer.engine.conversation import parse_conversation
    from visualizer.engine.errors import InputError

    with pytest.raises(InputError) as error:
        parse_conversation('[{"role": "user", "content": "hi"')
    spanish = AppContext(server=None, second_tokenizer=None, language="es").error_text(error.value, None)
    english = AppContext(server=None, second_tokenizer=None, language="en").error_text(error.value, None)
    assert spanish == "JSON no válido en la línea 1, columna 34: se esperaba el separador ','"
    assert english == str(error.value) == "invalid JSON at line 1, column 34: Expecting ',' delimiter"


def test_the_legend_sets_parameter_names_as_code_and_escapes_the_words_around():
    sampled = SamplingSettings.sampled(temperature=1.5, top_k=5)
    legend = next_token_chart(record(1), sampled, ES)
    assert "tras: <code>temperature</code> 1.5 · <code>top-k</code> 5" in legend
    assert esc_filled("<b>{what}</b> ${{x}}", what="<code>top-k</code>") == esc("<b>") + "<code>top-k</code>" + esc(
        "</b> ${x}")


def test_a_step_brought_back_untimed_shows_a_dash_not_zero_ms():
    assert "<b>40</b>" in stats_html(record(3), 50, EN)
    assert "<b>—</b>" in stats_html(replace(record(3), ms=0.0), 50, EN) and "<b>0</b>" not in stats_html(
        replace(record(3), ms=0.0), 50, EN)


def test_knob_and_limit_refusals_read_as_spanish_with_grouped_numbers():
    """The walkthrough's Spanish page said "temperature debe estar entre...", "top-p debe estar entre
    4.94066e-324 y 1" and "entre 0 y 9223372036854775807"."""
    from ui.app_context import AppContext
    from visualizer.engine.errors import InputError
    from visualizer.engine.knobs import KNOB_BY_NAME
    from visualizer.engine.limits import check_seed

    spanish = AppContext(server=None, second_tokenizer=None, language="es")
    english = AppContext(server=None, second_tokenizer=None, language="en")
    said = {}
    for name, check in (("top_p", lambda: KNOB_BY_NAME["top_p"].check(0)),
                        ("temperature", lambda: KNOB_BY_NAME["temperature"].check(50)),
                        ("repetition_penalty", lambda: KNOB_BY_NAME["repetition_penalty"].check(9)),
                        ("seed", lambda: check_seed(-5))):
        with pytest.raises(InputError) as error:
            check()
        said[name] = spanish.error_text(error.value, None), english.error_text(error.value, None)
    assert said["top_p"] == ("top-p debe ser mayor que 0 y como máximo 1 (se recibió 0)",
                             "top-p must be above 0 and at most 1 (got 0)")
    assert said["temperature"][0] == "la temperatura debe estar entre 0.01 y 5 (se recibió 50)"
    assert said["repetition_penalty"] == ("la penalización por repetición debe estar entre 0.1 y 3 (se recibió 9)",
                                          "repetition penalty must be between 0.1 and 3 (got 9)")
    assert said["seed"][0] == "la semilla debe estar entre 0 y 9\u202f223\u202f372\u202f036\u202f854\u202f775\u202f807 " \
                              "(se recibió -5)"
