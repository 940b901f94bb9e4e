"""A room as files the instructor downloads: JSON (everything) and CSV (one row per step and token).

`room_json(exported)` -> pretty JSON text of `RoomStore.export`'s dict. `room_csv(exported)` -> CSV
text with one row per token that the model ranked among its top candidates or anyone in the room
chose, for every committed step and the current one: step, mode, answered, token id and text, the
model's probability (after the settings) and raw probability (empty where the token was outside the
model's top candidates), the room's count, whether it was the greedy token and whether it was
committed. Text cells that a spreadsheet would read as a formula (=, +, -, @ first) get a leading '.
What is left out: writing files (the page makes them from the text in the browser, so nothing is
left on the server).
"""

import csv
import io
import json

COLUMNS = ("step", "mode", "answered", "token_id", "token_text", "model_prob", "model_raw_prob", "room_count",
           "greedy", "committed")


def room_json(exported):
    return json.dumps(exported, ensure_ascii=False, indent=2)


def room_csv(exported):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for step in _steps(exported):
        model = {c["id"]: c for c in step["model_top"]}
        counts = {bar["id"]: bar for bar in step["counts"]}
        texts = {**{i: c["text"] for i, c in model.items()}, **{i: bar["text"] for i, bar in counts.items()}}
        for token_id in list(model) + [i for i in counts if i not in model]:
            candidate = model.get(token_id, {})
            writer.writerow([step["step"], step["mode"], step["answered"], token_id, _cell(texts[token_id]),
                             candidate.get("prob", ""), candidate.get("raw_prob", ""),
                             counts.get(token_id, {}).get("count", 0), token_id == step.get("greedy"),
                             token_id == step.get("committed")])
    return out.getvalue()


def _steps(exported):
    """Every committed step's history entry, then the current step (its model candidates once revealed)."""
    yield from exported["history"]
    state = exported["state"]
    if not state.get("stop"):
        yield {"step": state["step"], "mode": state["mode"], "answered": state["answered"],
               "model_top": state["model_top"], "counts": state["histogram"], "committed": None, "greedy": None}


def _cell(text):
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
