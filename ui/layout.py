"""The whole page: API endpoints, header, the shared components, the tabs, and launch / queue options.

`build_demo(ctx)` returns the gr.Blocks. The tabs come from `TAB_BUILDERS`, functions
`build(ctx, shared)` called in order inside gr.Tabs: each lays out its tab and wires its events,
reading what it needs from `shared` (a tab that others read from, like the Decoder's controls,
goes first). Adding a tab or panel is adding a builder here. The page load issues this page's
session token and localizes the header (title, model badge, presenter switch); closing the page
gives its KV rows back.
`launch_options(ctx)` / `queue_options(ctx)` are what `python app.py` passes to `launch` / `queue`,
so tests launch exactly the same app.
What is left out: argument parsing and model loading (app.py), each tab's contents (tab modules).
"""

import secrets
from pathlib import Path

import gradio as gr

from . import api, api_inside, api_room, gradio_skips, http, inside_tab, paint_order, room_tab, stream_diff, \
    tab_compare, tab_conversation, tab_decoder, tab_text, tab_tokens
from .client_js import HEADER_JS, PAGE_JS
from .shared import CONTROL_CONCURRENCY, VIEWS_CONCURRENCY, Shared
from .stream_keeper import STREAM_KEEPER_HEAD
from .texts import TEXTS, texts_for
from .views import header_html

STATIC = Path(__file__).resolve().parent.parent / "static"
SECRET_FILE_NAME = "browser-state-secret"
# The Inside and Room tabs read the Decoder tab's controls: they come after it.
TAB_BUILDERS = (tab_conversation.build, tab_text.build, tab_tokens.build, tab_decoder.build, tab_compare.build,
                inside_tab.build_inside_tab, room_tab.build_room_tab)
API_REGISTRARS = (api.register, api_inside.register, api_room.register)
SPARE_THREADS = 8  # /stats, the page load and other small events besides the groups


def build_demo(ctx, tab_builders=TAB_BUILDERS):
    language = ctx.forced_language or "en"
    texts = texts_for(language)
    i18n = translations(ctx.forced_language)
    secret = browser_secret(ctx.cache_dir)
    stream_diff.install()  # streamed answers with shrinking inner lists arrive intact
    gradio_skips.install()  # outputs an answer leaves out cost nothing (a streamed token leaves out most)
    paint_order.install()  # a page's views reach it in the order they were made
    # No usage reports to Gradio: the instructor may be offline, and attendees did not opt in.
    with gr.Blocks(title=texts["title"], analytics_enabled=False, fill_width=True) as demo:
        # API endpoints first: events named after their functions would otherwise take their names.
        for register in API_REGISTRARS:
            register(ctx)
        header = gr.HTML(header_html(ctx.loaded, texts, language), elem_id="app-header", js_on_load=HEADER_JS)
        # Outside the tabs: a BrowserState inside a tab not shown yet reads nothing from the browser.
        shared = Shared(
            demo=demo, i18n=i18n,
            token=gr.Textbox(visible=False),
            conversation=gr.JSON(None, visible=False),
            add_generation_prompt=gr.Checkbox(True, label=i18n("generation_prompt"), render=False,
                                              elem_id="generation-prompt"),
            thinking=gr.Checkbox(True, label=i18n("thinking"), render=False, elem_id="thinking",
                                 visible="enable_thinking" in ctx.loaded.tokenizer.template_options),
            saved_conversation=gr.BrowserState({}, storage_key="llm-viz-conversation", secret=secret),
            saved_decoding=gr.BrowserState({}, storage_key="llm-viz-decoding", secret=secret),
            saved_pair=gr.BrowserState({}, storage_key="llm-viz-compare-pair", secret=secret),
            model_group=dict(concurrency_id="model", concurrency_limit=ctx.settings.concurrency_limit,
                             api_visibility="private"),
            run_group=dict(concurrency_id="runs", concurrency_limit=ctx.settings.concurrency_limit,
                           api_visibility="private"),
            views_group=dict(concurrency_id="views", concurrency_limit=VIEWS_CONCURRENCY, api_visibility="private"),
            control_group=dict(concurrency_id="control", concurrency_limit=CONTROL_CONCURRENCY,
                               api_visibility="private"),
        )
        with gr.Tabs(elem_id="tabs"):
            for build in tab_builders:
                build(ctx, shared)

        def page_load(values: dict, request: gr.Request):
            """A new page: its session token, and the header in its language."""
            return {shared.token: ctx.new_page_token(),
                    header: header_html(ctx.loaded, ctx.texts(request), ctx.language(request), ready=True)}
        gr.on([demo.load], page_load, inputs={shared.token}, outputs=[shared.token, header],
              **shared.control_group)

        def page_closed(request: gr.Request):
            """A tab closed: a run it started stops before its next token (the Stop flag) and the
            session's KV rows go back once nothing runs; its tokens stay until it expires (an unload
            carries no page token, so it may come from anyone who knows the hash: it frees memory and
            stops a run, never loses work)."""
            session = ctx.store.get(getattr(request, "session_hash", None))
            if session is not None:
                session.data["stop"] = True
                session.try_evict(or_when_idle=True)
        demo.unload(page_closed)
    return demo


def translations(language=None):
    """gr.I18n for labels: by the browser's language, or one language for every browser."""
    if language:
        return gr.I18n(**{code: TEXTS[language] for code in TEXTS})
    return gr.I18n(**TEXTS)


def browser_secret(cache_dir):
    """A secret kept on disk, so the browser's saved state still opens after a server restart (it is
    not a secret from anyone: Gradio publishes it in /config; it only keeps persistence working)."""
    path = Path(cache_dir or ".") / SECRET_FILE_NAME
    try:
        return path.read_text().strip()
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(24)
        path.write_text(secret)
        return secret


def launch_options(ctx):
    # Local fonts only: the instructor's laptop may have no internet.
    theme = gr.themes.Soft(
        primary_hue="indigo", secondary_hue="amber",
        text_size=gr.themes.Size(xxs="16px", xs="16px", sm="16px", md="18px", lg="20px", xl="24px", xxl="30px"),
        font=[gr.themes.Font(name) for name in ("system-ui", "Segoe UI", "Roboto", "sans-serif")],
        font_mono=[gr.themes.Font(name) for name in ("ui-monospace", "Menlo", "monospace")])
    return dict(
        theme=theme,
        css_paths=[STATIC / "style.css", STATIC / "room.css"],
        js=PAGE_JS,
        head=STREAM_KEEPER_HEAD,  # before Gradio's client: a click while the stream closes is still answered
        i18n=translations(ctx.forced_language),
        app_kwargs=http.app_kwargs(ctx.settings, ctx.cancel_runs),
        # Every event in flight holds a worker thread: room for every group, and a few for the rest.
        max_threads=2 * ctx.settings.concurrency_limit + VIEWS_CONCURRENCY + CONTROL_CONCURRENCY + SPARE_THREADS,
    )


def queue_options(ctx):
    # api_open=False: the direct /run/ route would skip the queue and every concurrency limit.
    # max_size set explicitly: ZeroGPU would otherwise cap the queue at 1.
    return dict(max_size=ctx.settings.queue_size, default_concurrency_limit=ctx.settings.concurrency_limit,
                api_open=False)
