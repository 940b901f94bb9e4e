"""A click made while Gradio closes the page's event stream is still answered: that close is held back.

Gradio 6.31 sends a page's answers over one server-sent event stream (`/queue/data`), which the
server closes (`close_stream`) when an answer goes out and no other event of the page is pending.
Its browser client opens a new stream for a new event only if it has not yet handled that close: a
click whose join is answered just before the client handles a `close_stream` sent just before the
join arrived (a loaded page or server: the two come over different connections) is made by the
server and never shown, until some later event opens a stream again. CI saw it as the last of
three quick ← never drawn (the server had made it: 2 tokens, the page 3 chips); a browser test
that hands the page the close 1.5 s late shows it (a Step made, its chip never drawn).
`STREAM_KEEPER_HEAD` (a `<script>` for `launch(head=...)`, so it runs before Gradio's client)
wraps `window.fetch` for `/queue/join` (counting joins not yet answered, and events joined and not
yet completed) and `/queue/data`: a `close_stream` that comes while a join is unanswered or an event
unfinished is held back, and when the server ends that response the wrapper opens the same request
again and goes on feeding the same stream, so the client never sees that close. Any other close
goes through: the stream is not kept open longer than Gradio keeps it (an open stream lets an
event's answer come before its join is answered, and Gradio's client then draws it when the join is
answered, possibly after a newer answer: seen in tests when the stream was always kept open). If
the new request fails or is refused, the client gets the held close and Gradio's behaviour resumes.
What is left out: Gradio's Python client (the API), which waits on each event on its own.
"""

STREAM_KEEPER_HEAD = """<script>
(() => {
  const originalFetch = window.fetch;
  const CLOSE = 'data: {"msg":"close_stream"';
  const COMPLETED = /^data: \\{"msg":"process_completed","event_id":"([^"]+)"/;
  let joining = 0;  // joins sent, not yet answered
  const unfinished = new Set();  // events joined, not yet completed
  const early = new Set();  // events completed before their join was answered
  const join = async (input, init) => {
    joining += 1;
    try {
      const response = await originalFetch(input, init);
      try {
        const id = (await response.clone().json()).event_id;
        if (id && !early.delete(id)) unfinished.add(id);
      } catch (error) {}
      return response;
    } finally { joining -= 1; }
  };
  window.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    if (url.includes('/queue/join')) return join(input, init);
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
            const completed = COMPLETED.exec(message);
            if (completed && !unfinished.delete(completed[1])) early.add(completed[1]);
            if (message.startsWith(CLOSE) && (joining > 0 || unfinished.size > 0)) held = message;
            else out += message;
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
