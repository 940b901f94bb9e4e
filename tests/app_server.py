"""One app per test process: built once, launched once on a free local port, closed at the end.

`built_app()` -> (demo, ctx) as `python app.py` builds them (model loaded from the test cache);
`launch()` -> the URL of that demo served on 127.0.0.1 with the same queue and launch options
as `python app.py`; `close()` stops it. `running_app()` is the same as a context manager.
Test modules define their own session-scoped fixtures that call these functions, so the
browser and API tests share one server and the in-process handler tests share its context.
What is left out: fixtures themselves (pytest would not see them through a plain import).
"""

import contextlib
import os
import socket
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network from tests

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("LLM_VIZ_CACHE") or REPO / ".cache" / "models")
os.environ.setdefault("LLM_VIZ_CACHE", str(CACHE_DIR))  # CLI subprocesses reuse the converted model

_LOCK = threading.Lock()
_APP = None  # (demo, ctx)
_URL = None


def built_app():
    """(demo, ctx) built once per process."""
    global _APP
    with _LOCK:
        if _APP is None:
            from app import create_app, parse_args

            _APP = create_app(parse_args(["--cache-dir", str(CACHE_DIR)], environ={}))
        return _APP


def free_port(host="127.0.0.1"):
    """A port nobody listens on right now (gradio's server_port=0 is not supported)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def launch():
    """The URL of the launched app (launched on the first call)."""
    global _URL
    demo, ctx = built_app()
    with _LOCK:
        if _URL is None:
            from ui.layout import launch_options, queue_options

            port = free_port()
            demo.queue(**queue_options(ctx)).launch(
                server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options(ctx),
            )
            _URL = f"http://127.0.0.1:{port}/"
        return _URL


def close():
    """Stop the server if it runs (idempotent); the built app stays for in-process tests."""
    global _URL
    with _LOCK:
        if _URL is not None and _APP is not None:
            _APP[0].close()
        _URL = None


@contextlib.contextmanager
def running_app():
    try:
        yield launch()
    finally:
        close()
