"""The Tokens tab (step 2 of the pipeline): the prompt as token chips, in the model's tokenizer and a second one.

The same text through the model's tokenizer and through a second one (Qwen3's, offline) shows
that each model cuts text its own way; a word splitter shows how a rare word falls into pieces.
Re-rendered whenever the conversation or a template switch changes; no session is needed.
What is left out: the plain text (`tab_text.py`).
"""

import gradio as gr

from visualizer.engine.errors import InputError
from visualizer.engine.template import render_conversation
from visualizer.engine.tokens import token_records

from .tab_text import render_prompt, template_options
from .views import error_html, token_chips_html

MAX_WORD_CHARS = 100


def build(ctx, shared):
    i18n = shared.i18n
    with gr.Tab(i18n("tab_tokens"), id="tokens", elem_id="tokens-tab"):
        gr.Markdown(i18n("intro_tokens"), elem_classes="intro")
        show_ids = gr.Checkbox(False, label=i18n("show_ids"), elem_id="show-ids")
        with gr.Row(equal_height=False):  # columns of 320 px at least: stacked on a phone (an HTML's own is not kept)
            with gr.Column(min_width=320):
                token_chips = gr.HTML(elem_id="token-chips", js_on_load=None)
            with gr.Column(min_width=320):
                second_chips = gr.HTML(elem_id="second-token-chips", js_on_load=None)
        with gr.Row(equal_height=False):
            word = gr.Textbox("Zyrqel", label=i18n("rare_word"), max_length=MAX_WORD_CHARS, scale=1,
                              elem_id="rare-word")
            word_chips = gr.HTML(elem_id="word-chips", js_on_load=None, min_width=320)

    def refresh(values: dict, request: gr.Request):
        messages = values.get(shared.conversation)
        if messages is None:
            return gr.skip()
        texts, show = ctx.texts(request), bool(values.get(show_ids))
        try:
            prompt = render_prompt(ctx, shared, values)
            second = ctx.second_tokenizer
            second_text = render_conversation(second, messages, bool(values.get(shared.add_generation_prompt)),
                                              **template_options(shared, values).render_options()).text
        except InputError as error:
            return {token_chips: error_html(ctx.error_text(error, request), texts), second_chips: ""}
        tokenizer = ctx.loaded.tokenizer
        return {
            token_chips: token_chips_html(token_records(tokenizer, list(prompt.ids)), texts, show, tokenizer.name),
            second_chips: token_chips_html(token_records(second, second.encode(second_text)), texts, show, second.name),
        }

    def split_word(values: dict, request: gr.Request):
        """One word (with a leading space, as inside a sentence) in both tokenizers."""
        text = (values.get(word) or "")[:MAX_WORD_CHARS].strip()
        if not text:
            return {word_chips: ""}
        texts = ctx.texts(request)
        parts = [token_chips_html(token_records(tokenizer, tokenizer.encode(" " + text)), texts, title=tokenizer.name)
                 for tokenizer in (ctx.loaded.tokenizer, ctx.second_tokenizer)]
        return {word_chips: "".join(parts)}

    views = dict(shared.views_group, show_progress="hidden")
    gr.on([shared.conversation.change, shared.add_generation_prompt.change, shared.thinking.change, show_ids.change],
          refresh, inputs={shared.conversation, shared.add_generation_prompt, shared.thinking, show_ids},
          outputs=[token_chips, second_chips], **views)
    gr.on([word.change, shared.demo.load], split_word, inputs={word}, outputs=[word_chips], **views)
