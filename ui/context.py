"""The app's shared context: the loaded model, the session store, the language, the settings.

Handlers are module-level functions (so tests call them directly); they reach the model and
the store through `current()`, which `configure()` sets once when the app is built.
What is left out: anything per user (that lives in the session store, keyed by session hash).
"""

from dataclasses import dataclass

from visualizer.engine.qwen_offline import load_qwen_offline
from visualizer.serving.sessions import SessionStore
from ui.texts import language_from_header, texts_for

_CONTEXT = None


@dataclass
class AppContext:
    loaded: object  # LoadedModel
    settings: object  # ServerSettings
    store: SessionStore
    second_tokenizer: object  # ChatTokenizer shown side by side in the Tokens tab
    language: str = None  # None: follow each browser's Accept-Language


def configure(loaded, settings, language=None):
    """Set the context every handler uses; returns it."""
    global _CONTEXT
    _CONTEXT = AppContext(loaded, settings, SessionStore(settings), load_qwen_offline(), language)
    return _CONTEXT


def current():
    if _CONTEXT is None:
        raise RuntimeError("ui.context.configure() must run before any handler")
    return _CONTEXT


def session_key(request):
    """The Gradio session of a request; API calls without one share a fallback key."""
    return getattr(request, "session_hash", None) or "anonymous"


def language(request):
    context = current()
    if context.language:
        return context.language
    headers = getattr(request, "headers", None) or {}
    return language_from_header(headers.get("accept-language"))


def texts(request):
    return texts_for(language(request))
