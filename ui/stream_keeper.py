"""The page's event stream stays open: a click made while Gradio closes it is still answered.

Gradio 6.31 sends a page's answers over one server-sent event stream (`/queue/data`), which the
server closes (`close_stream`) when an answer goes out and no other event of the page is pending.
Its browser client opens a new stream for a new event only if it has not yet handled that close: a
click whose join is answered just before the client handles a `close_stream` sent just before the
join arrived (a loaded page or server: the two come over different connections) is made by the
server and never shown, until some later event opens a stream again. CI saw it as the last of
three quick ← never drawn (the server had made it: 2 tokens, the page 3 chips); a browser test
that hands the page the close 0.4 s late shows it (a Step made, its chip never drawn).
`STREAM_KEEPER_HEAD` (a `<script>` for `launch(head=...)`, so it runs before Gradio's client)
wraps `window.fetch` for `/queue/data` only: a `close_stream` message is held back, and when the
server ends that response the wrapper opens the same request again and goes on feeding the same
stream, so the client never sees its stream closed (an idle page holds one request, which the
server keeps alive with a heartbeat every 15 s). If the new request fails or is refused, the
client gets the held `close_stream` and Gradio's own behaviour takes over.
What is left out: Gradio's Python client (the API), which waits on each event on its own.
"""

STREAM_KEEPER_HEAD = """<script>
(() => {
  const originalFetch = window.fetch;
  const CLOSE = 'data: {"msg":"close_stream"';
  window.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    if (!url.includes('/queue/data')) return originalFetch(input, init);
    const response = await originalFetch(input, init);
    if (!response.ok || !response.body) return response;
    const encoder = new TextEncoder(), decoder = new TextDecoder();
    let reader = response.body.getReader(), buffer = '', held = null;
    const body = new ReadableStream({
      async pull(controller) {
        for (;;) {
          let chunk;
          try { chunk = await reader.read(); } catch (error) { controller.error(error); return; }
          if (chunk.done) {
            if (held === null) { if (buffer) controller.enqueue(encoder.encode(buffer)); controller.close(); return; }
            let again = null;
            try { again = await originalFetch(input, init); } catch (error) { again = null; }
            if (!again || !again.ok || !again.body) {  // the session is gone: Gradio's own close
              controller.enqueue(encoder.encode(held)); controller.close(); return;
            }
            reader = again.body.getReader(); buffer = ''; held = null;
            continue;
          }
          buffer += decoder.decode(chunk.value, {stream: true});
          let out = '', cut;
          while ((cut = buffer.indexOf('\\n\\n')) >= 0) {
            const message = buffer.slice(0, cut + 2);
            buffer = buffer.slice(cut + 2);
            if (message.startsWith(CLOSE)) held = message; else out += message;
          }
          if (out) { controller.enqueue(encoder.encode(out)); return; }
        }
      },
      cancel(reason) { return reader.cancel(reason); },
    });
    return new Response(body, {status: response.status, statusText: response.statusText, headers: response.headers});
  };
})();
</script>"""
