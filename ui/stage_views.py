"""The sampler's stages as an HTML table: one row per stage in generate's order, one column per token.

A pure function of the engine's stage view payload (`engine/stage_view.py`). Each row names the
stage and its value ("off" rows are greyed: they pass the distribution on), says how many tokens
it removed and how much probability they had, and shades each token's cell by its probability
after the stage; a cut token shows ✕. The columns are the tokens worth watching (the raw top and
the final top), most likely first. Below, one line per stage says what it does. The table scrolls
sideways on a phone. Every token text is escaped.
What is left out: the knobs themselves (the tab's controls) and the lens and attention views.
"""

from visualizer.engine.tokens import visible_whitespace

from .views import esc, whole


def stages_html(view, texts):
    header = "".join(f'<th title="#{token["id"]}"><code>{esc(visible_whitespace(token["text"]) or "∅")}</code></th>'
                     for token in view["tokens"])
    rows = "".join(_row(stage, texts) for stage in view["stages"])
    greedy = f'<p class="note">{esc(texts["stages_greedy"])}</p>' if view["greedy"] else ""
    explained = "".join(f'<li><b>{esc(texts["stage_" + stage["name"]])}</b>: '
                        f'{esc(texts["stage_explain_" + stage["name"]])}</li>' for stage in view["stages"])
    return (
        f'<div class="stages" data-greedy="{int(view["greedy"])}">{greedy}'
        f'<div class="scroll"><table><thead><tr><th class="name">{esc(texts["stages_stage"])}</th>{header}'
        f'<th class="left">{esc(texts["stages_left"])}</th></tr></thead><tbody>{rows}</tbody></table></div>'
        f'<ul class="explained">{explained}</ul></div>'
    )


def _row(stage, texts):
    name = texts["stage_" + stage["name"]]
    if stage["value"] is not None:
        name += f" {_number(stage['value'])}"
    elif not stage["on"]:
        name += f" · {texts['stage_off']}"
    if stage["removed"]:
        effect = texts["stage_removed"].format(count=whole(stage['removed']), mass=percent(stage["removed_mass"]))
    else:
        effect = texts["stage_removed_none"]
    cells = "".join(_cell(prob, cut) for prob, cut in zip(stage["probs"], stage["cut"]))
    classes = f"stage-{stage['name']}" + ("" if stage["on"] else " off")
    return (f'<tr class="{classes}" data-stage="{esc(stage["name"])}" data-kept="{stage["kept"]}">'
            f'<th class="name">{esc(name)}<small>{esc(effect)}</small></th>{cells}'
            f'<td class="left">{whole(stage["kept"])}</td></tr>')


def _cell(prob, cut):
    if cut:
        return '<td class="cut">✕</td>'
    shade = min(1.0, prob) ** 0.5
    dark = " dark" if shade > 0.55 else ""
    return f'<td class="p{dark}" style="--heat:{shade:.3f}">{percent(prob)}</td>'


def percent(prob):
    """0.4213 -> "42%", 0.0421 -> "4.2%", tiny -> "<0.1%"."""
    if prob <= 0:
        return "0%"
    if prob < 0.001:
        return "<0.1%"
    return f"{prob:.1%}" if prob < 0.1 else f"{prob:.0%}"


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)
