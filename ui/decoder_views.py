"""Pure functions from step records to the Decoder and Compare tabs' HTML: chips, step panel, output, divergence.

`generated_chips_html` is append-only: the HTML of n+1 records starts with the HTML of the first
n (no wrapper element, no closing tag after the last chip), so a streamed run sends one chip per
token on the wire (Gradio diffs streamed strings and sends only the appended tail).
Every user or model string goes through `views.esc`.
What is left out: the next-token chart (`bars.py`), the timeline (`charts.py`).
"""

from .bars import applied_label
from .views import esc, esc_filled, status_html


def generated_chips_html(records, texts, divergence=None):
    """StepRecords -> chips coloured by the chosen token's probability (red unlikely, green likely)."""
    return "".join(chip_html(record, texts, divergence) for record in records)


def chip_html(record, texts, divergence=None):
    classes = "chip gen" + (" forced" if record.forced else "") + (" diverge" if record.index - 1 == divergence else "")
    tip = f"{texts['step_word']} {record.index} · id {record.id} · p={record.prob:.3f} · {texts['rank']} {record.rank}"
    if record.forced:
        tip += f" · {texts['chart_forced']}"
    chip = (f'<span class="{classes}" style="--p:{max(0.0, min(1.0, record.prob)):.3f}" title="{esc(tip)}">'
            f"{esc(record.display)}</span>")
    return chip + ('<span class="break"></span>' if "\n" in record.text else "")


def stats_html(record, prompt_length, texts, tokens_per_s=None, progress=None):
    """The step panel: step number, KV cache (cached + new), time, probability and rank, the
    batch it shared; `progress` = (tokens so far, max new tokens)."""
    if record is None:
        return f'<div class="stats"><span class="stats-hint">{esc(texts["no_step"])}</span></div>'
    cells = [
        f'<div><b>{record.index}</b><small>{esc(texts["step_word"])}</small></div>',
        f'<div><b>{record.cache_before}</b><small>{esc(texts["cache"])} · {esc(texts["cached"])}</small></div>',
        f'<div><b>+1</b><small>{esc(texts["new"])} ({prompt_length} {esc(texts["prompt"])})</small></div>',
        # A step brought back after a reload or an eviction was not timed (0 ms): a dash, not a time.
        f'<div><b>{f"{record.ms:.0f}" if record.ms > 0 else "—"}</b><small>{esc(texts["ms"])}</small></div>',
        f'<div><b>{record.prob:.1%}</b><small>p · {esc(texts["rank"])} {record.rank}</small></div>',
    ]
    if record.batch_rows > 1:  # a server batching several attendees' steps into one forward pass
        cells.append(f'<div class="batched"><b>×{record.batch_rows}</b><small>{esc(texts["batch_rows"])}</small></div>')
    if tokens_per_s:
        cells.append(f'<div class="rate"><b>{tokens_per_s:.1f}</b><small>{esc(texts["tokens_per_s"])}</small></div>')
    bar = ""
    if progress:
        done, total = progress
        bar = f'<div class="progress"><div style="width:{100 * done / max(total, 1):.1f}%"></div></div>'
    return f'<div class="stats">{"".join(cells)}</div>{bar}'


def output_panel_html(ids, with_special, without_special, texts):
    """The notebook's step 4: the output ids and their detokenized text, with and without specials."""
    return (
        f'<div class="panel"><div class="panel-title">{esc(texts["output_ids"])} ({len(ids)})</div>'
        f'<code class="ids">{esc(list(ids))}</code>'
        f'<div class="panel-title">{esc(texts["with_special"])}</div><pre class="out">{esc(with_special)}</pre>'
        f'<div class="panel-title">{esc(texts["without_special"])}</div>'
        f'<pre class="out">{esc(without_special)}</pre></div>'
    )


def stop_message(stop, texts, forced=False):
    """Why the message ended; `forced`: the last token was forced (the user wrote the end marker)."""
    if stop == "eos" and forced:
        return texts["stop_eos_forced"]
    return {"eos": texts["stop_eos"], "max_tokens": texts["stop_max"]}.get(stop, "")


def divergence_html(index, records_a, records_b, texts):
    if index is None:
        return status_html(texts["no_divergence"])
    left = records_a[index].display if index < len(records_a) else "∅"
    right = records_b[index].display if index < len(records_b) else "∅"
    return status_html(f"{texts['diverge_at']} #{index + 1}: «{left}» ≠ «{right}»", "diverge")


def compare_settings_html(settings, texts):
    """What the sampled branch of Compare draws with (the Decoder tab's knobs), in words."""
    line = esc_filled(texts["compare_settings"], what=applied_label(settings, texts), seed=esc(settings.seed))
    return f'<div class="compare-settings">{line}</div>'
