"""The CLI's `lens` and `attention` commands: inside one step, after N greedy steps, as JSON.

`python -m visualizer lens [--model SPEC] --messages F [--steps N] [--top K] --json` and
`python -m visualizer attention [--model SPEC] --messages F [--steps N] [--layer L] --json` take N
greedy steps (N = 0: nothing generated yet, the position predicts the first token), then inspect
the position that predicts the next token (`engine/inspection.py` has the payload shapes).
`cli.py` registers the commands (`add_commands`) and runs them (`run`) with its own model flags,
loader and conversation reader, so bad input ends the same way: exit status 2 and one line.
What is left out: the sampler's stage view (the web app's, from the kept logits).
"""

from .engine.engine import Engine
from .engine.errors import refuse
from .engine.inspection import attention_payload, inspect, lens_payload
from .engine.limits import MAX_NEW_TOKENS, as_int, check_top_n
from .engine.workspace import Workspace

COMMANDS = ("lens", "attention")


def add_commands(commands, add_model_flags):
    lens = commands.add_parser("lens", help="each layer's guess at the next token (logit lens)")
    attention = commands.add_parser("attention", help="what the predicting position attends to")
    for parser in (lens, attention):
        add_model_flags(parser)
        parser.add_argument("--messages", metavar="FILE|-", required=True)
        parser.add_argument("--steps", type=str, default="0", help="greedy steps first (0: the first token)")
        parser.add_argument("--json", action="store_true", help="print JSON")
    lens.add_argument("--top", type=str, default="10", help="tokens listed per layer")
    attention.add_argument("--layer", type=str, help="one layer, numbered from 0 (default: all)")


def run(args, messages, load):
    """`load(args, tokenizer_only)` -> LoadedModel; -> the command's payload."""
    steps = check_greedy_steps(args.steps)
    top = check_top_n(args.top) if args.command == "lens" else 1
    layer = as_int(args.layer, "layer") if getattr(args, "layer", None) is not None else None
    loaded = load(args, tokenizer_only=False)
    workspace = Workspace(loaded, Engine.create(loaded), messages=messages)
    workspace.configure(max_new_tokens=max(steps, 1))
    decoder = workspace.decoder()
    for _ in decoder.run(steps):
        pass
    if args.command == "lens":
        return lens_payload(loaded.name, loaded.tokenizer, inspect(decoder, top=top, attention=False))
    return attention_payload(loaded.name, loaded.tokenizer, inspect(decoder, lens=False), layer=layer)


def check_greedy_steps(value):
    steps = as_int(value, "steps")
    if not 0 <= steps <= MAX_NEW_TOKENS:
        raise refuse("out_of_range", name="steps", low=0, high=MAX_NEW_TOKENS, value=steps)
    return steps


def human(payload):
    """The payload as a few readable lines (without --json)."""
    head = f"{payload['model']} · position {payload['position']} ({payload['generated']} generated)"
    if "chosen" in payload:
        lines = [f"{head} · following {payload['chosen']['text']!r}, top from layer {payload['first_top_layer']}"]
        for layer in payload["layers"]:
            guesses = "  ".join(f"{entry['text']!r} {entry['prob']:.3f}" for entry in layer["top"][:5])
            lines.append(f"{layer['layer']:3d}  p={layer['chosen_prob']:.3f} rank {layer['chosen_rank']:<6d} {guesses}")
        return "\n".join(lines)
    tokens = payload["tokens"]
    lines = [head]
    for layer in payload["layers"]:
        strongest = sorted(range(len(tokens)), key=lambda i: -layer["weights"][i])[:5]
        lines.append(f"{layer['layer']:3d}  " + "  ".join(
            f"#{i} {tokens[i]['text']!r} {layer['weights'][i]:.2f}" for i in strongest))
    return "\n".join(lines)
