"""One user's session in the engine: a conversation, its prompt, and the decode states built on it.

A `Workspace` is the one API the web handlers, the HTTP API and the CLI drive:
- the conversation and template options -> the rendered prompt and its ids, computed once per
  change (`prompt()`), never per step;
- decoding choices (`configure`: sampling settings, candidates shown, max new tokens) apply to the
  existing decoder and lockstep pair: changing them never discards a token;
- the Decoder for the current prompt (`decoder()`: rebuilt only when the prompt's ids change; the
  one it replaces, if it made tokens, is set aside with its pool rows given back, and comes back
  with every token if the prompt's ids come back: an edit undone loses nothing),
  the greedy-vs-sampled `Lockstep` (`lockstep()`), and the prompt A vs B pair (`start_pair`);
- token lookup from what a user types (`lookup_token`);
- `snapshot()` / `restore()`: plain data a browser keeps, restored in one pass over the ids.
Every decode state runs on the Engine given at creation (its pool and turns); a workspace without
one (a tokenizer-only model) still renders and tokenizes.
What is left out: locking (one thread at a time per workspace: serving's session lock), and
anything about a web framework or a language (errors are English one-liners; the UI translates).
"""

from dataclasses import dataclass, replace

from .conversation import parse_conversation
from .decoder import Decoder
from .engine import require_weights
from .errors import refuse
from .limits import (MAX_PROMPT_TOKENS, MAX_TYPED_CHARS, check_max_new_tokens, check_text, check_token_id,
                     check_top_n, is_ascii_integer)
from .lockstep import Lockstep
from .sampling import SamplingSettings
from .template import render_conversation

# 2: the noise as [seed, draws]. A version-1 snapshot (the generator's bytes, "rng") still gives its
# tokens back; its noise starts again from the seed.
SNAPSHOT_VERSION = 2


@dataclass(frozen=True)
class TemplateOptions:
    add_generation_prompt: bool = True
    thinking: bool = True  # only for templates with an enable_thinking switch

    def render_options(self):
        return {"enable_thinking": self.thinking}


@dataclass(frozen=True)
class Prompt:
    rendered: object  # template.RenderedText
    ids: tuple

    @property
    def text(self):
        return self.rendered.text


@dataclass(frozen=True)
class DecodeOptions:
    sampling: SamplingSettings = SamplingSettings()
    top_n: int = 10
    max_new_tokens: int = 256


class Workspace:
    def __init__(self, loaded, engine=None, messages=None, template=TemplateOptions(), options=DecodeOptions(),
                 max_prompt_tokens=MAX_PROMPT_TOKENS, max_new_tokens_limit=None):
        self.loaded = loaded
        self.engine = engine
        self.max_prompt_tokens = max_prompt_tokens
        self.max_new_tokens_limit = max_new_tokens_limit  # the server's cap (None: the engine's)
        self.messages = parse_conversation(messages) if messages is not None else None
        self.template = template
        self.options = options
        self._prompt = None
        self._decoder = None
        self._aside = None  # the previous prompt's decoder, with its tokens (no pool rows)
        self._lockstep = None
        self.pair = None  # Lockstep.a_vs_b, made by start_pair

    # The conversation and its prompt.
    def set_conversation(self, messages):
        """Validate and keep a conversation (list or JSON); -> the clean list (InputError if bad)."""
        messages = parse_conversation(messages)
        if messages != self.messages:
            self.messages, self._prompt = messages, None
        return messages

    def set_template(self, template):
        if template != self.template:
            self.template, self._prompt = template, None

    def prompt(self):
        """The rendered conversation and its ids (cached until the conversation or options change)."""
        if self.messages is None:
            raise refuse("no_conversation")
        if self._prompt is None:
            self._prompt = self.render(self.messages)
        return self._prompt

    def render(self, messages):
        tokenizer = self.loaded.tokenizer
        rendered = render_conversation(tokenizer, messages, self.template.add_generation_prompt,
                                       **self.template.render_options())
        ids = tuple(tokenizer.encode(rendered.text))
        if len(ids) > self.max_prompt_tokens:
            raise refuse("prompt_too_long", count=len(ids), limit=self.max_prompt_tokens)
        return Prompt(rendered, ids)

    # Decoding choices.
    def configure(self, sampling=None, top_n=None, max_new_tokens=None):
        """Change what the next steps do and show; never discards a token."""
        options = self.options
        if sampling is not None:
            options = replace(options, sampling=sampling)
        if top_n is not None:
            options = replace(options, top_n=check_top_n(top_n))
        if max_new_tokens is not None:
            options = replace(options, max_new_tokens=self.check_new_tokens(max_new_tokens))
        for state in (self._decoder, self._lockstep):
            if state is not None:
                state.use_settings(options.sampling, options.top_n, options.max_new_tokens)
        if self.pair is not None:
            self.pair.use_settings(top_n=options.top_n)
        self.options = options

    def check_new_tokens(self, value, name="max new tokens"):
        """Max new tokens, within the server's cap when it has one; `name`: the value's name in a refusal."""
        if self.max_new_tokens_limit is None:
            return check_max_new_tokens(value, name=name)
        return check_max_new_tokens(value, self.max_new_tokens_limit, name=name)

    def sampling_from_user(self, greedy=None, seed=None, **knobs):
        return SamplingSettings.from_user(self.loaded.vocab_size, greedy=greedy, seed=seed, **knobs)

    # The Decoder tab.
    def decoder(self):
        """The decoder of the current prompt: kept while the prompt's ids stay the same; when they change,
        the one set aside comes back if it was made on them, else a new one starts."""
        ids = self.prompt().ids
        if self._decoder is None or tuple(self._decoder.prompt_ids) != ids:
            previous, aside = self._decoder, self._aside
            self._decoder = self._aside = None
            if aside is not None and tuple(aside.prompt_ids) == ids:
                self._decoder = aside
                aside.use_settings(self.options.sampling, self.options.top_n, self.options.max_new_tokens)
            elif aside is not None:
                aside.evict()
            if previous is not None:
                previous.evict()
                self._aside = previous if previous.generated else None
            if self._decoder is None:
                options = self.options
                self._decoder = Decoder(self._engine(), list(ids), options.sampling, options.max_new_tokens,
                                        options.top_n)
        return self._decoder

    @property
    def tokens_set_aside(self):
        """How many tokens the decoder of the previous prompt holds (0: none is set aside)."""
        return len(self._aside.generated) if self._aside is not None else 0

    @property
    def existing_decoder(self):
        """The decoder made so far, or None (no prompt is rendered to answer this)."""
        return self._decoder

    @property
    def existing_lockstep(self):
        return self._lockstep

    def drop_decoder(self):
        if self._decoder is not None:
            self._decoder.evict()
        self._decoder = None

    def lookup_token(self, typed):
        """What a user typed -> one token id: "#42" is id 42; other text is that text's token (" the"
        and "the" differ); digits that are not one token as text are an id. InputError otherwise."""
        typed = check_text(typed, "the typed token", MAX_TYPED_CHARS)
        if not typed:
            raise refuse("nothing_typed")
        stripped = typed.strip()
        vocab = self.loaded.vocab_size
        if stripped.startswith("#") and is_ascii_integer(stripped[1:]):
            return check_token_id(stripped[1:], vocab)
        ids = self.loaded.tokenizer.encode(typed) if typed else []
        if len(ids) == 1:
            return ids[0]
        if is_ascii_integer(stripped):
            return check_token_id(stripped, vocab)
        shown = ", ".join(map(str, ids[:8])) + (", ..." if len(ids) > 8 else "")
        raise refuse("not_one_token", typed=typed[:40], count=len(ids), ids=shown)

    # The Compare tab.
    def lockstep(self):
        """Greedy vs sampled on the current prompt; the sampled row takes this workspace's settings."""
        ids = list(self.prompt().ids)
        if self._lockstep is None or self._lockstep.branches[0].prompt_ids != ids:
            self.drop_lockstep()
            sampled = replace(self.options.sampling, greedy=False)
            self._lockstep = Lockstep.greedy_vs_sampled(self._engine(), ids, sampled, self.options.max_new_tokens,
                                                        self.options.top_n)
        return self._lockstep

    def drop_lockstep(self):
        if self._lockstep is not None:
            self._lockstep.evict()
        self._lockstep = None

    def start_pair(self, messages_a, messages_b, steps):
        """Prompt A vs prompt B, both greedy, from the first token, for at most `steps` tokens."""
        ids = [list(self.render(parse_conversation(m)).ids) for m in (messages_a, messages_b)]
        if self.pair is not None:
            self.pair.evict()
        self.pair = Lockstep.a_vs_b(self._engine(), *ids, self.check_new_tokens(steps, "steps"), self.options.top_n)
        return self.pair

    # Keeping and restoring.
    def snapshot(self):
        """Plain data enough to come back to this state (a browser keeps it): the ids, forced flags, the
        noise's seed and count."""
        decoder = self._decoder
        state = {"version": SNAPSHOT_VERSION}
        if decoder is not None and decoder.generated:
            state["decoder"] = {
                "prompt": list(decoder.prompt_ids), "generated": list(decoder.generated),
                "forced": [record.forced for record in decoder.records],
                "noise": list(decoder.branch.noise_state()),  # [seed, draws]
            }
        return state

    def restore(self, state):
        """Put back a snapshot's tokens onto the current prompt (one pass over the ids). A snapshot
        of another prompt, or one already applied, changes nothing. -> True if tokens came back."""
        saved = state.get("decoder") if isinstance(state, dict) else None
        if not isinstance(saved, dict):
            return False
        decoder = self.decoder()
        if decoder.generated or saved.get("prompt") != list(decoder.prompt_ids):
            return False
        generated = saved.get("generated")
        if not isinstance(generated, list) or not generated:
            return False
        generated = [check_token_id(token_id, self.loaded.vocab_size) for token_id in generated]
        if len(generated) > decoder.branch.max_new_tokens:
            decoder.use_settings(max_new_tokens=self.check_new_tokens(len(generated)))
        forced = saved.get("forced") if isinstance(saved.get("forced"), list) else []
        noise = saved.get("noise")
        if noise is not None and not (isinstance(noise, list) and len(noise) == 2
                                      and all(type(value) is int for value in noise)):
            raise refuse("bad_saved_state")
        decoder.restore(generated, forced[:len(generated)], noise)
        return True

    def _engine(self):
        if self.engine is None:
            require_weights(self.loaded)
        return self.engine

    # Memory.
    def nbytes(self):
        states = (self._decoder, self._aside, self._lockstep, self.pair)
        return sum(state.nbytes() for state in states if state is not None)

    def evict(self):
        """Give every pool row back; each state rebuilds from its ids on its next action."""
        for state in (self._decoder, self._lockstep, self.pair):
            if state is not None:
                state.evict()
