"""Handlers of the Conversation, Plain text and Tokens tabs.

Each takes component values (and the request, for the language) and returns new values.
Bad JSON or roles never replace the conversation: the last valid one is kept and a message
says what is wrong. What is left out: decoding (see decoder_handlers.py).
"""

import json
import tempfile

import gradio as gr

from visualizer.engine.conversation import ROLES, conversation_json, parse_conversation
from visualizer.engine.limits import MAX_MESSAGES, InputError
from ui.presets import DEFAULT_PRESET_ES, preset
from visualizer.engine.template import render_conversation
from visualizer.engine.tokens import token_records
from ui.views import plain_text_html, status_html, token_chips_html

from . import context

MAX_WORD_CHARS = 100


def render_options(thinking):
    return {"enable_thinking": bool(thinking)}


def refresh_views(messages, add_generation_prompt, thinking, show_ids, request: gr.Request = None):
    """-> (JSON text, plain-text HTML, token chips HTML, second tokenizer's chips HTML, status HTML)."""
    ctx, texts = context.current(), context.texts(request)
    try:
        messages = parse_conversation(messages)
        rendered = render_conversation(ctx.loaded.tokenizer, messages, add_generation_prompt, **render_options(thinking))
        second = render_conversation(ctx.second_tokenizer, messages, add_generation_prompt, **render_options(thinking))
    except InputError as error:
        return conversation_json(messages), "", "", "", status_html(f"{texts['error']}: {error}", "error")
    tokens = token_records(ctx.loaded.tokenizer, ctx.loaded.tokenizer.encode(rendered.text))
    second_tokens = token_records(ctx.second_tokenizer, ctx.second_tokenizer.encode(second.text))
    return (
        conversation_json(messages),
        plain_text_html(rendered, texts),
        token_chips_html(tokens, texts, show_ids, title=ctx.loaded.name),
        token_chips_html(second_tokens, texts, show_ids, title=ctx.second_tokenizer.name),
        status_html(""),
    )


def apply_json(text, messages, request: gr.Request = None):
    """-> (conversation, status). Invalid text keeps the last valid conversation."""
    try:
        return parse_conversation(text), status_html("")
    except InputError as error:
        return messages, status_html(f"{context.texts(request)['error']}: {error}", "error")


def import_file(path, messages, request: gr.Request = None):
    if not path:
        return messages, status_html("")
    try:
        with open(path, "rb") as handle:
            data = handle.read(1_000_000)
    except OSError as error:
        return messages, status_html(f"{context.texts(request)['error']}: {error.strerror}", "error")
    return apply_json(data, messages, request)


def export_file(messages):
    """-> path of a JSON file holding the conversation (for a DownloadButton)."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="conversation-", delete=False, encoding="utf-8")
    with handle:
        json.dump(messages, handle, ensure_ascii=False, indent=2)
    return handle.name


def save_conversation(messages, add_generation_prompt, thinking):
    """What the browser keeps of the conversation (restored on reload or after a restart)."""
    return {"messages": messages, "add_generation_prompt": add_generation_prompt, "thinking": thinking}


def restore_conversation(saved, messages, add_generation_prompt, thinking, version, request: gr.Request = None):
    """-> (messages, generation prompt, thinking, rows version). Nothing valid saved: the default
    preset in the browser's language (a Spanish browser starts on the Spanish example)."""
    try:
        restored = parse_conversation(saved["messages"])
        return restored, bool(saved["add_generation_prompt"]), bool(saved["thinking"]), version + 1
    except (InputError, KeyError, TypeError):
        if context.language(request) == "es":
            return preset(DEFAULT_PRESET_ES), add_generation_prompt, thinking, version + 1
        return messages, add_generation_prompt, thinking, version


def load_preset(name):
    return preset(name)


def add_message(messages):
    if len(messages) >= MAX_MESSAGES:
        return messages
    last_role = messages[-1]["role"] if messages else "assistant"
    return messages + [{"role": "assistant" if last_role == "user" else "user", "content": ""}]


def delete_message(messages, index):
    return [m for i, m in enumerate(messages) if i != index]


def move_message(messages, index, delta):
    target = index + delta
    if not 0 <= target < len(messages):
        return messages
    moved = list(messages)
    moved[index], moved[target] = moved[target], moved[index]
    return moved


def set_role(messages, index, role):
    if role not in ROLES or not 0 <= index < len(messages):
        return messages
    return [dict(m, role=role) if i == index else m for i, m in enumerate(messages)]


def set_content(messages, index, content):
    if not 0 <= index < len(messages):
        return messages
    return [dict(m, content=content or "") if i == index else m for i, m in enumerate(messages)]


def split_word(word, request: gr.Request = None):
    """-> chips of one word (with a leading space, as inside a sentence) in both tokenizers."""
    ctx, texts = context.current(), context.texts(request)
    word = (word or "")[:MAX_WORD_CHARS]
    if not word.strip():
        return ""
    parts = []
    for tokenizer in (ctx.loaded.tokenizer, ctx.second_tokenizer):
        records = token_records(tokenizer, tokenizer.encode(" " + word.strip()))
        parts.append(token_chips_html(records, texts, title=tokenizer.name))
    return "".join(parts)
