"""Conversations in OpenAI chat format: parsing and validation.

A conversation is a list of `{"role": "system"|"user"|"assistant", "content": str}`; a content given as
OpenAI's list of parts (`[{"type": "text", "text": ...}, ...]`) becomes its parts' texts joined by newlines,
as vLLM's OpenAI server joins them before the chat template.
`parse_conversation` accepts JSON text or an already-parsed list and returns a fresh, clean
list, or raises `InputError` with one line that says what is wrong and where.
What is left out: tool calls, images and other parts than text (refused, by their type).
"""

import json
import unicodedata

from .errors import refuse
from .limits import MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_TOTAL_CHARS

ROLES = ("system", "user", "assistant")
# JSON text longer than this cannot hold a valid conversation (it is refused before parsing).
MAX_JSON_CHARS = 4 * MAX_TOTAL_CHARS + 64 * 200
# Text may hold newlines and tabs; other control characters are binary junk, not chat.
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}


def parse_conversation(value):
    """JSON text or list of dicts -> validated list of {"role", "content"} dicts."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise refuse("not_utf8") from None
    if isinstance(value, str):
        if not value.strip():
            raise refuse("empty_conversation")
        if len(value) > MAX_JSON_CHARS:
            raise refuse("conversation_too_long", count=len(value), limit=MAX_JSON_CHARS)
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise refuse("invalid_json", line=error.lineno, column=error.colno, reason=error.msg) from None
        except RecursionError:
            raise refuse("json_too_deep") from None
    if not isinstance(value, list):
        raise refuse("not_a_list")
    if not value:
        raise refuse("empty_conversation")
    if len(value) > MAX_MESSAGES:
        raise refuse("too_many_messages", count=len(value), limit=MAX_MESSAGES)
    messages = [_check_message(index, message) for index, message in enumerate(value, start=1)]
    total = sum(len(message["content"]) for message in messages)
    if total > MAX_TOTAL_CHARS:
        raise refuse("conversation_too_long", count=total, limit=MAX_TOTAL_CHARS)
    return messages


def conversation_json(messages):
    """The canonical, pretty JSON text of a conversation (what the editor shows)."""
    return json.dumps(messages, ensure_ascii=False, indent=2)


def _check_message(index, message):
    if not isinstance(message, dict):
        raise refuse("message_not_object", index=index)
    role = message.get("role")
    if role not in ROLES:
        raise refuse("unknown_role", index=index, role=str(role)[:30])
    if "content" not in message or message["content"] is None:
        raise refuse("no_content", index=index, role=role)
    content = message["content"]
    if isinstance(content, list):
        content = _text_of_parts(index, role, content)
    if not isinstance(content, str):
        raise refuse("content_not_text", index=index, role=role)
    if len(content) > MAX_MESSAGE_CHARS:
        raise refuse("message_too_long", index=index, role=role, count=len(content), limit=MAX_MESSAGE_CHARS)
    _check_text(index, role, content)
    return {"role": role, "content": content}


def _text_of_parts(index, role, parts):
    """OpenAI's content parts -> their texts joined by newlines; a part that is not text is refused by its type."""
    texts = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise refuse("content_part_not_text", index=index, role=role, kind=str(kind)[:30])
        texts.append(part["text"])
        if sum(map(len, texts)) > MAX_MESSAGE_CHARS:
            break  # refused as too long next, without joining the rest
    return "\n".join(texts)


def _check_text(index, role, content):
    for char in content:
        category = unicodedata.category(char)
        if category == "Cs":
            raise refuse("message_surrogate", index=index, role=role)
        if category == "Cc" and char not in _ALLOWED_CONTROLS:
            raise refuse("message_control", index=index, role=role, char=repr(char))
