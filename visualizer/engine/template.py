"""Step 1 of the pipeline: conversation -> plain text, with its special markers located.

`render_conversation` applies the tokenizer's chat template and returns the text split into
plain and marker segments, the markers present, and any marker a *message* contained (the
chat-template injection: the model will read it as a real marker, not as text).
What is left out: tokenizing (see `tokens.py`) and any HTML (see `views.py`).
"""

import re
from dataclasses import dataclass

# Markers worth explaining even when a tokenizer does not make them special (SmolLM2's <think>).
EXPLAINED_MARKERS = ("<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|endoftext|>")


@dataclass(frozen=True)
class Segment:
    text: str
    marker: bool


@dataclass(frozen=True)
class Injection:
    message: int  # 1-based index of the message that contains the marker text
    role: str
    marker: str


@dataclass(frozen=True)
class RenderedText:
    text: str
    segments: tuple  # of Segment, concatenating to `text`
    markers: tuple  # distinct markers in order of first appearance
    injections: tuple  # of Injection


def render_conversation(tokenizer, messages, add_generation_prompt=True, **options):
    text = tokenizer.render(messages, add_generation_prompt=add_generation_prompt, **options)
    marker_texts = _marker_texts(tokenizer)
    segments = split_markers(text, marker_texts)
    markers = tuple(dict.fromkeys(segment.text for segment in segments if segment.marker))
    # Only real special tokens make an injection: other marker-like text stays plain text.
    injections = find_injections(messages, tokenizer.special_texts())
    return RenderedText(text, tuple(segments), markers, injections)


def split_markers(text, marker_texts):
    """str, markers -> list[Segment] whose texts concatenate to `text`."""
    if not marker_texts:
        return [Segment(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(marker) for marker in marker_texts))
    segments, position = [], 0
    for match in pattern.finditer(text):
        if match.start() > position:
            segments.append(Segment(text[position : match.start()], False))
        segments.append(Segment(match.group(), True))
        position = match.end()
    if position < len(text):
        segments.append(Segment(text[position:], False))
    return segments


def find_injections(messages, marker_texts):
    """Messages whose content holds a marker's text, which the tokenizer will make special."""
    found = []
    for index, message in enumerate(messages, start=1):
        for marker in marker_texts:
            if marker in message["content"]:
                found.append(Injection(index, message["role"], marker))
    return tuple(found)


def _marker_texts(tokenizer):
    # Longest first so that "<|im_start|>" wins over any shorter marker it contains.
    texts = set(tokenizer.special_texts()) | set(EXPLAINED_MARKERS)
    return sorted(texts, key=len, reverse=True)
