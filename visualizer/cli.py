"""Headless CLI: `python -m visualizer tokens|decode|lens|attention ... --json` (a contract for scripts and tests).

`tokens` renders a conversation (or takes text as is) and lists its tokens; `decode` steps the
engine and prints every step's chosen token with the top candidates; `lens` and `attention` look
inside one step (`cli_inside.py`). The sampling flags come from
the knob table (`engine/knobs.py`). Bad input ends with exit status 2 and one line on stderr,
never a traceback. The CLI is a thin adapter over `engine.workspace.Workspace`, like the web app.
What is left out: interactive stepping (that is the web app's job).
"""

import argparse
import json
import sys
from pathlib import Path

from . import cli_inside
from .engine.conversation import parse_conversation
from .engine.engine import Engine
from .engine.knobs import KNOBS
from .engine.limits import DEFAULT_NEW_TOKENS, InputError, check_max_new_tokens, check_seed, check_top_n
from .engine.models import DEFAULT_SPEC, DEVICES, DTYPES, ModelLoadError, load_model
from .engine.payloads import decoder_payload, tokens_payload
from .engine.workspace import TemplateOptions, Workspace

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
    decode.add_argument("--steps", type=str, default=str(DEFAULT_NEW_TOKENS), help="max new tokens")
    decode.add_argument("--greedy", action="store_true", help="argmax (the default without --temperature)")
    for knob in KNOBS:
        decode.add_argument(knob.flag, dest=knob.name, type=str, help=f"{knob.stage}; {knob.off:g} = off")
    decode.add_argument("--seed", type=str, default="0")
    decode.add_argument("--top", type=str, default="10", help="candidates listed per step")
    decode.add_argument("--json", action="store_true", help="print JSON")
    cli_inside.add_commands(commands, _add_model_flags)
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
    messages = _read_messages(args.messages) if args.messages is not None else None
    if args.command in cli_inside.COMMANDS:
        return cli_inside.run(args, messages, _load)
    if args.command == "tokens":
        loaded = _load(args, tokenizer_only=args.tokenizer_only)
        workspace = Workspace(loaded, messages=messages,
                              template=TemplateOptions(add_generation_prompt=not args.no_generation_prompt))
        text = workspace.prompt().text if messages is not None else args.text
        return tokens_payload(loaded.name, loaded.tokenizer, text)
    if args.greedy and args.temperature is not None:
        raise InputError("--greedy and --temperature exclude each other")
    knobs = {knob.name: getattr(args, knob.name) for knob in KNOBS}
    # Check what needs no model first, so bad flags fail fast (top-k's upper bound needs the vocabulary).
    top_n, steps, _ = check_top_n(args.top), check_max_new_tokens(args.steps), check_seed(args.seed)
    for knob in KNOBS:
        if knob.high is not None:
            knob.check(knobs[knob.name])
    loaded = _load(args, tokenizer_only=False)
    workspace = Workspace(loaded, Engine.create(loaded), messages=messages)
    workspace.configure(workspace.sampling_from_user(seed=args.seed, **knobs), top_n, steps)
    decoder = workspace.decoder()
    records = list(decoder.run())
    return decoder_payload(loaded.name, decoder, records)


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
    if "layers" in payload:
        return cli_inside.human(payload)
    if "steps" not in payload:
        chips = " ".join(f"[{token['id']}:{token['text']!r}]" for token in payload["tokens"])
        return f"{payload['text']}\n\n{payload['count']} tokens: {chips}"
    lines = [f"{payload['prompt_tokens']} prompt tokens, {payload['model']}"]
    for number, step in enumerate(payload["steps"], start=1):
        lines.append(f"{number:4d}  {step['id']:7d}  p={step['prob']:.3f}  {step['text']!r}")
    lines.append(f"stop: {payload['stop']}\n{payload['text']}")
    return "\n".join(lines)
