"""The whole app: header, five tabs, restore-on-load, cleanup on close, API endpoints, launch options.

`build_demo(ctx)` returns the gr.Blocks; `launch_options(ctx)` the keyword arguments for
`demo.launch` (theme, CSS, keyboard script, translations) and `queue_options(ctx)` those for
`demo.queue`, so tests launch exactly what `python app.py` launches.
What is left out: argument parsing and model loading (app.py), handler logic (the handler modules).
"""

import secrets
from pathlib import Path

import gradio as gr

from ui.texts import EN, TEXTS
from ui.views import model_badge_html

from . import api, context, conversation_handlers, decoder_handlers
from .tabs_decoding import build_decoding_tabs, with_request
from .tabs_text import VIEWS_CONCURRENCY, VIEWS_GROUP, build_text_tabs

STATIC = Path(__file__).resolve().parent.parent / "static"
SECRET_FILE_NAME = "browser-state-secret"

KEYBOARD_JS = """
() => {
  document.addEventListener('keydown', (event) => {
    const target = event.target;
    if (target && (target.closest('input, textarea, select, [contenteditable="true"]'))) return;
    const id = {ArrowRight: '#step-btn', ArrowLeft: '#undo-btn'}[event.key];
    const button = id && document.querySelector(id);
    if (button && button.offsetParent !== null) { event.preventDefault(); button.click(); }
  });
}
"""


def translations(language=None):
    """gr.I18n for labels: by browser language, or one language for every browser."""
    if language:
        return gr.I18n(**{code: TEXTS[language] for code in TEXTS})
    return gr.I18n(**TEXTS)


def browser_secret(cache_dir):
    """A secret kept on disk, so the browser's saved state still opens after a server restart."""
    path = Path(cache_dir) / SECRET_FILE_NAME
    try:
        return path.read_text().strip()
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(24)
        path.write_text(secret)
        return secret


def build_demo(ctx, cache_dir):
    i18n = translations(ctx.language)
    # No usage reports to Gradio: the instructor may be offline, and attendees did not opt in.
    with gr.Blocks(title=EN["title"], analytics_enabled=False) as demo:
        # API endpoints first: events named after their functions (the UI's private `step`, `undo`)
        # would otherwise take these names and push the documented ones to /step_1, /undo_1.
        for name, function in api.ENDPOINTS.items():
            gr.api(function, api_name=name, concurrency_id="model", concurrency_limit=ctx.settings.concurrency_limit)
        for name, function in api.UNDOCUMENTED_ENDPOINTS.items():
            gr.api(function, api_name=name, api_visibility="undocumented", concurrency_limit=None)
        gr.HTML(_header_html(ctx))
        gr.Markdown(i18n("subtitle"), elem_classes="subtitle")
        # Outside the tabs: a BrowserState inside a tab not shown yet reads nothing from the browser,
        # so a reload on another tab would restore no tokens.
        decoder_state = gr.BrowserState({}, storage_key="llm-viz-decoding", secret=browser_secret(cache_dir))
        with gr.Tabs():
            text_tabs = build_text_tabs(demo, i18n, ctx.loaded)
            decoding = build_decoding_tabs(i18n, text_tabs, ctx.settings, decoder_state)
        saved_conversation = gr.BrowserState({}, storage_key="llm-viz-conversation", secret=browser_secret(cache_dir))
        quiet = dict(api_visibility="private", **VIEWS_GROUP)
        conversation_inputs = [text_tabs.messages, text_tabs.add_generation_prompt, text_tabs.thinking]
        for trigger in (text_tabs.messages.change, text_tabs.add_generation_prompt.change, text_tabs.thinking.change):
            trigger(conversation_handlers.save_conversation, conversation_inputs, saved_conversation, **quiet)
        demo.load(
            conversation_handlers.restore_conversation, [saved_conversation] + conversation_inputs + [text_tabs.structure],
            conversation_inputs + [text_tabs.structure], **quiet,
        ).then(
            conversation_handlers.refresh_views, text_tabs.view_inputs, text_tabs.view_outputs, **quiet,
        ).then(
            with_request(decoder_handlers.restore, 1 + len(decoding.inputs)),
            [decoding.decoder_state] + decoding.inputs, decoding.outputs,
            api_visibility="private", concurrency_id="model", concurrency_limit=ctx.settings.concurrency_limit,
        )
        demo.unload(close_session)
    return demo


def close_session(request: gr.Request):
    """Tab closed: free this session's caches at once."""
    context.current().store.drop(context.session_key(request))

SPARE_THREADS = 8  # /stats, uploads and other small events beside the two groups


def launch_options(ctx):
    return dict(
        # Local fonts only: the instructor's laptop may have no internet.
        theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="amber",
                             font=[gr.themes.Font(name) for name in ("system-ui", "Segoe UI", "Roboto", "sans-serif")],
                             font_mono=[gr.themes.Font(name) for name in ("ui-monospace", "Menlo", "monospace")]),
        css_paths=[STATIC / "style.css"],
        js=KEYBOARD_JS,
        i18n=translations(ctx.language),
        # Every event in flight holds a worker thread: room for both groups, and a few for the rest.
        max_threads=ctx.settings.concurrency_limit + VIEWS_CONCURRENCY + SPARE_THREADS,
    )


def queue_options(ctx):
    # Set explicitly: ZeroGPU would otherwise cap the queue at 1.
    return dict(max_size=ctx.settings.queue_size, default_concurrency_limit=ctx.settings.concurrency_limit)


def _header_html(ctx):
    return (
        f'<div class="app-header"><h1>🔬 {EN["title"]}</h1>{model_badge_html(ctx.loaded, EN)}</div>'
    )
