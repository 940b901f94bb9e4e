"""Pure functions from a room's state to HTML: the projector's banner (with the join link's QR code), the
committed chips, the attendee's view.

Every string from a user, a model or a URL goes through `views.esc` (gr.HTML evaluates `${...}`),
typed guesses included (they reach a view as the token they were read as, escaped like any other).
Styling is by class names in static/room.css, sized to be read from the back of a room.
What is left out: figures (`room_charts.py`) and what a state holds (`serving/room.py`).
"""

from visualizer.engine.tokens import visible_whitespace

from .qr_svg import qr_svg
from .views import esc, whole

PROMPT_TAIL_CHARS = 600  # the end of a long prompt an attendee sees above the answer


def banner_html(state, link, texts, reachable=True):
    """The room's code and join link, big; how many joined and answered; the step and its mode.
    A link only this computer can open (`room_address.py`) gets no QR code and a line saying so."""
    if state.get("stop"):
        what, kind = texts["room_banner_ended"], "ended"
    elif state["revealed"]:
        what, kind = texts["room_banner_revealed"], "revealed"
    else:
        what, kind = texts[f"room_banner_{state['mode']}"], state["mode"]
    return (
        f'<div class="room-banner"><div class="room-banner-text">'
        f'<div class="room-join"><span class="room-label">{esc(texts["room_code_word"])}</span>'
        f'<span class="room-big-code">{esc(state["code"])}</span>'
        f'<span class="room-label">{esc(texts["room_join_at"])}</span> '
        f'<span class="room-link">{esc(short_link(link))}</span></div>'
        f'{"" if reachable else _local_only_html(texts)}'
        f'<div class="room-counters">'
        f'{_counter(state["attendees"], texts["room_joined"], "room-joined-count")}'
        f'{_counter(state["answered"], texts["room_answered"], "room-answered-count")}</div>'
        f'<div class="room-what {esc(kind)}" id="room-step-line">{esc(texts["room_step"])} {int(state["step"])} · '
        f'{esc(what)}</div></div>{_qr_html(link, texts) if reachable else ""}</div>'
    )


def _local_only_html(texts):
    return f'<div class="room-local-only" id="room-local-only" role="alert">{esc(texts["room_local_only"])}</div>'


def _qr_html(link, texts):
    """The join link as a QR code, when it is a full address (an empty or relative one gets none)."""
    if "://" not in link:
        return ""
    try:
        return f'<div class="room-qr">{qr_svg(link, texts["room_join_at"] + " " + link)}</div>'
    except ValueError:  # longer than a version-10 code holds
        return ""


def short_link(link):
    """A join link without "http://": shorter to read off a screen and to type (browsers add it back)."""
    return link[len("http://"):] if link.startswith("http://") else link


def chips_html(state, texts):
    """The tokens committed so far, as chips."""
    tokens = state["committed_tokens"]
    if not tokens:
        chips = f'<span class="room-none">{esc(texts["room_none_committed"])}</span>'
    else:
        chips = "".join(f'<span class="chip room-chip c{i % 6}" title="#{int(t["id"])}">'
                        f'{esc(visible_whitespace(t["text"]) or "∅")}</span>' for i, t in enumerate(tokens))
    return f'<div class="room-chips-title">{esc(texts["room_committed"])}</div><div class="chips">{chips}</div>'


def attendee_html(state, mine, vocab_size, texts):
    """What one attendee sees: the text so far, the step, their answer and, after reveal, where it sits."""
    return (f'<div class="room-attendee">{_step_line(state, texts)}{shared_text_html(state, texts)}'
            f'{_mine_html(state, mine, vocab_size, texts)}</div>')


def shared_text_html(state, texts):
    """The end of the prompt (as the model reads it) and the committed answer, highlighted."""
    text, answer = state["text"], state["answer"]
    prompt = text[:len(text) - len(answer)] if answer and text.endswith(answer) else text
    if len(prompt) > PROMPT_TAIL_CHARS:
        prompt = "…" + prompt[-PROMPT_TAIL_CHARS:]
    shown_answer = answer if text.endswith(answer) else ""
    # The box scrolls from its end (column-reverse): the newest tokens are what an attendee must see.
    return (f'<div class="room-text-title">{esc(texts["room_text_so_far"])}</div>'
            f'<div class="room-text-box"><pre class="room-text"><span class="room-prompt">{esc(prompt)}</span>'
            f'<span class="room-answer-text">{esc(shown_answer)}</span><span class="room-cursor">▌</span></pre></div>')


def _step_line(state, texts):
    if state.get("stop"):
        return f'<div class="room-what ended">{esc(texts["room_banner_ended"])}</div>'
    what = texts["room_banner_revealed"] if state["revealed"] else texts[f"room_banner_{state['mode']}"]
    kind = "revealed" if state["revealed"] else state["mode"]
    return f'<div class="room-what {esc(kind)}">{esc(texts["room_step"])} {int(state["step"])} · {esc(what)}</div>'


def _mine_html(state, mine, vocab_size, texts):
    answer = mine.get("answer")
    if answer is None:
        note = texts["room_closed_answers"] if state["revealed"] or state.get("stop") else texts["room_no_answer"]
        return f'<div class="room-mine empty">{esc(note)}</div>'
    seed = f' <span class="room-seed">🎲 {int(answer["seed"])}</span>' if answer.get("seed") is not None else ""
    lines = [f'<div class="room-mine-title">{esc(texts["room_you_answered"])}</div>'
             f'<span class="chip room-chip mine">{esc(visible_whitespace(answer["text"]) or "∅")}</span> '
             f'<span class="room-id">#{int(answer["id"])}</span>{seed}']
    position = mine.get("position")
    if position is not None:
        where = texts["room_your_position"].format(rank=whole(position["rank"]), vocab=whole(vocab_size),
                                                   raw=percent(position["raw_prob"]), prob=percent(position["prob"]))
        lines.append(f'<div class="room-position">{esc(where)}</div>')
    elif not state["revealed"]:
        lines.append(f'<div class="room-note">{esc(texts["room_change_until_reveal"])}</div>')
    return f'<div class="room-mine">{"".join(lines)}</div>'


def percent(probability):
    """0.259 -> "25.9%"; tiny but not zero -> "<0.1%" (never a misleading 0.0%)."""
    return "<0.1%" if 0 < probability < 0.0005 else f"{probability:.1%}"


def _counter(value, label, elem_id):
    return f'<div class="room-counter" id="{esc(elem_id)}"><b>{int(value)}</b><small>{esc(label)}</small></div>'
