"""JSON-ready payloads shared by the CLI and the web API, so both print the same shapes.

`tokens_payload` -> {"model", "text", "count", "tokens": [{"id", "text", "special"}]}
`step_payload`   -> {"id", "text", "prob", "top": [...], "top_raw": [...], "ms"} (+ extras)
`decode_payload` -> {"model", "prompt_tokens", "steps", "ids", "text", "stop"}
What is left out: HTML and figures (see `views.py`, `charts.py`).
"""

from .conversation import parse_conversation
from .decoder import Decoder
from .sampling import SamplingSettings
from .template import render_conversation
from .tokens import token_records


def prompt_text(loaded, messages, add_generation_prompt=True, **options):
    """A conversation (list or JSON text) rendered with the chat template."""
    messages = parse_conversation(messages)
    return render_conversation(loaded.tokenizer, messages, add_generation_prompt, **options).text


def tokens_payload(loaded, messages=None, text=None, add_generation_prompt=True, **options):
    """Tokens of a conversation (rendered first) or of a text taken as is."""
    if messages is not None:
        text = prompt_text(loaded, messages, add_generation_prompt, **options)
    records = token_records(loaded.tokenizer, loaded.tokenizer.encode(text))
    return {
        "model": loaded.name,
        "text": text,
        "count": len(records),
        "tokens": [{"id": r.id, "text": r.text or r.display, "special": r.special} for r in records],
    }


def candidate_payload(candidate, raw=False):
    return {"id": candidate.id, "text": candidate.text, "prob": candidate.raw_prob if raw else candidate.prob}


def step_payload(record):
    """A StepRecord as the CLI contract's step object, plus fields the web API adds."""
    return {
        "id": record.id,
        "text": record.text,
        "prob": record.prob,
        "top": [candidate_payload(c) for c in record.top],
        "top_raw": [candidate_payload(c, raw=True) for c in record.top_raw],
        "ms": record.ms,
        "raw_prob": record.raw_prob,
        "rank": record.rank,
        "forced": record.forced,
        "entropy": record.entropy,
        "cache_before": record.cache_before,
        "cache_after": record.cache_after,
        "stop": record.stop,
        "batch_rows": record.batch_rows,
    }


def decoder_payload(decoder, records):
    """The whole state of a decoder after some steps, in the CLI's decode shape."""
    tokenizer = decoder.loaded.tokenizer
    return {
        "model": decoder.loaded.name,
        "prompt_tokens": len(decoder.prompt_ids),
        "steps": [step_payload(record) for record in records],
        "ids": list(decoder.branch.generated),
        "text": tokenizer.decode(decoder.branch.generated),
        "stop": decoder.stop,
    }


def decode_payload(loaded, messages, settings, max_new_tokens, top_n):
    """settings: dict of temperature/top_k/top_p/seed (untrusted) -> the CLI's decode payload."""
    sampling = SamplingSettings.from_user(loaded.vocab_size, **settings)
    text = prompt_text(loaded, messages)
    decoder = Decoder(loaded, loaded.tokenizer.encode(text), sampling, max_new_tokens, top_n)
    records = list(decoder.run())
    return decoder_payload(decoder, records)
