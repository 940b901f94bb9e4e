"""Conversations in OpenAI chat format: parsing and validation.

A conversation is a list of `{"role": "system"|"user"|"assistant", "content": str}`.
`parse_conversation` accepts JSON text or an already-parsed list and returns a fresh, clean
list, or raises `InputError` with one line that says what is wrong and where.
What is left out: tool calls, images and other content parts (content must be a string).
"""

import json
import unicodedata

from .limits import MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_TOTAL_CHARS, InputError

ROLES = ("system", "user", "assistant")
# Text may hold newlines and tabs; other control characters are binary junk, not chat.
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}


def parse_conversation(value):
    """JSON text or list of dicts -> validated list of {"role", "content"} dicts."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the conversation is not UTF-8 text") from None
    if isinstance(value, str):
        if not value.strip():
            raise InputError("the conversation is empty: add at least one message")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise InputError(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    if not isinstance(value, list):
        raise InputError("the conversation must be a JSON list of messages")
    if not value:
        raise InputError("the conversation is empty: add at least one message")
    if len(value) > MAX_MESSAGES:
        raise InputError(f"too many messages: {len(value)} (at most {MAX_MESSAGES})")
    messages = [_check_message(index, message) for index, message in enumerate(value, start=1)]
    total = sum(len(message["content"]) for message in messages)
    if total > MAX_TOTAL_CHARS:
        raise InputError(f"the conversation is too long: {total} characters (at most {MAX_TOTAL_CHARS})")
    return messages


def conversation_json(messages):
    """The canonical, pretty JSON text of a conversation (what the editor shows)."""
    return json.dumps(messages, ensure_ascii=False, indent=2)


def _check_message(index, message):
    if not isinstance(message, dict):
        raise InputError(f"message {index} must be an object with a role and a content")
    role = message.get("role")
    if role not in ROLES:
        raise InputError(f"message {index}: unknown role {str(role)[:30]!r} (use system, user or assistant)")
    if "content" not in message or message["content"] is None:
        raise InputError(f"message {index} ({role}) has no content")
    content = message["content"]
    if not isinstance(content, str):
        raise InputError(f"message {index} ({role}): content must be text")
    if len(content) > MAX_MESSAGE_CHARS:
        raise InputError(
            f"message {index} ({role}) is too long: {len(content)} characters (at most {MAX_MESSAGE_CHARS})"
        )
    _check_text(index, role, content)
    return {"role": role, "content": content}


def _check_text(index, role, content):
    for char in content:
        category = unicodedata.category(char)
        if category == "Cs":
            raise InputError(f"message {index} ({role}) holds an unpaired surrogate, which is not valid text")
        if category == "Cc" and char not in _ALLOWED_CONTROLS:
            raise InputError(f"message {index} ({role}) holds a control character {char!r}: binary data is not text")
