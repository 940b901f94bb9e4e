"""The Plain text tab (step 1 of the pipeline): the chat template's output with its markers explained.

Re-rendered whenever the conversation or a template switch changes; no session is needed (a
throwaway workspace renders it). A marker typed inside a message is flagged (chat-template injection).
What is left out: tokens (`tab_tokens.py`).
"""

import gradio as gr

from visualizer.engine.errors import InputError
from visualizer.engine.workspace import TemplateOptions

from .views import error_html, plain_text_html


def build(ctx, shared):
    i18n = shared.i18n
    with gr.Tab(i18n("tab_text"), id="text", elem_id="text-tab"):
        gr.Markdown(i18n("intro_text"), elem_classes="intro")
        plain_text = gr.HTML(elem_id="plain-text", js_on_load=None)

    def refresh(values: dict, request: gr.Request):
        messages = values.get(shared.conversation)
        if messages is None:
            return gr.skip()
        texts = ctx.texts(request)
        try:
            prompt = render_prompt(ctx, shared, values)
        except InputError as error:
            return {plain_text: error_html(ctx.error_text(error, request), texts)}
        return {plain_text: plain_text_html(prompt.rendered, texts)}

    gr.on([shared.conversation.change, shared.add_generation_prompt.change, shared.thinking.change], refresh,
          inputs={shared.conversation, shared.add_generation_prompt, shared.thinking}, outputs=[plain_text],
          show_progress="hidden", **shared.views_group)


def render_prompt(ctx, shared, values):
    """The conversation in `values` rendered and encoded by the model's tokenizer (InputError if it can't be)."""
    workspace = ctx.server.new_workspace()
    workspace.set_conversation(values.get(shared.conversation))
    workspace.set_template(template_options(shared, values))
    return workspace.prompt()


def template_options(shared, values):
    return TemplateOptions(add_generation_prompt=bool(values.get(shared.add_generation_prompt)),
                           thinking=bool(values.get(shared.thinking)))
