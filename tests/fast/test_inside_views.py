"""The Inside-the-step views without a model or a browser: lens heatmap, attention chips and bars, stage table.

Every token text is escaped (gr.HTML evaluates `${...}`; plotly reads tags in its texts); every
stage and part has words in both languages; the attention chips mark the parts, the specials and
the predicting position, and shade by weight; the lens marks the first layer where the followed
token is on top. Payloads are made by hand, in the engine's shapes.
What is left out: the model (tests/fast/test_inspection_tiny.py) and the browser (tests/test_inside_browser.py).
"""

import re

import pytest

from ui.attention_views import attention_bars_html, attention_chips_html, showing_label
from ui.lens_chart import lens_figure, lens_notes_html, plot_text
from ui.stage_views import percent, stages_html
from ui.texts import EN, ES
from visualizer.engine.knobs import KNOBS

HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} `tick` {x}"


def lens(first_top=1):
    entry = lambda token_id, text, prob: {"id": token_id, "text": text, "prob": prob}  # noqa: E731
    layers = [{"layer": layer, "top": [entry(7, HOSTILE, 0.5), entry(8, " the", 0.2)],
               "chosen_prob": 0.5 if layer >= first_top else 0.0001, "chosen_rank": 1 if layer >= first_top else 40}
              for layer in range(3)]
    return {"model": "m", "prompt_tokens": 4, "generated": 0, "position": 3, "chosen": {"id": 7, "text": HOSTILE},
            "first_top_layer": first_top, "layers": layers, "final": layers[-1]["top"]}


TOKENS = [{"id": 1, "text": "<|im_start|>", "special": True, "part": "system"},
          {"id": 2, "text": HOSTILE, "special": False, "part": "user"},
          {"id": 3, "text": "\n", "special": False, "part": "user"},
          {"id": 4, "text": " ok", "special": False, "part": "generated"}]


def stage_payload():
    names = ["raw", *(knob.name for knob in KNOBS), "final"]
    stages = [{"name": name, "value": 50 if name == "top_k" else None, "on": name != "min_p",
               "probs": [0.6, 0.4] if name != "raw" else [0.5, 0.3], "cut": [False, name in ("top_k", "final")],
               "kept": 1, "removed": 49_000 if name == "top_k" else 0, "removed_mass": 0.25, "entropy": 1.0,
               "top": []} for name in names]
    return {"greedy": True, "tokens": [{"id": 7, "text": HOSTILE}, {"id": 8, "text": " the"}], "stages": stages}


@pytest.mark.parametrize("texts", [EN, ES], ids=["en", "es"])
def test_every_view_escapes_token_texts(texts):
    html = (lens_notes_html(lens(), texts) + attention_chips_html(TOKENS, [0.4, 0.3, 0.2, 0.1], "label", texts)
            + attention_bars_html(TOKENS, [0.4, 0.3, 0.2, 0.1], texts) + stages_html(stage_payload(), texts))
    assert "<img" not in html and "${" not in html and "`" not in html
    figure = lens_figure(lens(), texts)
    cells = [text for row in figure.data[0].text for text in row]
    assert all("<img" not in text for text in cells) and any("&lt;img" in text for text in cells)
    assert plot_text("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_lens_marks_the_followed_token_and_the_first_top_layer():
    figure = lens_figure(lens(first_top=1), EN)
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["0", "<b>◀ 1</b>", "2"]
    assert [row[0] for row in heatmap.z] == [0.0001, 0.5, 0.5] and heatmap.text[0][0] == "#40"
    assert heatmap.text[2][1].startswith("<b>") and not heatmap.text[2][2].startswith("<b>")
    assert "1" in lens_notes_html(lens(first_top=1), EN) and 'data-first-top="1"' in lens_notes_html(lens(1), EN)
    assert EN["lens_never"].split(":")[0].split("{")[0] in lens_notes_html(lens(first_top=2), EN)


def test_attention_chips_mark_parts_specials_the_current_position_and_shade_by_weight():
    html = attention_chips_html(TOKENS, [0.4, 0.1, 0.1, 0.4], showing_label(None, 3, 4, ES), ES)
    chips = re.findall(r'class="(chip [^"]*)"', html)
    assert len(chips) == 4 and ["current" in chip.split() for chip in chips] == [False, False, False, True]
    assert "special" in chips[0].split()
    assert "part-system" in html and "part-user" in html and "part-generated" in html
    assert "--heat:1.000" in html and "--heat:0.500" in html and '<span class="break"></span>' in html
    assert "Todas las capas (media) · Cabeza 4 · 4 tokens" in html  # head index 3: counted from 1
    bars = attention_bars_html(TOKENS, [0.4, 0.1, 0.1, 0.4], EN, count=2)
    assert bars.count('class="bar-row') == 2 and EN["part_special"] in bars


def test_stage_table_has_a_row_per_stage_in_order_with_what_each_removed():
    html = stages_html(stage_payload(), EN)
    order = [html.index(f'data-stage="{name}"') for name in ["raw", *(knob.name for knob in KNOBS), "final"]]
    assert order == sorted(order)
    assert "top-k 50" in html and "removed 49\u202f000 (25% of the probability)" in html
    assert 'class="stage-min_p off"' in html and EN["stages_greedy"] in html and html.count("✕") == 2
    for texts in (EN, ES):
        for name in ["raw", *(knob.name for knob in KNOBS), "final"]:
            assert texts[f"stage_{name}"] and texts[f"stage_explain_{name}"]


def test_percent_keeps_small_numbers_readable():
    assert [percent(p) for p in (0.0, 0.0004, 0.042, 0.42, 1.0)] == ["0%", "<0.1%", "4.2%", "42%", "100%"]


def test_the_position_after_an_ended_answer_says_the_answer_ended():
    """After an answer ended with <|im_end|>, Inside said its position "predicts token 32 of the answer"."""
    from types import SimpleNamespace

    from ui.inside_actions import position_html

    inspection = SimpleNamespace(position=77, generated=31, prompt_length=46)
    tokens = [{"text": "<|im_end|>"}]
    assert "predicts token 32 of the answer" in position_html(tokens, inspection, EN)
    ended = position_html(tokens, inspection, ES, ended=True)
    assert "terminó la respuesta" in ended and "predice el token" not in ended and "&lt;|im_end|&gt;" in ended
