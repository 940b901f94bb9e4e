"""The Room tab's views and figures are pure functions of a state: everything shown is escaped.

Hostile token texts (as a typed guess or a model's candidate would bring them) stay text in the
HTML (no tag, no `${...}` a gr.HTML template would run) and in plotly labels (no pseudo-HTML tags).
"""

from ui.room_charts import RAW_COLOR, SAMPLED_COLOR, answer_figures, plot_text, timeline_figure, token_label
from ui.room_views import attendee_html, banner_html, chips_html, percent
from ui.views import whole
from ui.texts import EN, ES

HOSTILE = "<img src=x onerror=alert(1)>${alert(2)}`"


def state(**changes):
    base = {
        "code": "AB<CD", "step": 2, "mode": "guess", "revealed": True, "attendees": 3, "answered": 2,
        "histogram": [{"id": 7, "text": HOSTILE, "count": 2}],
        "model_top": [{"id": 7, "text": HOSTILE, "prob": 0.5, "raw_prob": 0.4},
                      {"id": 9, "text": "<b>", "prob": 0.2, "raw_prob": 0.1}],
        "committed": [9], "committed_tokens": [{"id": 9, "text": HOSTILE}], "text": "prompt" + HOSTILE,
        "answer": HOSTILE, "stop": None, "settings": {}, "history": [
            {"step": 1, "mode": "guess", "answered": 2, "committed": 9, "committed_text": HOSTILE, "greedy": 9,
             "hit_rate": 0.5, "mean_raw_prob": 0.3, "median_rank": 2}], "version": 4,
    }
    return {**base, **changes}


def assert_inert(html):
    assert "<img" not in html and "${" not in html and "`" not in html and "&lt;img" in html


def test_html_views_escape_codes_links_tokens_and_the_text():
    mine = {"joined": True, "answer": {"id": 7, "text": HOSTILE, "seed": 3},
            "position": {"rank": 12345, "raw_prob": 0.0001, "prob": 0.25}}
    for texts in (EN, ES):
        assert_inert(banner_html(state(), f"http://x/?room={HOSTILE}", texts))
        assert_inert(chips_html(state(), texts))
        page = attendee_html(state(), mine, 151936, texts)
        assert_inert(page)
        assert "12\u202f345" in page and "151\u202f936" in page and "&lt;0.1%" in page
    assert "AB&lt;CD" in banner_html(state(), "", EN)


def test_plot_labels_show_tags_as_text():
    room, model = answer_figures(state(), EN, mine={"id": 7, "text": HOSTILE})
    labels = list(room.data[0].y) + list(model.data[0].y)
    mine = f"<b>{token_label(7, HOSTILE)}</b></span>"  # the attendee's own token: bold, in its colour
    assert sum(label.endswith(mine) for label in labels) == 2
    assert labels and all("<" not in label for label in labels if not label.endswith(mine))
    assert "<" not in token_label(7, HOSTILE)
    assert "&lt;b&gt; · 9" in labels
    assert plot_text("a<br>b&c") == "a&lt;br&gt;b&amp;c"
    assert timeline_figure(state(), ES).data[0].y == (0.5,)


def test_before_reveal_the_model_figure_is_empty_and_says_so():
    room, model = answer_figures(state(revealed=False, model_top=[]), EN)
    assert len(model.data) == 0 and "hidden" in model.layout.annotations[0].text
    assert list(room.data[0].x) == [1.0]  # 2 of 2 answers


def test_numbers_read_the_same_in_both_languages():
    assert whole(49152) == "49\u202f152" and percent(0.259) == "25.9%" and percent(0.0) == "0.0%"


def test_the_model_legend_keeps_its_colours_when_the_attendees_token_comes_first():
    """Plotly draws a trace's legend swatch in its first bar's colour: the attendee's orange (found by hand)."""
    room, model = answer_figures(state(), EN, mine={"id": 7, "text": HOSTILE})  # token 7 tops the model's list
    shown = [trace for trace in model.data if trace.showlegend is not False]
    assert [trace.name for trace in shown] == [EN["room_chart_raw"], EN["room_chart_sampled"]]
    assert [trace.marker.color for trace in shown] == [RAW_COLOR, SAMPLED_COLOR]
