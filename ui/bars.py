"""The next-token chart as HTML bars: a pure function of one step record (or preview) and its settings.

Each candidate is one row: its text and id, a light bar for the raw softmax probability and a
dark bar for the probability after the sampling pipeline, the chosen token in amber, tokens the
warpers cut in grey. The legend always shows the same four swatches (colours come from CSS
classes, so they never change with the data) and says what the pipeline applied. Rows carry
`data-token` so a click on one can force that token. Plain HTML: crisp on a projector, readable
on a phone (labels wrap, nothing is clipped), drawn at once (no charting library to load).
What is left out: the timeline over steps (`charts.py`) and the step panel (`decoder_views.py`).
"""

from visualizer.engine.records import Candidate

from .views import esc, esc_filled, whole


def chart_candidates(record):
    """The rows: raw top-N, then the pipeline's top-N extras, then a forced outsider."""
    seen, ordered = set(), []
    for candidate in record.top_raw + record.top:
        if candidate.id not in seen:
            seen.add(candidate.id)
            ordered.append(candidate)
    if record.id >= 0 and record.id not in seen:
        ordered.append(Candidate(record.id, record.text, record.display, record.prob, record.raw_prob,
                                 cut=record.prob == 0))
    return ordered


def candidate_label(candidate):
    return f"{candidate.display or '∅'} · {candidate.id}"


def applied_label(settings, texts):
    """What the pipeline did to the raw softmax, as HTML: "<code>temperature</code> 0.7 · <code>top-k</code> 50"
    (knobs by their parameter names, as the notebook writes them in both languages; set as code, so that a
    Spanish line does not read as an English word left over), or "nothing"."""
    parts = [f"<code>{knob.elem_id}</code> {_number(value)}" for knob, value in settings.active()]
    return " · ".join(parts) if parts else esc(texts["chart_nothing_applied"])


def mode_line(settings, texts):
    if settings.greedy:
        return texts["chart_mode_greedy"]
    return texts["chart_mode_sampling"].format(seed=settings.seed)


def next_token_chart(record, settings, texts, title=None, position=None, clickable=False):
    """StepRecord (a step's, or a preview of position `position`) -> the chart's HTML.
    `title` replaces the default heading (Compare names its branches); `clickable` adds the hint
    that a click on a row forces its token."""
    candidates = chart_candidates(record)
    heading = title or texts["chart_title"]
    if record.is_preview:
        heading += " · " + texts["chart_preview"].format(step=position or 1)
    else:
        heading += f" · {texts['step_word']} {record.index}"
    rows = "".join(_row(candidate, record, texts) for candidate in candidates)
    chosen_key = "chart_forced" if record.forced else "chart_chosen"
    legend = (
        f'<div class="ntc-legend">'
        f'<span><i class="sw raw"></i>{esc(texts["chart_raw"])}</span>'
        f'<span><i class="sw app"></i>{esc_filled(texts["chart_applied"], what=applied_label(settings, texts))}</span>'
        f'<span><i class="sw chosen"></i>{esc(texts[chosen_key])}</span>'
        f'<span><i class="sw cut"></i>{esc(texts["chart_cut"])}</span></div>'
    )
    facts = texts["chart_facts_one" if record.kept == 1 else "chart_facts"].format(entropy=f"{record.entropy:.2f}",
                                                                                    kept=whole(record.kept))
    hint = f'<div class="ntc-hint">{esc(texts["chart_click_hint"])}</div>' if clickable else ""
    return (
        f'<div class="ntc{" clickable" if clickable else ""}" data-step="{record.index}" '
        f'data-preview="{int(record.is_preview)}" data-greedy="{int(settings.greedy)}">'
        f'<div class="ntc-title">{esc(heading)}</div>{legend}'
        f'<div class="ntc-mode">{esc(mode_line(settings, texts))} · {esc(facts)}</div>'
        f'<div class="ntc-rows">{rows}</div>{hint}</div>'
    )


def _row(candidate, record, texts):
    chosen = candidate.id == record.id
    classes = "ntc-row" + (" chosen" if chosen else "") + (" cut" if candidate.cut else "")
    tag = ""
    if chosen:
        tag = f'<em class="tag">{esc(texts["chart_forced" if record.forced else "chart_chosen"])}</em>'
    elif candidate.cut:
        tag = f'<em class="tag">{esc(texts["chart_cut"])}</em>'
    return (
        f'<div class="{classes}" data-token="{candidate.id}" title="{esc(candidate_label(candidate))}">'
        f'<span class="ntc-tok"><code>{esc(candidate.display or "∅")}</code><small>#{candidate.id}</small>{tag}</span>'
        f'<span class="ntc-bars"><i class="raw" style="width:{_width(candidate.raw_prob)}"></i>'
        f'<i class="app" style="width:{_width(candidate.prob)}"></i></span>'
        f'<span class="ntc-pct">{_raw_before(candidate)}<b>{_percent(candidate.prob)}</b></span>'
        f"</div>"
    )


def _raw_before(candidate):
    """The raw probability before the final one ("18.7% → 38.7%"), when the pipeline changed it."""
    if abs(candidate.prob - candidate.raw_prob) < 0.0005:
        return ""
    return f"<small>{_percent(candidate.raw_prob)} →</small> "


def _width(prob):
    return f"{100 * max(0.0, min(1.0, prob)):.1f}%"


def _percent(prob):
    if prob <= 0:
        return "0%"
    if prob < 0.001:
        return "<0.1%"
    return f"{prob:.1%}"


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)
