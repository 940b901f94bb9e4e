"""HTTP-level guards, as options for `demo.launch(app_kwargs=...)`: body size and a client cookie.

- Every request body, on every route (queue joins, API calls, uploads), is capped at the settings'
  `max_body_bytes` by FastAPI's own body-limit middleware: it refuses on Content-Length at once and
  counts chunked bodies as they stream, so a 200 MiB POST is answered 413 without being read.
- `ClientCookie` gives every client a random HttpOnly cookie on its first page or /config response.
  gradio_client keeps the cookies of its /config response, so API sessions are bound to it: a
  session created with a cookie answers only requests that carry the same cookie.
- `CancelHook` tells the app of every /cancel (its session hash and cookie) before Gradio handles
  it: Gradio only cancels the waiting task, and a generator's thread goes on to its next answer, so
  the app raises the session's stop flag and a cancelled API run stops within one step.
What is left out: page tokens for UI events (issued by the page-load event, see `app_context.py`).
"""

import json
import secrets

from starlette.middleware import Middleware

from .app_context import CLIENT_COOKIE

_ISSUING_PATHS = ("/", "/config", "/gradio_api/config")
_CANCEL_BODY_BYTES = 4096  # a cancel body is {"session_hash", "fn_index", "event_id"}: anything longer is not read


def _cookie(scope, name):
    cookies = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
    pairs = (part.strip().partition("=") for part in cookies.split(";"))
    return next((value for key, _, value in pairs if key == name), None)


class ClientCookie:
    """Pure ASGI: adds `Set-Cookie: llmviz_client=<random>` to a page or config response without one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].rstrip("/") not in {p.rstrip("/") for p in _ISSUING_PATHS}:
            return await self.app(scope, receive, send)
        if _cookie(scope, CLIENT_COOKIE):
            return await self.app(scope, receive, send)
        cookie = f"{CLIENT_COOKIE}={secrets.token_urlsafe(24)}; HttpOnly; SameSite=Lax; Path=/"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class CancelHook:
    """Pure ASGI: on `POST .../cancel`, reads the (small) body, calls `on_cancel(session_hash, cookie)`,
    then hands the same body on to Gradio."""

    def __init__(self, app, on_cancel):
        self.app = app
        self.on_cancel = on_cancel

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/cancel"):
            return await self.app(scope, receive, send)
        messages, body = [], b""
        while len(body) <= _CANCEL_BODY_BYTES:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        else:
            body = b""
        try:
            session_hash = json.loads(body).get("session_hash") if body else None
        except (ValueError, AttributeError):
            session_hash = None
        if isinstance(session_hash, str):
            self.on_cancel(session_hash, _cookie(scope, CLIENT_COOKIE))

        async def replay():
            return messages.pop(0) if messages else await receive()
        await self.app(scope, replay, send)


def app_kwargs(settings, on_cancel=None):
    """FastAPI options: the body cap, the client cookie and, given `on_cancel(session_hash, cookie)`,
    the cancel hook."""
    middleware = [Middleware(ClientCookie)]
    if on_cancel is not None:
        middleware.append(Middleware(CancelHook, on_cancel=on_cancel))
    return {"max_body_size": settings.max_body_bytes, "middleware": middleware}
