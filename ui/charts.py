"""The step timeline as inline SVG: chosen-token probability and entropy over the steps, a pure function.

An SVG polyline per series inside a fixed viewBox that stretches to the panel's width (strokes
keep their width), with the title, legend and axis bounds as HTML text around it, so the words
stay readable at any size and nothing needs a charting library.
What is left out: the next-token chart (`bars.py`).
"""

from .views import esc

_WIDTH, _HEIGHT = 1000, 200


def timeline_html(records, texts):
    """StepRecords -> the timeline panel (an empty frame before the first step)."""
    steps = len(records)
    top_entropy = max([r.entropy for r in records] + [1.0])
    prob = _polyline([r.prob for r in records], 1.0)
    entropy = _polyline([r.entropy for r in records], top_entropy)
    return (
        f'<div class="timeline" data-steps="{steps}">'
        f'<div class="tl-title">{esc(texts["timeline_title"])}</div>'
        f'<div class="tl-legend"><span><i class="sw prob"></i>{esc(texts["probability"])} (0–100%)</span>'
        f'<span><i class="sw entropy"></i>{esc(texts["entropy"])} (0–{top_entropy:.1f})</span></div>'
        f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" preserveAspectRatio="none" role="img" '
        f'aria-label="{esc(texts["timeline_title"])}">'
        f'<line x1="0" y1="{_HEIGHT - 1}" x2="{_WIDTH}" y2="{_HEIGHT - 1}" class="axis"/>'
        f'<polyline points="{entropy}" class="entropy"/><polyline points="{prob}" class="prob"/></svg>'
        f'<div class="tl-axis"><span>{esc(texts["step_word"])} 1</span>'
        f'<span>{esc(texts["step_word"])} {max(steps, 1)}</span></div>'
        f"</div>"
    )


def _x(index, count):
    return _WIDTH / 2 if count <= 1 else 10 + index * (_WIDTH - 20) / (count - 1)


def _y(value, top):
    return _HEIGHT - 8 - (_HEIGHT - 16) * max(0.0, min(1.0, value / top))


def _polyline(values, top):
    if len(values) == 1:  # one step: a level across the frame (a one-point line draws nothing)
        return f"10,{_y(values[0], top):.1f} {_WIDTH - 10},{_y(values[0], top):.1f}"
    return " ".join(f"{_x(i, len(values)):.1f},{_y(v, top):.1f}" for i, v in enumerate(values))
