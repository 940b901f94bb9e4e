"""The launched app with the Inside-the-step tab and its /lens and /attention endpoints, for this area's tests.

Once `ui/layout.py` lists `inside_tab.build_inside_tab` among its tab builders (and registers
`api_inside`), `launch()` is plain `app_server.launch()`. Until then it builds the same app, from the
same context, with the tab appended and the endpoints registered next to the others, and hands it
to app_server, so every test module of the process shares that one server.
What is left out: fixtures (each test module defines its own).
"""

import app_server


def wired():
    from ui import inside_tab, layout

    return inside_tab.build_inside_tab in layout.TAB_BUILDERS


def launch():
    if not wired() and app_server._URL is None:
        demo, ctx = app_server.built_app()
        app_server._APP = (_with_inside(ctx), ctx)
    return app_server.launch()


def _with_inside(ctx):
    from ui import api, api_inside, inside_tab, layout

    register = api.register

    def both(ctx):
        endpoints = register(ctx)
        api_inside.register(ctx)
        return endpoints
    api.register = both
    try:
        return layout.build_demo(ctx, layout.TAB_BUILDERS + (inside_tab.build_inside_tab,))
    finally:
        api.register = register
