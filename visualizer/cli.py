"""Headless CLI: `python -m visualizer tokens|decode ... --json` (a contract for scripts and tests).

`tokens` renders a conversation (or takes text as is) and lists its tokens; `decode` steps the
engine and prints every step's chosen token with the top candidates. Bad input ends with exit
status 2 and one line on stderr, never a traceback.
What is left out: interactive stepping (that is the web app's job).
"""

import argparse
import json
import sys
from pathlib import Path

from .engine.conversation import parse_conversation
from .engine.limits import DEFAULT_NEW_TOKENS, InputError, check_max_new_tokens, check_temperature, check_top_n, check_top_p
from .engine.models import DEFAULT_SPEC, DEVICES, DTYPES, ModelLoadError, load_model
from .engine.payloads import decode_payload, tokens_payload

EXIT_BAD_INPUT = 2


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(message)


def build_parser():
    parser = _OneLineParser(prog="python -m visualizer", description="LLM internals, headless.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    tokens = commands.add_parser("tokens", help="conversation or text -> tokens")
    _add_model_flags(tokens)
    tokens.add_argument("--tokenizer-only", action="store_true", help="load no weights")
    source = tokens.add_mutually_exclusive_group(required=True)
    source.add_argument("--messages", metavar="FILE|-", help="OpenAI-format JSON list of messages")
    source.add_argument("--text", help="plain text, tokenized as is")
    tokens.add_argument("--no-generation-prompt", action="store_true")
    tokens.add_argument("--json", action="store_true", help="print JSON")

    decode = commands.add_parser("decode", help="step the model on a conversation")
    _add_model_flags(decode)
    decode.add_argument("--messages", metavar="FILE|-", required=True)
    decode.add_argument("--steps", type=int, default=DEFAULT_NEW_TOKENS, help="max new tokens")
    decode.add_argument("--greedy", action="store_true", help="argmax (the default without --temperature)")
    decode.add_argument("--temperature", type=float)
    decode.add_argument("--top-k", type=int)
    decode.add_argument("--top-p", type=float)
    decode.add_argument("--seed", type=int, default=0)
    decode.add_argument("--top", type=int, default=10, help="candidates listed per step")
    decode.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        payload = _run(args)
    except (InputError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(_human(payload))
    return 0


def _add_model_flags(parser):
    parser.add_argument("--model", default=DEFAULT_SPEC, help="smollm2, a hub id or a local folder")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--cache-dir", help="where converted models are kept")


def _run(args):
    if args.command == "tokens":
        messages = _read_messages(args.messages) if args.messages is not None else None
        loaded = _load(args, tokenizer_only=args.tokenizer_only)
        return tokens_payload(loaded, messages, args.text, add_generation_prompt=not args.no_generation_prompt)
    messages = _read_messages(args.messages)
    # Check what needs no model first, so bad flags fail fast.
    if args.greedy and args.temperature is not None:
        raise InputError("--greedy and --temperature exclude each other")
    check_temperature(args.temperature)
    check_top_p(args.top_p)
    check_top_n(args.top)
    check_max_new_tokens(args.steps)
    loaded = _load(args, tokenizer_only=False)
    settings = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    return decode_payload(loaded, messages, settings, max_new_tokens=args.steps, top_n=args.top)


def _read_messages(path):
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    return parse_conversation(data)


def _load(args, tokenizer_only):
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    report = (lambda message: print(message, file=sys.stderr)) if sys.stderr.isatty() else (lambda message: None)
    return load_model(args.model, args.device, args.dtype, tokenizer_only, args.cache_dir, report)


def _human(payload):
    if "steps" not in payload:
        chips = " ".join(f"[{token['id']}:{token['text']!r}]" for token in payload["tokens"])
        return f"{payload['text']}\n\n{payload['count']} tokens: {chips}"
    lines = [f"{payload['prompt_tokens']} prompt tokens, {payload['model']}"]
    for number, step in enumerate(payload["steps"], start=1):
        lines.append(f"{number:4d}  {step['id']:7d}  p={step['prob']:.3f}  {step['text']!r}")
    lines.append(f"stop: {payload['stop']}\n{payload['text']}")
    return "\n".join(lines)
