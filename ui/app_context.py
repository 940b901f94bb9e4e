"""What every handler needs, as one object: the server (engine, scheduler, sessions), languages, owners.

`AppContext` is built once by `app.create_app` and handed to each tab's builder, which closes its
handlers over it (no module-global context). It answers, for a `gr.Request`:
- `language` / `texts`: the `--lang` override, else the browser's Accept-Language (q-values);
- `session(request, owner)`: the request's session with its turn held (see serving/sessions.py),
  where `owner` is the secret that proves the request comes from the session's own page or client:
  the page token a page load issued (UI events carry it in a hidden component) or, for API calls,
  the client cookie (`ui/http.py` sets it on the first page or /config response);
- `error_text`: an engine error in the request's language; `editor_conversation`: a JSON editor's text
  read as a conversation, or why not, in that language;
- `rooms` (the server's `serving.rooms.RoomStore`, or None) and `attendee(request)`: who a request
  is in a room, a hash of its client cookie (the cookie itself is never kept); `join_address`, how
  the room's phones reach this server (`room_address.py`).
What is left out: components and wiring (the tab modules), HTTP middleware (`http.py`).
"""

import contextlib
import hashlib
import secrets

from visualizer.engine.conversation import MAX_JSON_CHARS, parse_conversation
from visualizer.engine.errors import InputError, refuse

from .room_address import JoinAddress
from .texts import language_from_header, texts_for
from .views import whole

CLIENT_COOKIE = "llmviz_client"


class AppContext:
    def __init__(self, server, second_tokenizer, language=None, cache_dir=None, rooms=None, join_address=None):
        self.server = server
        self.rooms = rooms
        self.join_address = join_address or JoinAddress()  # how a room's attendees reach this server
        self.second_tokenizer = second_tokenizer  # shown beside the model's in the Tokens tab
        self.forced_language = language  # None: follow each browser's Accept-Language
        self.cache_dir = cache_dir

    @property
    def loaded(self):
        return self.server.loaded

    @property
    def settings(self):
        return self.server.settings

    @property
    def store(self):
        return self.server.store

    def language(self, request):
        if self.forced_language:
            return self.forced_language
        headers = getattr(request, "headers", None) or {}
        return language_from_header(headers.get("accept-language"))

    def texts(self, request):
        return texts_for(self.language(request))

    def error_text(self, error, request):
        """An InputError in the request's language: its code's template, else its English line."""
        texts = self.texts(request)
        code = getattr(error, "code", None)
        params = dict(getattr(error, "params", None) or {})
        template = texts.get(f"error_{code}_{params.get('reason')}") or texts.get(f"error_{code}")
        if not template:
            return str(error)
        if "name" in params:
            params["name"] = texts.get(f"field_{params['name']}", params["name"])
        if "reason" in params:
            params["reason"] = texts.get(f"reason_{params['reason']}", params["reason"])
        params = {key: whole(value) if type(value) is int and abs(value) >= 10_000 and key != "value" else value
                  for key, value in params.items()}  # limits as 49 152, as elsewhere; a value given as given
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return str(error)

    def editor_conversation(self, text, request):
        """A JSON editor's text -> (messages, None), or (None, why not in the request's language). A text longer
        than any conversation is the browser's cut of a longer paste (`client_js.EDITOR_JS`): said as such,
        not with its length."""
        if isinstance(text, str) and len(text) > MAX_JSON_CHARS:
            return None, self.texts(request)["json_too_long"].format(limit=whole(MAX_JSON_CHARS))
        try:
            return parse_conversation(text), None
        except InputError as error:
            return None, self.error_text(error, request)

    @staticmethod
    def new_page_token():
        return secrets.token_urlsafe(24)

    @staticmethod
    def client_cookie(request):
        cookies = getattr(request, "cookies", None) or {}
        return cookies.get(CLIENT_COOKIE)

    def attendee(self, request):
        """This client in a room: a hash of its cookie; a request without the cookie is refused."""
        cookie = self.client_cookie(request)
        if not cookie:
            raise refuse("no_owner")
        return hashlib.sha256(cookie.encode("utf-8")).hexdigest()[:24]

    def cancel_runs(self, session_hash, cookie):
        """A client cancelled an event (HTTP /cancel): its API session's run stops before its next
        step. Only the cookie that owns the session may (a browser's page session is never touched)."""
        session = self.store.get(session_hash)
        if session is not None and cookie and session.owner == cookie:
            session.data["stop"] = True

    @staticmethod
    def address(request):
        client = getattr(request, "client", None)
        return getattr(client, "host", None)

    @contextlib.contextmanager
    def session(self, request, owner, create=False, click=True):
        """The request's session (created when `create` and missing) with its turn held; `click=False` for
        an action that is not a page's click (a Stop's flag, a run's next token)."""
        if not owner:
            raise refuse("no_owner")
        key = getattr(request, "session_hash", None)
        with self.store.use(key, owner, create=create, address=self.address(request), click=click) as session:
            yield session
