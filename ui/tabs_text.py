"""The first three tabs (Conversation, Plain text, Tokens): components and their wiring.

`build_text_tabs(demo, i18n, loaded)` lays the tabs out inside the current gr.Blocks and returns the
components other tabs read (the conversation state and the template toggles).
What is left out: the handlers' logic (conversation_handlers.py) and decoding tabs.
"""

from types import SimpleNamespace

import gradio as gr

from visualizer.engine.conversation import ROLES
from visualizer.engine.limits import MAX_MESSAGE_CHARS
from ui.presets import DEFAULT_PRESET, PRESETS, preset

from . import conversation_handlers as handlers

VIEWS_CONCURRENCY = 8  # text and token views in flight at once (no forward pass)
VIEWS_GROUP = dict(concurrency_id="views", concurrency_limit=VIEWS_CONCURRENCY)


def build_text_tabs(demo, i18n, loaded):
    with gr.Tab(i18n("tab_conversation"), id="conversation"):
        # States live inside a tab: components placed directly in gr.Tabs confuse its tab list.
        messages = gr.State(preset(DEFAULT_PRESET))
        structure = gr.State(0)  # bumped on structural edits: re-render the rows only then
        gr.Markdown(i18n("intro_conversation"), elem_classes="intro")
        with gr.Row():
            preset_name = gr.Dropdown(list(PRESETS), value=DEFAULT_PRESET, label=i18n("preset"), scale=3)
            load_button = gr.Button(i18n("load_preset"), scale=1, elem_id="load-preset-btn")
        with gr.Row():
            add_generation_prompt = gr.Checkbox(True, label=i18n("generation_prompt"))
            thinking = gr.Checkbox(True, label=i18n("thinking"),
                                   visible="enable_thinking" in loaded.tokenizer.template_options)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, elem_id="message-rows"):
                _message_rows(demo, messages, structure)
                add_button = gr.Button(i18n("add_message"), size="sm", elem_id="add-message-btn")
            with gr.Column(scale=2):
                json_editor = gr.Code(language="json", label=i18n("json_editor"), elem_id="conversation-json",
                                      interactive=True, lines=14, max_lines=30, wrap_lines=True)
                with gr.Row():
                    apply_button = gr.Button(i18n("apply_json"), size="sm", elem_id="apply-json-btn")
                    upload = gr.UploadButton(i18n("import_json"), file_types=[".json"], size="sm")
                    download = gr.DownloadButton(i18n("export_json"), size="sm")
                conversation_status = gr.HTML(elem_id="conversation-status")
    with gr.Tab(i18n("tab_text"), id="text"):
        gr.Markdown(i18n("intro_text"), elem_classes="intro")
        plain_text = gr.HTML(elem_id="plain-text")
    with gr.Tab(i18n("tab_tokens"), id="tokens"):
        gr.Markdown(i18n("intro_tokens"), elem_classes="intro")
        show_ids = gr.Checkbox(False, label=i18n("show_ids"))
        with gr.Row(equal_height=False):
            token_chips = gr.HTML(elem_id="token-chips")
            second_chips = gr.HTML(elem_id="second-token-chips")
        with gr.Row():
            word = gr.Textbox("Zyrqel", label=i18n("rare_word"), max_length=handlers.MAX_WORD_CHARS, scale=1)
            word_chips = gr.HTML(elem_id="word-chips")

    view_inputs = [messages, add_generation_prompt, thinking, show_ids]
    view_outputs = [json_editor, plain_text, token_chips, second_chips, conversation_status]
    for trigger in (messages.change, add_generation_prompt.change, thinking.change, show_ids.change):
        trigger(handlers.refresh_views, view_inputs, view_outputs, api_visibility="private", **VIEWS_GROUP)
    structural = dict(api_visibility="private", **VIEWS_GROUP)
    load_button.click(handlers.load_preset, preset_name, messages, **structural).then(
        _bump, structure, structure, **structural)
    add_button.click(handlers.add_message, messages, messages, **structural).then(_bump, structure, structure, **structural)
    apply_button.click(handlers.apply_json, [json_editor, messages], [messages, conversation_status], **structural).then(
        _bump, structure, structure, **structural)
    upload.upload(handlers.import_file, [upload, messages], [messages, conversation_status], **structural).then(
        _bump, structure, structure, **structural)
    download.click(handlers.export_file, messages, download, **structural)
    for trigger in (word.change, demo.load):
        trigger(handlers.split_word, word, word_chips, api_visibility="private", **VIEWS_GROUP)
    return SimpleNamespace(
        messages=messages, structure=structure, add_generation_prompt=add_generation_prompt, thinking=thinking,
        show_ids=show_ids, word=word, word_chips=word_chips, view_inputs=view_inputs, view_outputs=view_outputs,
    )


def _bump(version):
    return version + 1


def _message_rows(demo, messages, structure):
    """One row per message (role, content, move, delete), re-rendered on structural edits."""

    @gr.render(inputs=[messages], triggers=[structure.change, demo.load])
    def rows(current):
        for index, message in enumerate(current):
            with gr.Row(elem_classes="message-row", equal_height=True):
                role = gr.Dropdown(list(ROLES), value=message["role"], show_label=False, scale=1, min_width=110,
                                   key=f"role-{index}", elem_classes=f"role-{message['role']}")
                content = gr.Textbox(message["content"], show_label=False, lines=2, max_lines=12, scale=6,
                                     max_length=MAX_MESSAGE_CHARS, key=f"content-{index}")
                with gr.Column(scale=0, min_width=44):
                    up = gr.Button("↑", size="sm", min_width=36)
                    down = gr.Button("↓", size="sm", min_width=36)
                delete = gr.Button("✕", size="sm", min_width=36, variant="stop", scale=0)
            quiet = dict(api_visibility="private", **VIEWS_GROUP)
            role.input(lambda msgs, value, i=index: handlers.set_role(msgs, i, value), [messages, role], messages, **quiet)
            content.input(lambda msgs, value, i=index: handlers.set_content(msgs, i, value), [messages, content],
                          messages, trigger_mode="always_last", **quiet)
            for button, action in ((up, lambda msgs, i=index: handlers.move_message(msgs, i, -1)),
                                   (down, lambda msgs, i=index: handlers.move_message(msgs, i, 1)),
                                   (delete, lambda msgs, i=index: handlers.delete_message(msgs, i))):
                button.click(action, messages, messages, **quiet).then(_bump, structure, structure, **quiet)
