"""Gradio's browser client shows every click's answer, in the order the clicks were made.

Two races in Gradio 6.31's browser client, both seen in CI on a loaded machine, both shown by a
browser test that fails without the fix here:
1. A click made while Gradio closes the page's event stream is never shown. Gradio sends a page's
   answers over one server-sent event stream (`/queue/data`), which the server closes
   (`close_stream`) when an answer goes out and no other event of the page is pending; the client
   opens a new stream for a new event only if it has not yet handled that close. A click whose join
   is answered just before the client handles a close sent just before the join arrived (the two
   come over different connections) is made by the server and not drawn until some later event
   opens a stream again (CI: the last of three quick ← never drawn; the test hands the page the
   close 1.5 s late). Here a `close_stream` that comes while a join is unanswered or an event
   unfinished is held back, and when the server ends that response the same request is opened
   again and feeds the same stream, so the client never sees that close. Any other close goes
   through (an open stream lets an answer come before its join is answered, which is race 2's
   case); if the new request fails, the client gets the held close and Gradio's behaviour resumes.
2. An older click's answer is drawn over a newer one. The client keeps an answer that comes before
   its event's join is answered and draws it when the join is: a join answered late (a loaded
   server answers joins on several connections, in any order) drew its Step's chart and panels
   after the next Step's (the test answers one join 2 s late). Here joins reach the client in the
   order they were sent, each once the client has read the one before (or after JOIN_READ_MS):
   with the server sending answers in click order (`paint_order`), an answer is then drawn when
   both it and its join are in, and neither comes before an older click's.
`STREAM_KEEPER_HEAD` is a `<script>` for `launch(head=...)`, so that it wraps `window.fetch` before
Gradio's client runs. What is left out: Gradio's Python client (the API), which waits on each event
on its own.
"""

STREAM_KEEPER_HEAD = """<script>
(() => {
  const originalFetch = window.fetch;
  const CLOSE = 'data: {"msg":"close_stream"';
  const JOIN_READ_MS = 1000;
  const COMPLETED = /^data: \\{"msg":"process_completed","event_id":"([^"]+)"/;
  let joining = 0;  // joins sent, not yet answered
  const unfinished = new Set();  // events joined, not yet completed
  const early = new Set();  // events completed before their join was answered
  let joinsTaken = Promise.resolve();  // every join sent before this one has been read by the client
  const join = async (input, init) => {
    joining += 1;
    const before = joinsTaken;
    let taken;
    joinsTaken = new Promise((done) => { taken = done; });
    const release = () => setTimeout(taken, 0);  // after the client's own steps on the answer it read
    try {
      let response;
      try { response = await originalFetch(input, init); } catch (error) { await before; release(); throw error; }
      const text = await response.text();
      await before;
      try {
        const id = JSON.parse(text).event_id;
        if (id && !early.delete(id)) unfinished.add(id);
      } catch (error) {}
      const answer = new Response(text, {status: response.status, statusText: response.statusText,
                                         headers: response.headers});
      const read = answer.json.bind(answer);
      answer.json = async () => { try { return await read(); } finally { release(); } };
      setTimeout(taken, JOIN_READ_MS);  // a client that never reads it does not hold the next join back
      return answer;
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
