"""Token records: what each id stands for, where it sits in the text, and how to show it.

`token_records(tokenizer, ids)` returns one `TokenRecord` per id, computed from the tokens'
raw bytes, so a token holding only part of a UTF-8 character shows its bytes (e.g. `⟨F0⟩⟨9F⟩`)
instead of mojibake, and its character span still points into the decoded text.
`stable_text` decodes a byte run without ever showing half a character.
What is left out: HTML (see `views.py`); the rendering of conversations (see `template.py`).
"""

import unicodedata
from dataclasses import asdict, dataclass

# Whitespace made visible for display; the raw text keeps the real characters.
_VISIBLE_WHITESPACE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_INVISIBLE = {"Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp"}  # Unicode categories drawn as nothing on their own


@dataclass(frozen=True)
class TokenRecord:
    id: int
    text: str  # decoded text of this token alone ("" when it is only part of a character)
    display: str  # text with whitespace made visible, or the partial bytes as ⟨hex⟩
    special: bool
    start: int  # character span [start, end) in the decoded text of the whole run
    end: int
    partial: bool  # True when the token's bytes do not form whole characters on their own

    def as_dict(self):
        return asdict(self)


def token_records(tokenizer, ids):
    """ids: list[int] -> list[TokenRecord] spanning `tokenizer.decode(ids)` exactly."""
    pieces = [tokenizer.token_bytes(token_id) for token_id in ids]
    char_at_byte = _char_offsets(b"".join(pieces))
    records, offset = [], 0
    for token_id, piece in zip(ids, pieces):
        start, end = char_at_byte[offset], char_at_byte[offset + len(piece)]
        offset += len(piece)
        text, partial = _whole_text(piece)
        records.append(
            TokenRecord(
                id=int(token_id),
                text=text,
                display=visible_whitespace(piece_text(piece)),
                special=tokenizer.is_special(token_id),
                start=start,
                end=end,
                partial=partial,
            )
        )
    return records


def stable_text(data):
    """bytes -> (text of all whole characters, number of trailing bytes held back)."""
    for held in range(0, min(4, len(data)) + 1):
        try:
            return data[: len(data) - held].decode("utf-8"), held
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), 0


def visible_whitespace(text):
    """Spaces, newlines and tabs as ␣ ↵ ⇥; a text of invisible characters alone (a zero-width space, a
    lone combining mark, a no-break space) as their code points, ⟨U+200B⟩ (its chip was empty)."""
    shown = "".join(_VISIBLE_WHITESPACE.get(char, char) for char in text)
    if shown and all(unicodedata.category(char) in _INVISIBLE for char in shown):
        return "".join(f"⟨U+{ord(char):04X}⟩" for char in shown)
    return shown


def _whole_text(piece):
    try:
        return piece.decode("utf-8"), False
    except UnicodeDecodeError:
        return "", True


def piece_text(piece):
    """bytes -> text, with bytes that do not form whole characters shown as ⟨F0⟩⟨9F⟩."""
    parts, rest = [], piece
    while rest:
        try:
            parts.append(rest.decode("utf-8"))
            break
        except UnicodeDecodeError as error:
            parts.append(rest[: error.start].decode("utf-8"))
            parts.extend(f"⟨{byte:02X}⟩" for byte in rest[error.start : error.end])
            rest = rest[error.end :]
    return "".join(parts)


def _char_offsets(data):
    """Byte offset -> index of the character holding that byte, for offsets 0..len(data).

    A character split over two tokens belongs to the token that completes it: the first
    token's span ends where that character starts."""
    offsets, chars = [], 0
    for byte in data:
        # Continuation bytes (10xxxxxx) belong to the character already counted.
        if byte & 0xC0 != 0x80:
            chars += 1
        offsets.append(max(chars - 1, 0))
    return offsets + [chars]
