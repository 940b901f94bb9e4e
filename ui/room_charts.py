"""Pure functions from a room's state to plotly figures: the room's answers, the model's distribution, the timeline.

`answer_figures(state, texts, mine)` -> (room figure, model figure) on the same token rows, so a
projector shows the room's histogram beside the model's raw and sampled probabilities line by line;
before Reveal the model's figure says it is hidden. `timeline_figure` shows, per committed step, how
often the room chose the model's top token and the model's mean probability of the room's answers.
Labels are "text · id" (plotly merges equal labels) with `<`, `>` and `&` written as entities,
because plotly reads tags such as <b> or <a> in labels; the attendee's own token's label alone gets
such tags, ours (bold, its colour). Fonts are large: a projector's back row.
What is left out: HTML (`room_views.py`).
"""

import plotly.graph_objects as go

from visualizer.engine.tokens import visible_whitespace

ROOM_COLOR = "#059669"  # the room's answers
CHOSEN_COLOR = "#f59e0b"  # an attendee's own token
MINE_LABEL_COLOR = "#b45309"  # its label (darker: text on white)
SAMPLED_COLOR = "#4f46e5"  # the model, after the settings
RAW_COLOR = "#c7d2fe"  # the model, raw softmax
CUT_COLOR = "#d1d5db"  # outside the model's top candidates
MAX_ROWS = 10
LEGEND_ROOM = 48  # px between the title and the plot: a legend of two lines
_FONT = dict(family="system-ui, Segoe UI, Roboto, sans-serif", size=17)
_PLOT_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def plot_text(text):
    """Any text -> shown as is by plotly (no pseudo-HTML tags)."""
    return "".join(_PLOT_ENTITIES.get(char, char) for char in str(text))


def token_label(token_id, text):
    return plot_text(f"{visible_whitespace(text) or '∅'} · {token_id}")


def rows(state, mine=None):
    """The token rows both figures share: the model's top candidates once revealed, then the room's most chosen."""
    ordered = {}
    for candidate in state["model_top"][:MAX_ROWS]:
        ordered[candidate["id"]] = candidate["text"]
    for bar in state["histogram"]:
        if len(ordered) >= MAX_ROWS + 2:
            break
        ordered.setdefault(bar["id"], bar["text"])
    if mine is not None:
        ordered.setdefault(mine["id"], mine["text"])
    return list(ordered.items())


def answer_figures(state, texts, mine=None):
    """-> (the room's histogram, the model's distribution) for the current step; `mine`: an attendee's answer."""
    token_rows = rows(state, mine)
    mine_id = mine["id"] if mine else None
    # The attendee's own token stands out by its label too: past the model's top it has no bar to colour.
    labels = [_mine(token_label(token_id, text)) if token_id == mine_id else token_label(token_id, text)
              for token_id, text in token_rows]
    counts = {bar["id"]: bar["count"] for bar in state["histogram"]}
    answered = max(state["answered"], 1)
    room = go.Figure()
    room.add_bar(y=labels, x=[counts.get(i, 0) / answered for i, _ in token_rows], orientation="h",
                 marker_color=[CHOSEN_COLOR if i == mine_id else ROOM_COLOR for i, _ in token_rows],
                 text=[str(counts.get(i, 0)) for i, _ in token_rows], textposition="outside", cliponaxis=False,
                 textfont=dict(size=18), constraintext="none",
                 name=plot_text(texts["room_chart_share"]), hovertemplate="%{y}: %{text}<extra></extra>")
    _layout(room, texts["room_chart_room"] + f" · {state['answered']}", len(labels))
    if not token_rows:
        _note(room, texts["room_chart_empty"])
    model = go.Figure()
    top = {c["id"]: c for c in state["model_top"]}
    if top:
        model.add_bar(y=labels, x=[top.get(i, {}).get("raw_prob", 0) for i, _ in token_rows], orientation="h",
                      name=plot_text(texts["room_chart_raw"]), marker_color=RAW_COLOR,
                      hovertemplate="%{y}<br>p=%{x:.3f}<extra></extra>")
        model.add_bar(y=labels, x=[top.get(i, {}).get("prob", 0) for i, _ in token_rows], orientation="h",
                      name=plot_text(texts["room_chart_sampled"]), showlegend=False,
                      marker_color=[CHOSEN_COLOR if i == mine_id else SAMPLED_COLOR if i in top else CUT_COLOR
                                    for i, _ in token_rows],
                      text=[f"{top[i]['prob']:.0%}" if i in top else "" for i, _ in token_rows],
                      textposition="outside", cliponaxis=False, textfont=dict(size=16), constraintext="none",
                      hovertemplate="%{y}<br>p=%{x:.3f}<extra></extra>")
        # Its legend entry on its own: plotly draws a trace's swatch in its first bar's colour, which was the
        # attendee's orange when their token came first (found by hand).
        model.add_scatter(x=[None], y=[None], mode="markers", name=plot_text(texts["room_chart_sampled"]),
                          marker=dict(color=SAMPLED_COLOR, symbol="square", size=12), hoverinfo="skip")
    _layout(model, texts["room_chart_model"], len(labels), legend=bool(top))
    if not top:
        _note(model, texts["room_model_hidden"])
    return room, model


def timeline_figure(state, texts):
    """Per committed step: the room's share on the model's top token, and the model's mean probability of the answers."""
    points = [p for p in state["history"] if p["answered"]]
    steps = [p["step"] for p in points]
    figure = go.Figure()
    figure.add_scatter(x=steps, y=[p["hit_rate"] for p in points], mode="lines+markers",
                       name=plot_text(texts["room_timeline_hits"]), line=dict(color=ROOM_COLOR, width=3))
    figure.add_scatter(x=steps, y=[p["mean_raw_prob"] for p in points], mode="lines+markers",
                       name=plot_text(texts["room_timeline_prob"]), line=dict(color=SAMPLED_COLOR, width=3, dash="dot"))
    figure.update_layout(
        title=dict(text=plot_text(texts["room_timeline_title"]), x=0.01), font=_FONT, template="plotly_white",
        height=220, margin=dict(l=10, r=10, t=44, b=10),
        legend=dict(orientation="v", y=1.0, yanchor="top", x=1.02, xanchor="left", font=dict(size=14)),
        xaxis=dict(dtick=max(1, len(points) // 8), range=[0.5, max(steps, default=1) + 0.5]),
        yaxis=dict(range=[0, 1.05], tickformat=".0%"),
    )
    if not points:
        _note(figure, texts["room_none_committed"])
    return figure


def _mine(label):
    """A label (entities only, see `plot_text`) in bold and the attendee's colour: plotly's own tags."""
    return f'<span style="color:{MINE_LABEL_COLOR}"><b>{label}</b></span>'


def _layout(figure, title, count, legend=False):
    # The legend sits above the plot (below, it hid the first ticks) and under the title: beside it, a phone's
    # legend wrapped onto two lines and ran under the title (found by hand); two lines fit in LEGEND_ROOM.
    room = LEGEND_ROOM if legend else 0
    figure.update_layout(
        title=dict(text=plot_text(title), x=0.01, y=1.0, yref="container", yanchor="top", pad=dict(t=10)),
        font=_FONT, template="plotly_white", barmode="group", bargap=0.2,
        height=min(400, max(260, 70 + 26 * count)) + room, margin=dict(l=10, r=50, t=46 + room, b=10),
        yaxis=dict(autorange="reversed", type="category", automargin=True),
        xaxis=dict(range=[0, 1.15], tickformat=".0%", tickvals=[0, 0.5, 1]), showlegend=legend,  # 3 ticks fit 150 px
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0.0, xanchor="left"),
        uniformtext=dict(minsize=14, mode="show"),  # the bars' values stay readable (plotly shrank them to 7 px)
    )


def _note(figure, text):
    figure.add_annotation(text=plot_text(text), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font=dict(size=20, color="#6b7280"))
    figure.update_yaxes(visible=False)
    figure.update_xaxes(visible=False)
