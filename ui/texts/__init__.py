"""Every word the app shows, in English and Spanish, and how a request's language is chosen.

Each area of the UI keeps its words in a module of this package (`base.py` for the page and the
text tabs, `decoding.py` for the Decoder and Compare tabs, `inside.py` for Inside the step,
`room.py` for the Room tab, `errors.py` for engine errors), as two dicts `EN` and `ES` with the same keys; `TEXTS` merges them.
The UI hands them to `gr.I18n` for labels and to the views for text they render on the server.
Engine errors carry a code and parameters (`engine/errors.py`); `error_text` renders them in the
user's language.
`language_from_header` picks a language from Accept-Language, honouring q-values.
What is left out: other languages (add a dict with the same keys to every module).
"""

from . import base, decoding, errors, inside, room

LANGUAGES = ("en", "es")
_AREAS = (base, decoding, errors, inside, room)
EN = {key: value for area in _AREAS for key, value in area.EN.items()}
ES = {key: value for area in _AREAS for key, value in area.ES.items()}
TEXTS = {"en": EN, "es": ES}
MARKER_KEYS = {
    "<|im_start|>": "marker_im_start",
    "<|im_end|>": "marker_im_end",
    "<think>": "marker_think",
    "</think>": "marker_end_think",
    "<|endoftext|>": "marker_endoftext",
}


def texts_for(language):
    return TEXTS.get(language, EN)


def language_from_header(accept_language, default="en"):
    """'fr;q=0.9, es;q=0.8, en;q=0.1' -> 'es': the most preferred language we have (ties: listed first)."""
    best, best_q = None, 0.0
    for part in (accept_language or "").split(","):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = code.strip().lower()[:2]
        if code in TEXTS and quality > best_q:
            best, best_q = code, quality
    return best or default
