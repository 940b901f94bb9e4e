"""LLM Internals Visualizer: `python app.py [--model SPEC] [--device ...] [--host ...] [--port ...] [--share] [--lang en|es]`.

Thin entry point: parse flags (each also readable from an LLM_VIZ_* environment variable, as a
Hugging Face Space sets them), load the model once, build the UI from `ui/` and launch.
`create_app(...)` returns the configured gr.Blocks for tests and for `gradio app.py` reloads.
"""

import os

# Before torch loads its OpenMP runtime (libgomp): an idle worker spins ~20 us for more work, not
# ~5 ms, so a core goes back to Gradio and the browser right after a step (engine/cpu_threads.py).
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import argparse  # noqa: E402
import sys  # noqa: E402

from visualizer.engine.models import (CACHE_ENV, DEFAULT_CACHE_DIR, DEFAULT_SPEC, DEVICES, DTYPES,  # noqa: E402
                                      ModelLoadError, load_model)
from visualizer.serving.settings import ServerSettings  # noqa: E402
from ui.texts import LANGUAGES  # noqa: E402


def parse_args(argv=None, environ=os.environ):
    env = lambda name, default=None: environ.get(f"LLM_VIZ_{name}") or default  # noqa: E731
    parser = argparse.ArgumentParser(description="LLM Internals Visualizer")
    parser.add_argument("--model", default=env("MODEL", DEFAULT_SPEC), help="smollm2, a hub id or a local folder")
    parser.add_argument("--tokenizer-only", action="store_true", default=env("TOKENIZER_ONLY") == "1")
    parser.add_argument("--device", default=env("DEVICE", "auto"), choices=DEVICES)
    parser.add_argument("--dtype", default=env("DTYPE", "auto"), choices=DTYPES)
    parser.add_argument("--host", default=env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("PORT", environ.get("GRADIO_SERVER_PORT", 7860))))
    parser.add_argument("--share", action="store_true")
    parser.add_argument("--lang", choices=LANGUAGES, default=env("LANG"), help="force one UI language")
    parser.add_argument("--cache-dir", default=environ.get(CACHE_ENV) or str(DEFAULT_CACHE_DIR))
    parser.add_argument("--allow-models", default=env("ALLOW_MODELS", ""),
                        help="hosted mode: comma-separated specs the server may be started with")
    return parser.parse_args(argv)


def create_app(args, settings=None):
    """Load the model, start the server side (engine, scheduler, sessions), build the UI; -> (demo, ctx)."""
    from ui.app_context import AppContext
    from ui.layout import build_demo
    from ui.room_address import JoinAddress
    from visualizer.engine.qwen_offline import load_qwen_offline
    from visualizer.serving.rooms import RoomStore, with_instructor_key
    from visualizer.serving.server import Server

    settings, made_key = with_instructor_key(settings or ServerSettings.from_env())
    allowed = tuple(spec.strip() for spec in args.allow_models.split(",") if spec.strip()) or settings.allow_models
    if allowed and args.model not in allowed:
        raise ModelLoadError(f"model {args.model!r} is not in the allow-list ({', '.join(allowed)})")
    loaded = load_model(args.model, args.device, args.dtype, args.tokenizer_only, args.cache_dir,
                        report=lambda message: print(f"[load] {message}", file=sys.stderr, flush=True))
    if made_key:
        print(f"[rooms] instructor key: {settings.instructor_key} (set LLM_VIZ_INSTRUCTOR_KEY to keep one across "
              "restarts)", file=sys.stderr, flush=True)
    server = Server(loaded, settings)
    demo = None
    ctx = AppContext(server, load_qwen_offline(), args.lang, args.cache_dir,
                     rooms=RoomStore.beside_cache(server, args.cache_dir),
                     join_address=JoinAddress(args.host, share_url=lambda: getattr(demo, "share_url", None)))
    demo = build_demo(ctx)
    return demo, ctx


def main(argv=None):
    from ui.layout import launch_options, queue_options
    from visualizer.engine.cpu_threads import release_pool
    from visualizer.serving.memory import defer_full_collections, freeze_startup_objects

    args = parse_args(argv)
    try:
        demo, ctx = create_app(args)
    except (ModelLoadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    freeze_startup_objects()
    defer_full_collections()
    release_pool()  # forwards run on the model thread: this thread's OpenMP pool would slow them (cpu_threads.py)
    demo.queue(**queue_options(ctx)).launch(server_name=args.host, server_port=args.port, share=args.share,
                                            **launch_options(ctx))
    return 0


if __name__ == "__main__":
    sys.exit(main())
