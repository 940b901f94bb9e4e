"""JSON-ready payloads shared by the CLI and the web API, so both print the same shapes.

`tokens_payload` -> {"model", "text", "count", "tokens": [{"id", "text", "special"}]}
`step_payload`   -> {"id", "text", "prob", "top": [...], "top_raw": [...], "ms"} (+ extras)
`decoder_payload` -> {"model", "prompt_tokens", "steps", "ids", "text", "stop"}
All are pure functions of records and decode states.
What is left out: HTML and figures (the UI's `views.py`, `charts.py`).
"""

from .tokens import token_records


def tokens_payload(model_name, tokenizer, text):
    records = token_records(tokenizer, tokenizer.encode(text))
    return {
        "model": model_name,
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
        "kept": record.kept,
        "cache_before": record.cache_before,
        "cache_after": record.cache_after,
        "stop": record.stop,
        "batch_rows": record.batch_rows,
    }


def decoder_payload(model_name, decoder, records):
    """The whole state of a decoder after some steps, in the CLI's decode shape."""
    tokenizer = decoder.branch.tokenizer
    return {
        "model": model_name,
        "prompt_tokens": len(decoder.prompt_ids),
        "steps": [step_payload(record) for record in records],
        "ids": list(decoder.generated),
        "text": tokenizer.decode(decoder.generated),
        "stop": decoder.stop,
    }
