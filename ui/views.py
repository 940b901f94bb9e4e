"""Pure functions from plain records to HTML strings: the app's chips, panels and legends.

Every string that came from a user or a model goes through `esc`, which also neutralizes `$`,
backticks and backslashes because gr.HTML evaluates `${...}` in what it is given. Styling is
by class names defined in static/style.css. What is left out: charts (see `charts.py`).
"""

import html

from .texts import MARKER_KEYS

_TEMPLATE_CHARS = {"$": "&#36;", "`": "&#96;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"}


def esc(value):
    """Any value -> text safe inside HTML elements and attributes, and inert in templates."""
    escaped = html.escape(str(value), quote=True)
    return "".join(_TEMPLATE_CHARS.get(char, char) for char in escaped)


def plain_text_html(rendered, texts):
    """RenderedText -> the template's output with markers highlighted, a legend and warnings."""
    body = "".join(
        f'<span class="marker {_marker_class(s.text)}">{esc(s.text)}</span>' if s.marker else esc(s.text)
        for s in rendered.segments
    )
    legend = "".join(
        f'<li><span class="marker {_marker_class(m)}">{esc(m)}</span> {esc(texts[MARKER_KEYS.get(m, "marker_other")])}</li>'
        for m in rendered.markers
    )
    return (
        f"{injection_html(rendered.injections, texts)}"
        f'<div class="count-line"><b>{len(rendered.text)}</b> {esc(texts["characters"])}</div>'
        f'<pre class="plain-text">{body}</pre>'
        f'<ul class="legend">{legend}</ul>'
    )


def injection_html(injections, texts):
    if not injections:
        return ""
    items = "".join(
        f"<li>#{i.message} <code>{esc(i.role)}</code>: <code>{esc(i.marker)}</code></li>" for i in injections
    )
    return f'<div class="warning">⚠ {esc(texts["injection"])}<ul>{items}</ul></div>'


def token_chips_html(records, texts, show_ids=False, title=""):
    """TokenRecords -> colored chips; hovering shows id and position; newlines break the line."""
    chips = []
    for position, record in enumerate(records):
        label = str(record.id) if show_ids else record.display
        kind = "special" if record.special else f"c{position % 6}"
        tip = f"id {record.id} · #{position} · {record.display}"
        chips.append(f'<span class="chip {kind}" title="{esc(tip)}">{esc(label)}</span>')
        if "\n" in record.text and not show_ids:
            chips.append('<span class="break"></span>')
    header = f'<div class="count-line">{esc(title)} <b>{len(records)}</b> {esc(texts["tokens"])}</div>'
    return f'{header}<div class="chips">{"".join(chips)}</div>'


def generated_chips_html(records, texts, divergence=None):
    """StepRecords -> chips colored by the chosen token's probability (red unlikely, green likely)."""
    chips = []
    for record in records:
        classes = "chip gen" + (" forced" if record.forced else "") + (" diverge" if record.index - 1 == divergence else "")
        tip = f"{texts['step_word']} {record.index} · id {record.id} · p={record.prob:.3f} · {texts['rank']} {record.rank}"
        if record.forced:
            tip += f" · {texts['forced']}"
        style = f"background:{probability_color(record.prob)}"
        chips.append(f'<span class="{classes}" style="{style}" title="{esc(tip)}">{esc(record.display)}</span>')
        if "\n" in record.text:
            chips.append('<span class="break"></span>')
    return f'<div class="chips generated">{"".join(chips) or "&nbsp;"}</div>'


def output_panel_html(ids, with_special, without_special, texts):
    """The notebook's step 4: the output ids and their detokenized text, with and without specials."""
    return (
        f'<div class="panel"><div class="panel-title">{esc(texts["output_ids"])}</div>'
        f'<code class="ids">{esc(ids)}</code>'
        f'<div class="panel-title">{esc(texts["with_special"])}</div><pre class="out">{esc(with_special)}</pre>'
        f'<div class="panel-title">{esc(texts["without_special"])}</div><pre class="out">{esc(without_special)}</pre></div>'
    )


def stats_html(record, prompt_length, texts, tokens_per_s=None, progress=None):
    """The step panel: step number, cache length (cached vs new), time; progress = (done, max)."""
    if record is None or record.is_preview:
        return f'<div class="stats"><span>{esc(texts["no_step"])}</span></div>'
    cached = record.cache_before
    cells = [
        f'<div><b>{record.index}</b><small>{esc(texts["step_word"])}</small></div>',
        f'<div><b>{cached}</b><small>{esc(texts["cache"])} · {esc(texts["cached"])}</small></div>',
        f'<div><b>+1</b><small>{esc(texts["new"])} ({prompt_length} {esc(texts["prompt"])})</small></div>',
        f'<div><b>{record.ms:.0f}</b><small>{esc(texts["ms"])}</small></div>',
        f'<div><b>{record.prob:.1%}</b><small>p · {esc(texts["rank"])} {record.rank}</small></div>',
    ]
    if record.batch_rows > 1:  # a server batching several attendees' steps into one forward pass
        cells.append(f'<div class="batched"><b>×{record.batch_rows}</b><small>{esc(texts["batch_rows"])}</small></div>')
    if tokens_per_s:
        cells.append(f'<div><b>{tokens_per_s:.1f}</b><small>{esc(texts["tokens_per_s"])}</small></div>')
    bar = ""
    if progress:
        done, total = progress
        bar = f'<div class="progress"><div style="width:{100 * done / max(total, 1):.1f}%"></div></div>'
    return f'<div class="stats">{"".join(cells)}</div>{bar}'


def status_html(message, kind="info"):
    if not message:
        return ""
    return f'<div class="status {esc(kind)}" role="status">{esc(message)}</div>'


def stop_message(stop, texts):
    return {"eos": texts["stop_eos"], "max_tokens": texts["stop_max"]}.get(stop, "")


def divergence_html(index, records_a, records_b, texts):
    if index is None:
        return status_html(texts["no_divergence"])
    left = records_a[index].display if index < len(records_a) else "∅"
    right = records_b[index].display if index < len(records_b) else "∅"
    return status_html(f"{texts['diverge_at']} #{index + 1}: «{left}» ≠ «{right}»", "diverge")


def probability_color(prob):
    """0 -> red, 0.5 -> amber, 1 -> green; light enough for dark text."""
    hue = int(120 * max(0.0, min(1.0, prob)))
    return f"hsl({hue}, 75%, 82%)"


def model_badge_html(loaded, texts):
    parts = [f'{esc(texts["model_info"])}: <b>{esc(loaded.name)}</b>', f'{esc(texts["device"])}: {esc(loaded.device)}']
    if not loaded.has_weights:
        parts.append(esc(texts["tokenizer_only"]))
    return f'<div class="badge">{" · ".join(parts)}</div>'


def _marker_class(marker):
    key = MARKER_KEYS.get(marker, "marker_other")
    return key.replace("_", "-")
