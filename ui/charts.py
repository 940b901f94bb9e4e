"""Pure functions from step records to plotly figures: next-token bars and the step timeline.

Bars are labelled "text · id" because plotly merges bars with equal labels (two tokens can
look alike). Each candidate shows its raw softmax probability next to its probability after
temperature / top-k / top-p; the chosen one is highlighted and cut ones are greyed.
What is left out: interactivity (gr.Plot has no click event: the UI picks with a Radio).
"""

import plotly.graph_objects as go

from visualizer.engine.records import Candidate

CHOSEN_COLOR = "#f59e0b"
SAMPLED_COLOR = "#4f46e5"
RAW_COLOR = "#c7d2fe"
CUT_COLOR = "#d1d5db"
_FONT = dict(family="Inter, system-ui, sans-serif", size=15)


def chart_candidates(record):
    """The candidates to plot: raw top-N, then sampled top-N extras, then a forced outsider."""
    seen, ordered = set(), []
    for candidate in record.top_raw + record.top:
        if candidate.id not in seen:
            seen.add(candidate.id)
            ordered.append(candidate)
    if record.id >= 0 and record.id not in seen:
        ordered.append(Candidate(record.id, record.text, record.display, record.prob, record.raw_prob, record.prob == 0))
    return ordered


def candidate_label(candidate):
    return f"{candidate.display or '∅'} · {candidate.id}"


def next_token_figure(record, texts, title=None):
    """StepRecord (or preview) -> horizontal bar figure, most likely on top."""
    candidates = chart_candidates(record)
    labels = [candidate_label(c) for c in candidates]
    sampled_colors = [
        CHOSEN_COLOR if c.id == record.id else CUT_COLOR if c.cut else SAMPLED_COLOR for c in candidates
    ]
    figure = go.Figure()
    figure.add_bar(
        y=labels, x=[c.raw_prob for c in candidates], orientation="h", name=texts["chart_raw"],
        marker_color=RAW_COLOR, hovertemplate="%{y}<br>p=%{x:.4f}<extra>raw</extra>",
    )
    figure.add_bar(
        y=labels, x=[c.prob for c in candidates], orientation="h", name=texts["chart_sampled"],
        marker_color=sampled_colors,
        text=[_bar_text(c, record, texts) for c in candidates], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>p=%{x:.4f}<extra></extra>",
    )
    heading = title or texts["chart_title"]
    if not record.is_preview:
        heading += f" · {texts['step_word']} {record.index}"
    figure.update_layout(
        title=dict(text=heading, x=0.01),
        barmode="group", bargap=0.25, font=_FONT, template="plotly_white",
        # r=110: room for the "99.0% ← chosen" text beside a bar that reaches 100%.
        height=max(320, 70 + 44 * len(candidates)), margin=dict(l=10, r=110, t=60, b=30),
        yaxis=dict(autorange="reversed", type="category", automargin=True),
        xaxis=dict(range=[0, 1.12], tickformat=".0%"),
        legend=dict(orientation="h", y=-0.08, x=0),
    )
    return figure


def timeline_figure(records, texts):
    """StepRecords -> chosen-token probability and entropy over the steps."""
    steps = [r.index for r in records]
    figure = go.Figure()
    figure.add_scatter(
        x=steps, y=[r.prob for r in records], mode="lines+markers", name=texts["probability"],
        line=dict(color=SAMPLED_COLOR),
    )
    figure.add_scatter(
        x=steps, y=[r.entropy for r in records], mode="lines", name=texts["entropy"], yaxis="y2",
        line=dict(color=CHOSEN_COLOR, dash="dot"),
    )
    figure.update_layout(
        title=dict(text=texts["timeline_title"], x=0.01), font=_FONT, template="plotly_white", height=320,
        margin=dict(l=10, r=10, t=50, b=30), legend=dict(orientation="h", y=-0.3, yanchor="top", x=0),
        xaxis=dict(title=texts["step_word"], dtick=max(1, len(records) // 10)), yaxis=dict(range=[0, 1.05], tickformat=".0%"),
        yaxis2=dict(overlaying="y", side="right", rangemode="tozero", showgrid=False),
    )
    return figure


def _bar_text(candidate, record, texts):
    if candidate.id == record.id:
        return f"{candidate.prob:.1%} ← {texts['chart_chosen']}"
    if candidate.cut:
        return texts["chart_cut"]
    return f"{candidate.prob:.1%}"
