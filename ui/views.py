"""Pure functions from plain data to HTML strings: the header, status lines, plain text and token chips.

Every string that came from a user or a model goes through `esc`, which also neutralizes `$`,
backticks, backslashes and braces, because gr.HTML evaluates `${...}` in what it is given. Styling
is by class names defined in static/style.css.
What is left out: the decoder's views (`decoder_views.py`), the next-token chart (`bars.py`) and
the timeline (`charts.py`).
"""

import html
import time

from .texts import MARKER_KEYS

_TEMPLATE_CHARS = {"$": "&#36;", "`": "&#96;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"}


def esc(value):
    """Any value -> text safe inside HTML elements and attributes, and inert in templates."""
    escaped = html.escape(str(value), quote=True)
    return "".join(_TEMPLATE_CHARS.get(char, char) for char in escaped)


def esc_filled(template, **html_fields):
    """A text template filled with fields that are HTML already: the template's own words escaped (`esc`),
    the fields as they are."""
    marks = {name: f"\x00{index}\x00" for index, name in enumerate(html_fields)}
    filled = esc(template.format(**marks))
    for name, mark in marks.items():
        filled = filled.replace(mark, html_fields[name])
    return filled


def whole(number):
    """12345 -> "12 345": a narrow space groups digits alike in English and Spanish (where "49,152" reads as
    49 and a fraction)."""
    return f"{int(number):,}".replace(",", "\u202f")


def header_html(loaded, texts, language, ready=False):
    """Title, model badge and the presenter switch; `data-title` is the page title the page's script sets;
    `ready`: made by the page load (the page has its session token)."""
    ready_mark = ' data-ready="1"' if ready else ""
    return (
        f'<div class="app-header" data-lang="{esc(language)}" data-title="{esc(texts["title"])}"{ready_mark}>'
        f'<h1>🔬 {esc(texts["title"])}</h1>{model_badge_html(loaded, texts)}'
        f'<button id="presenter-btn" type="button" aria-pressed="false" title="{esc(texts["presenter_hint"])}">'
        f'{esc(texts["presenter"])}</button></div>'
    )


def model_badge_html(loaded, texts):
    parts = [f'{esc(texts["model_info"])}: <b>{esc(loaded.name)}</b>', f'{esc(texts["device"])}: {esc(loaded.device)}']
    if not loaded.has_weights:
        parts.append(esc(texts["tokenizer_only"]))
    return f'<div class="badge">{" · ".join(parts)}</div>'


def status_html(message, kind="info", pending=0, texts=None, data=None):
    """One status line; `pending`: actions of this session still waiting behind this one; `data`:
    {name: value} as data-* attributes (facts for scripts and tests)."""
    queued = ""
    if pending and texts:
        queued = f' <span class="pending">⏳ {esc(texts["pending"].format(count=pending))}</span>'
    facts = {"pending": int(pending), **(data or {})}
    if kind == "error":  # each error new: the same one twice is drawn (and toasted, see client_js) twice
        facts["at"] = time.monotonic_ns()
    attributes = "".join(f' data-{esc(name)}="{esc(value)}"' for name, value in facts.items())
    if not message and not queued:
        return f'<div class="status-empty"{attributes}></div>'
    return f'<div class="status {esc(kind)}" role="status"{attributes}>{esc(message or "")}{queued}</div>'


def shows_error(status):
    """True when a status line's HTML (as `status_html` draws it) is an error."""
    return 'class="status error"' in (status or "")


def error_html(message, texts):
    return status_html(f'{texts["error"]}: {message}', "error")


def plain_text_html(rendered, texts):
    """RenderedText -> the template's output with markers highlighted, a legend and warnings."""
    body = "".join(
        f'<span class="marker {_marker_class(s.text)}">{esc(s.text)}</span>' if s.marker else esc(s.text)
        for s in rendered.segments
    )
    legend = "".join(
        f'<li><span class="marker {_marker_class(m)}">{esc(m)}</span> '
        f'{esc(texts[MARKER_KEYS.get(m, "marker_other")])}</li>'
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
    """TokenRecords -> coloured chips; hovering shows id and position; newlines break the line."""
    chips = []
    for position, record in enumerate(records):
        label = str(record.id) if show_ids else record.display
        kind = "special" if record.special else f"c{position % 6}"
        tip = f"id {record.id} · #{position} · {record.display}"
        chips.append(f'<span class="chip {kind}" title="{esc(tip)}">{esc(label)}</span>')
        if "\n" in record.text and not show_ids:
            chips.append('<span class="break"></span>')
    header = f'<div class="count-line">{esc(title)} · <b>{len(records)}</b> {esc(texts["tokens"])}</div>'
    return f'{header}<div class="chips">{"".join(chips)}</div>'


def _marker_class(marker):
    key = MARKER_KEYS.get(marker, "marker_other")
    return key.replace("_", "-")
