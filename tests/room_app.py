"""A room app for tests and the load bench: the room endpoints and the Room tab on a real server, launched.

While the main layout is rebuilt elsewhere, the room's tests build their own gr.Blocks from the
pieces `python app.py` uses: a `Server` (engine, scheduler, sessions), an `AppContext` with the
server's `RoomStore` saved under the cache dir, `api_room.register(ctx)`, and `build_room_tab`
inside gr.Tabs, launched with `ui/http.py`'s guards (the client cookie attendees are keyed by).
`RoomApp(loaded, cache_dir, settings).launch()` -> its URL; `close()` saves the rooms and stops the
server. Two RoomApps on one cache dir, one after the other, are a server restart.
What is left out: the other tabs.
"""

import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

import app_server  # noqa: E402

STATIC = app_server.REPO / "static"
INSTRUCTOR_KEY = "test-instructor-key"


def room_settings(**overrides):
    from visualizer.serving.settings import ServerSettings

    return ServerSettings(instructor_key=INSTRUCTOR_KEY, **overrides)


class RoomApp:
    def __init__(self, loaded, cache_dir, settings=None, language=None):
        from ui import api_room
        from ui.app_context import AppContext
        from ui.room_tab import build_room_tab
        from visualizer.engine.qwen_offline import load_qwen_offline
        from visualizer.serving.rooms import RoomStore
        from visualizer.serving.server import Server

        self.settings = settings or room_settings()
        self.server = Server(loaded, self.settings)
        self.rooms = RoomStore.beside_cache(self.server, Path(cache_dir))
        self.ctx = AppContext(self.server, load_qwen_offline(), language, str(cache_dir), rooms=self.rooms)
        with gr.Blocks(title="Room", analytics_enabled=False) as self.demo:
            api_room.register(self.ctx)
            with gr.Tabs(elem_id="tabs"):
                with gr.Tab("Main", id="main"):
                    gr.Markdown("The other tabs.")
                self.tab = build_room_tab(self.ctx, SimpleNamespace(demo=self.demo))
        self.url = None

    def launch(self):
        from ui.http import app_kwargs
        from ui.texts import TEXTS

        port = app_server.free_port()
        settings = self.settings
        self.demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency_limit,
                        api_open=False).launch(
            server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
            css_paths=[STATIC / "style.css", STATIC / "room.css"], app_kwargs=app_kwargs(settings),
            i18n=gr.I18n(**TEXTS),
            max_threads=settings.concurrency_limit + 16)
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    def close(self):
        if self.url is not None:
            self.demo.close()
            self.url = None
        self.rooms.shutdown()
        self.server.close()


def smollm2(cache_dir=app_server.CACHE_DIR):
    """SmolLM2-135M-Instruct as the app loads it (float32 on the CPU)."""
    from visualizer.engine.models import load_model

    return load_model("smollm2", device="cpu", cache_dir=cache_dir, report=lambda message: None)


