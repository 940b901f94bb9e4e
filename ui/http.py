"""HTTP-level guards, as options for `demo.launch(app_kwargs=...)`: body size and a client cookie.

- Every request body, on every route (queue joins, API calls, uploads), is capped at the settings'
  `max_body_bytes` by FastAPI's own body-limit middleware: it refuses on Content-Length at once and
  counts chunked bodies as they stream, so a 200 MiB POST is answered 413 without being read.
- `ClientCookie` gives every client a random HttpOnly cookie on its first page or /config response.
  gradio_client keeps the cookies of its /config response, so API sessions are bound to it: a
  session created with a cookie answers only requests that carry the same cookie.
What is left out: page tokens for UI events (issued by the page-load event, see `app_context.py`).
"""

import secrets

from starlette.middleware import Middleware

from .app_context import CLIENT_COOKIE

_ISSUING_PATHS = ("/", "/config", "/gradio_api/config")


class ClientCookie:
    """Pure ASGI: adds `Set-Cookie: llmviz_client=<random>` to a page or config response without one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].rstrip("/") not in {p.rstrip("/") for p in _ISSUING_PATHS}:
            return await self.app(scope, receive, send)
        cookies = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
        if f"{CLIENT_COOKIE}=" in cookies:
            return await self.app(scope, receive, send)
        cookie = f"{CLIENT_COOKIE}={secrets.token_urlsafe(24)}; HttpOnly; SameSite=Lax; Path=/"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def app_kwargs(settings):
    return {"max_body_size": settings.max_body_bytes, "middleware": [Middleware(ClientCookie)]}
