"""A script for a browser page that records every streamed message from the Gradio server, with its size.

Added with `context.add_init_script(STREAM_RECORDER)`: it wraps `window.fetch` and, for the
queue's event stream, appends {"msg", "bytes", "event_id"} to `window.__streamed` for each
server-sent message, while the page reads the stream as usual. Used by the browser tests (is each
streamed token's message the same size?) and by bench/browser_bench.py.
What is left out: anything about the app (it works on any Gradio 6 page).
"""

STREAM_RECORDER = """
window.__streamed = [];
const originalFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await originalFetch(...args);
  const url = typeof args[0] === 'string' ? args[0] : (args[0] && args[0].url) || '';
  if (!url.includes('/queue/data') || !response.body) return response;
  const [mine, theirs] = response.body.tee();
  (async () => {
    const reader = mine.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf('\\n\\n')) >= 0) {
        const message = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const line = message.split('\\n').find((l) => l.startsWith('data:'));
        if (!line) continue;
        try {
          const data = JSON.parse(line.slice(5));
          window.__streamed.push({msg: data.msg, bytes: line.length, event_id: data.event_id});
        } catch (error) {}
      }
    }
  })();
  return new Response(theirs, {status: response.status, statusText: response.statusText, headers: response.headers});
};
"""
