"""The Conversation tab: message rows, presets, the JSON editor, import and export; and the conversation's restore.

The applied conversation lives in `shared.conversation` (a hidden component: the browser holds
it) and in the browser's saved state (reload, server restart). Rows are re-rendered only on
structural edits (load, apply, import, add, move, delete); every component made inside the render
is `interactive=True` (Gradio would otherwise draw rows made after the page load read-only).
Typing in a row edits the conversation in place (a text cut at the per-message limit says so in the
tab's status). The JSON editor is applied with a button; edits
not applied yet are flagged. Export is a download made in the browser from the applied
conversation (first click, nothing written on the server); import reads the file in the browser,
refuses files over 1 MB, and sends only its text. A page with nothing saved starts on the
preset of its language, and the preset list puts that language first.
What is left out: the views of the conversation (the Plain text and Tokens tabs).
"""

import json
import time

import gradio as gr

from visualizer.engine.conversation import ROLES, conversation_json, parse_conversation
from visualizer.engine.errors import InputError
from visualizer.engine.limits import MAX_MESSAGE_CHARS

from . import conversation_edits as edits
from .client_js import EDITOR_JS, EXPORT_JS, IMPORT_JS, IMPORT_LIMIT
from .presets import default_name, preset, preset_names
from .views import error_html, status_html, whole


def build(ctx, shared):
    i18n, conversation = shared.i18n, shared.conversation
    language = ctx.forced_language or "en"
    with gr.Tab(i18n("tab_conversation"), id="conversation", elem_id="conversation-tab"):
        structure = gr.State(0)  # a new value re-renders the rows
        gr.Markdown(i18n("intro_conversation"), elem_classes="intro")
        with gr.Row(equal_height=True, elem_classes="preset-row"):
            preset_name = gr.Dropdown(preset_names(language), value=default_name(language), label=i18n("preset"),
                                      scale=3, elem_id="preset", min_width=280)
            load_button = gr.Button(i18n("load_preset"), elem_id="load-preset-btn", scale=1, min_width=140)
        with gr.Row():
            shared.add_generation_prompt.render()
            shared.thinking.render()
        with gr.Row(equal_height=False):
            status = gr.HTML(elem_id="conversation-status", js_on_load=None, render=False)
            with gr.Column(scale=3, elem_id="message-rows", min_width=320):
                _message_rows(ctx, shared, structure, status)
                add_button = gr.Button(i18n("add_message"), size="sm", elem_id="add-message-btn")
            with gr.Column(scale=2, min_width=300):
                editor = gr.Code(language="json", label=i18n("json_editor"), elem_id="conversation-json",
                                 interactive=True, lines=12, max_lines=24, wrap_lines=True)
                dirty = gr.HTML(elem_id="json-dirty", js_on_load=None)
                with gr.Row(elem_classes="json-buttons"):
                    apply_button = gr.Button(i18n("apply_json"), size="sm", elem_id="apply-json-btn", min_width=110)
                    import_button = gr.Button(i18n("import_json"), size="sm", elem_id="import-json-btn", min_width=110)
                    export_button = gr.Button(i18n("export_json"), size="sm", elem_id="export-json-btn", min_width=110)
                status.render()
                import_box = gr.Textbox(visible=False)

    views = dict(shared.views_group, show_progress="hidden")

    def applied(messages, message=""):
        """The conversation, its rows drawn anew and its JSON in the editor (the same conversation given again
        changes nothing, so `conversation_changed` would leave the editor's text not applied in place)."""
        return {conversation: messages, structure: time.monotonic_ns(), status: status_html(message, "done"),
                editor: conversation_json(messages), dirty: ""}

    def load_preset(values: dict, request: gr.Request):
        try:
            return applied(preset(values.get(preset_name)))
        except KeyError:
            return gr.skip()

    def add_message(values: dict):
        return applied(edits.add_message(values.get(conversation)))

    def apply_json(values: dict, request: gr.Request):
        texts = ctx.texts(request)
        messages, refused = ctx.editor_conversation(values.get(editor) or "", request)
        if refused:
            return {status: error_html(refused, texts)}
        return applied(messages, texts[_counted("json_applied", messages)].format(count=len(messages)))

    def import_file(values: dict, request: gr.Request):
        texts = ctx.texts(request)
        try:
            chosen = json.loads(values.get(import_box) or "null")
        except ValueError:
            chosen = None
        if not isinstance(chosen, dict):
            return gr.skip()  # the dialog was closed
        name = str(chosen.get("name") or "?")[:80]
        if chosen.get("utf8") is False:
            return {status: error_html(f"{name}: {texts['error_not_utf8']}", texts)}
        if not isinstance(chosen.get("text"), str) or len(chosen["text"]) > IMPORT_LIMIT:
            size = chosen.get("size")
            message = texts["file_too_big"].format(name=name, size=whole(size) if isinstance(size, int) else "?",
                                                   limit=whole(IMPORT_LIMIT))
            return {status: error_html(message, texts)}
        try:
            messages = parse_conversation(chosen["text"])
        except InputError as error:
            return {status: error_html(f"{name}: {ctx.error_text(error, request)}", texts)}
        return applied(messages, texts[_counted("json_imported", messages)].format(name=name, count=len(messages)))

    def flag_unapplied(text, messages, request: gr.Request):  # positional: EDITOR_JS gets them in order
        try:
            same = parse_conversation(text or "") == messages
        except InputError:
            same = False
        return {dirty: "" if same else status_html(ctx.texts(request)["json_unapplied"], "warning")}

    def conversation_changed(values: dict):
        messages = values.get(conversation)
        if messages is None:
            return gr.skip()
        return {editor: conversation_json(messages), dirty: "", shared.saved_conversation: _saved(values, shared)}

    def restore(values: dict, request: gr.Request):
        """Page load: the browser's saved conversation, else the preset of the page's language."""
        language = ctx.language(request)
        saved = values.get(shared.saved_conversation) or {}
        try:
            messages = parse_conversation(saved["messages"])
            switches = {shared.add_generation_prompt: bool(saved.get("add_generation_prompt", True)),
                        shared.thinking: bool(saved.get("thinking", True))}
        except (InputError, KeyError, TypeError):
            messages, switches = preset(default_name(language)), {}
        return {**switches, conversation: messages, structure: time.monotonic_ns(),
                preset_name: gr.update(choices=preset_names(language), value=default_name(language))}

    changed = [conversation, structure, status, editor, dirty]  # what `applied` gives
    gr.on([load_button.click], load_preset, inputs={preset_name}, outputs=changed, **views)
    gr.on([add_button.click], add_message, inputs={conversation}, outputs=changed, **views)
    gr.on([apply_button.click], apply_json, inputs={editor}, outputs=changed, js=EDITOR_JS, **views)
    gr.on([import_button.click], import_file, inputs={import_box}, outputs=changed, js=IMPORT_JS, **views)
    gr.on([export_button.click], None, inputs=[conversation], outputs=[], js=EXPORT_JS)
    gr.on([editor.input], flag_unapplied, inputs=[editor, conversation], outputs=[dirty], trigger_mode="always_last",
          js=f"(text, conversation) => [({EDITOR_JS})(text), conversation]", **views)
    gr.on([conversation.change, shared.add_generation_prompt.input, shared.thinking.input], conversation_changed,
          inputs={conversation, shared.add_generation_prompt, shared.thinking},
          outputs=[editor, dirty, shared.saved_conversation], **views)
    gr.on([shared.demo.load], restore, inputs={shared.saved_conversation},
          outputs=[conversation, structure, preset_name, shared.add_generation_prompt, shared.thinking], **views)


def _counted(key, messages):
    """The text key for this many messages: "<key>_one" for one ("1 messages" read wrong)."""
    return f"{key}_one" if len(messages) == 1 else key


def _saved(values, shared):
    return {"messages": values.get(shared.conversation),
            "add_generation_prompt": bool(values.get(shared.add_generation_prompt)),
            "thinking": bool(values.get(shared.thinking))}


def _message_rows(ctx, shared, structure, status):
    """One row per message (role, content, move, delete), re-rendered on structural edits. A text cut
    at the per-message limit says so in `status` (the browser's box stops there too: a long paste
    would otherwise lose its end without a word)."""
    conversation, views = shared.conversation, dict(shared.views_group, show_progress="hidden")

    def content_edit(index, content):
        def edit(values: dict, request: gr.Request):
            text = values[content] if isinstance(values[content], str) else ""
            messages = values[conversation] or []
            if index < len(messages) and messages[index].get("content") == text:
                return gr.skip()  # a row drawn anew (a preset, an import): nothing edited, the tab's status stays
            edited = {conversation: edits.set_content(messages, index, text), status: ""}
            # Counted as the browser's box counts, in UTF-16 units (never fewer than the characters): an
            # emoji is two, and a paste of them stops at 4,000.
            if len(text.encode("utf-16-le")) >= 2 * MAX_MESSAGE_CHARS:
                texts = ctx.texts(request)
                edited[status] = error_html(texts["message_at_limit"].format(index=index + 1, limit=MAX_MESSAGE_CHARS),
                                            texts)
            return edited
        return edit

    @gr.render(inputs=[conversation], triggers=[structure.change])
    def rows(messages):
        for index, message in enumerate(messages or []):
            with gr.Row(elem_classes="message-row", equal_height=False):
                role = gr.Dropdown(list(ROLES), value=message["role"], show_label=False, scale=0, min_width=170,
                                   interactive=True, elem_classes=["role", f"role-{message['role']}"])
                content = gr.Textbox(message["content"], show_label=False, lines=2, max_lines=12, scale=6,
                                     max_length=MAX_MESSAGE_CHARS, interactive=True, elem_classes="content")
                with gr.Column(scale=0, min_width=52, elem_classes="row-buttons"):
                    up = gr.Button("↑", size="sm", min_width=44, interactive=True)
                    down = gr.Button("↓", size="sm", min_width=44, interactive=True)
                delete = gr.Button("✕", size="sm", min_width=44, variant="stop", scale=0, interactive=True)
            gr.on([role.input], lambda values, i=index, role=role: {
                conversation: edits.set_role(values[conversation], i, values[role])},
                inputs={conversation, role}, outputs=[conversation], **views)
            # `change`, not `input`: Gradio 6.31's Textbox sends `input` only on a key press (not on a
            # paste or a Backspace); the server never sets a row's text, so every change is the user's.
            gr.on([content.change], content_edit(index, content), inputs={conversation, content},
                  outputs=[conversation, status], trigger_mode="always_last", **views)
            for button, edit in ((up, lambda m, i=index: edits.move_message(m, i, -1)),
                                 (down, lambda m, i=index: edits.move_message(m, i, 1)),
                                 (delete, lambda m, i=index: edits.delete_message(m, i))):
                gr.on([button.click], lambda values, edit=edit: {
                    conversation: edit(values[conversation]), structure: time.monotonic_ns()},
                    inputs={conversation}, outputs=[conversation, structure], **views)
