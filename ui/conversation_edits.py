"""Edits of a conversation as pure functions: a list of messages in, a new list out (the input is never changed).

An edit that does not apply (an index out of range, an unknown role, a full conversation) returns
the conversation unchanged; a message's text is cut at the per-message limit here, on the server,
whatever the browser's text box let through (a crafted request can send anything).
What is left out: validation of whole conversations (`engine/conversation.py`) and components.
"""

from visualizer.engine.conversation import ROLES
from visualizer.engine.limits import MAX_MESSAGE_CHARS, MAX_MESSAGES


def add_message(messages):
    messages = list(messages or [])
    if len(messages) >= MAX_MESSAGES:
        return messages
    last_role = messages[-1]["role"] if messages else "assistant"
    return messages + [{"role": "assistant" if last_role == "user" else "user", "content": ""}]


def delete_message(messages, index):
    return [message for i, message in enumerate(messages or []) if i != index]


def move_message(messages, index, delta):
    moved = list(messages or [])
    target = index + delta
    if not (0 <= index < len(moved) and 0 <= target < len(moved)):
        return moved
    moved[index], moved[target] = moved[target], moved[index]
    return moved


def set_role(messages, index, role):
    messages = list(messages or [])
    if role not in ROLES or not 0 <= index < len(messages):
        return messages
    return [dict(m, role=role) if i == index else m for i, m in enumerate(messages)]


def set_content(messages, index, content):
    messages = list(messages or [])
    if not 0 <= index < len(messages):
        return messages
    content = content if isinstance(content, str) else ""
    return [dict(m, content=content[:MAX_MESSAGE_CHARS]) if i == index else m for i, m in enumerate(messages)]
