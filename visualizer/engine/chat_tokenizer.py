"""One small interface over the tokenizers the app can use, and its transformers adapter.

`ChatTokenizer` is what the rest of the engine sees: render a conversation with the chat
template, encode text to ids (never adding a BOS: the template already wrote one where the
model wants it), and give the raw bytes of any token so that views never show mojibake.
`HFChatTokenizer` wraps a transformers tokenizer; `qwen_offline.py` provides the other one.
What is left out: batching, padding and truncation (the engine feeds one sequence at a time).
"""

from functools import cached_property

from jinja2 import TemplateError
from transformers.convert_slow_tokenizer import bytes_to_unicode

from .errors import refuse


class ChatTokenizer:
    """Interface. Attributes: `name`, `vocab_size` (ids a model may emit), `eos_ids`,
    `template_options` (names of boolean template switches, e.g. ("enable_thinking",))."""

    name = "tokenizer"
    vocab_size = 0
    eos_ids = ()
    template_options = ()

    def render(self, messages, add_generation_prompt=True, **options):
        """list of {"role","content"} -> str, the plain text the model reads."""
        raise NotImplementedError

    def encode(self, text):
        """str -> list[int]; text of special markers becomes the special ids."""
        raise NotImplementedError

    def token_bytes(self, token_id):
        """int -> bytes, the exact bytes this token stands for (UTF-8 of the marker if special)."""
        raise NotImplementedError

    def is_special(self, token_id):
        raise NotImplementedError

    def special_texts(self):
        """The marker strings (e.g. "<|im_start|>") this tokenizer turns into single special ids."""
        raise NotImplementedError

    def decode(self, ids, skip_special_tokens=False):
        """list[int] -> str; incomplete UTF-8 at the end is replaced, never half-shown."""
        kept = [i for i in ids if not (skip_special_tokens and self.is_special(i))]
        return b"".join(self.token_bytes(i) for i in kept).decode("utf-8", errors="replace")


class HFChatTokenizer(ChatTokenizer):
    """Adapter for a transformers tokenizer (fast or slow) that carries a chat template."""

    def __init__(self, tokenizer, name, vocab_size=None, eos_ids=None):
        """`eos_ids`: the ids that end a message (the model's generation_config.eos_token_id, an int or
        a list); without a model, the tokenizer's own end token."""
        self.tokenizer = tokenizer
        self.name = name
        self.vocab_size = vocab_size or len(tokenizer)
        eos = eos_ids if eos_ids is not None else tokenizer.eos_token_id
        self.eos_ids = tuple(sorted({eos} if isinstance(eos, int) else set(eos or ())))
        template = tokenizer.chat_template or ""
        self.template_options = tuple(opt for opt in ("enable_thinking",) if opt in template)

    def render(self, messages, add_generation_prompt=True, **options):
        if not self.tokenizer.chat_template:
            raise refuse("no_template", model=self.name)
        options = {key: value for key, value in options.items() if key in self.template_options}
        try:
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt, **options
            )
        except TemplateError as error:
            # Some templates refuse orders they were not trained on (e.g. two user turns in a row).
            raise refuse("template_refused", reason=str(error)[:200]) from None

    def encode(self, text):
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_bytes(self, token_id):
        piece = self.tokenizer.convert_ids_to_tokens(int(token_id))
        if piece is None:
            return b""
        if self.is_special(token_id):
            return piece.encode("utf-8")
        if self._byte_level:
            try:
                return bytes(_UNICODE_TO_BYTE[char] for char in piece)
            except KeyError:
                return piece.encode("utf-8")
        if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def is_special(self, token_id):
        return int(token_id) in self._special_ids

    def special_texts(self):
        return sorted(self._special_by_text, key=len, reverse=True)

    @cached_property
    def _special_by_text(self):
        specials = {
            token.content: token_id
            for token_id, token in self.tokenizer.added_tokens_decoder.items()
            if token.special
        }
        for text, token_id in zip(self.tokenizer.all_special_tokens, self.tokenizer.all_special_ids):
            specials.setdefault(text, token_id)
        return specials

    @cached_property
    def _special_ids(self):
        return frozenset(self._special_by_text.values())

    @cached_property
    def _byte_level(self):
        # Byte-level BPE (GPT-2, SmolLM2, Qwen) spells bytes with printable stand-ins like "Ġ".
        vocab = self.tokenizer.get_vocab()
        return "Ġ" in vocab or any(piece.startswith("Ġ") for piece in list(vocab)[:5000])


# GPT-2's reversible map from the 256 byte values to printable characters, inverted.
_UNICODE_TO_BYTE = {char: byte for byte, char in bytes_to_unicode().items()}
