"""The JavaScript the page runs in the browser, as strings: keys, presenter mode, busy marks, export, import.

- `PAGE_JS` (given to `launch(js=...)`, runs once): → / ← click Step / Undo (key auto-repeat is
  ignored, and so are keys typed into fields); the presenter switch (#presenter-btn, a large-text
  mode remembered in localStorage); a `busy` mark on a chart the moment its button is clicked, so
  a click shows at once that it was taken; #error-toast, an error status drawn out of sight shown
  at the bottom of the screen.
- `clears_busy(*ids)`: a `js_on_load` for a gr.HTML output that takes the `busy` mark off those
  elements whenever its value changes (the answer arrived).
- `CHART_JS`: the same, plus a click on a chart row fires the component's `click` event with the
  row's token id (the Decoder forces it).
- `APPEND_TEMPLATE` + `APPEND_JS`: a gr.HTML that draws its value into a box of its own and, when
  the new value extends the one drawn (a streamed run's chips), adds only the new tail, so the
  browser's work per token does not grow with the text (the template never changes, so Gradio
  leaves the box alone); a value numbered (`paint_order.view_mark`) below one it drew is not drawn.
- `HEADER_JS`: keeps the page title in the header's language.
- `EXPORT_JS` downloads the conversation as a Blob, in the browser (first click, no file on the
  server); `IMPORT_JS` reads a chosen file in the browser (refused above `IMPORT_LIMIT` bytes
  without reading it, and when it is not UTF-8: the browser's reading replaced such bytes by �
  without a word) and hands its text to the server as a plain value (no upload, no temp file).
- `EDITOR_JS`: the JSON editor's text as sent to the server, cut one character past `MAX_JSON_CHARS`
  (a longer text cannot be a conversation, and a 20 MiB paste failed at the body limit: no message,
  the editor blanked, found by hand); the server refuses it in the page's language. `EDITORS_JS`: the
  same for every text an event sends (Compare's A and B).
What is left out: anything that decides what to show (the server renders all HTML).
"""

import json

from visualizer.engine.conversation import MAX_JSON_CHARS

IMPORT_LIMIT = 1_000_000  # bytes of a conversation file
PRESENTER_KEY = "llm-viz-presenter"
BUSY_TARGETS = {
    "step-btn": "next-token-chart", "step10-btn": "next-token-chart", "run-btn": "next-token-chart",
    "undo-btn": "next-token-chart", "reset-btn": "next-token-chart", "force-btn": "next-token-chart",
    "force-typed-btn": "next-token-chart", "compare-step-btn": "compare-charts", "compare-run-btn": "compare-charts",
    "compare-reset-btn": "compare-charts", "compare-pair-btn": "compare-pair-charts",
}

PAGE_JS = """
() => {
  const root = document.documentElement;
  const presenter = (on) => {
    root.classList.toggle('presenter', on);
    document.querySelectorAll('#presenter-btn').forEach((b) => b.setAttribute('aria-pressed', String(on)));
  };
  window.llmVizPresenter = () => presenter(localStorage.getItem(%(key)s) === '1');
  window.llmVizPresenter();
  // An error whose status line is out of sight (scrolled away, or above the fold of a phone) is
  // also shown at the bottom of the screen, as text, until clicked, another tab opened, its status
  // line changed (the next answer), or for 8 s.
  const toast = document.createElement('div');
  toast.id = 'error-toast';
  toast.setAttribute('role', 'alert');
  toast.hidden = true;
  document.body.appendChild(toast);
  toast.addEventListener('click', () => { toast.hidden = true; });
  let hideToast = null;
  const toasted = new Set();  // errors by data-at: Gradio may patch a status in place or draw it anew
  const inSight = (box) => box.top >= 0 && box.bottom <= window.innerHeight;
  let toastedAt = null;  // the error the toast shows: gone from its status line (the next answer), the toast goes too
  new MutationObserver(() => {
    if (!toast.hidden && !document.querySelector(`.status.error[data-at="${toastedAt}"]`)) toast.hidden = true;
    for (const error of document.querySelectorAll('.status.error[data-at]')) {
      if (toasted.has(error.dataset.at)) continue;
      toasted.add(error.dataset.at);
      if (error.offsetParent === null || inSight(error.getBoundingClientRect())) continue;
      toast.textContent = error.textContent;
      toastedAt = error.dataset.at;
      toast.hidden = false;
      clearTimeout(hideToast);
      hideToast = setTimeout(() => { toast.hidden = true; }, 8000);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true,
                             attributeFilter: ['class', 'data-at']});
  const busy = %(busy)s;
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('button');
    if (button && button.id === 'presenter-btn') {
      const on = !root.classList.contains('presenter');
      localStorage.setItem(%(key)s, on ? '1' : '0');
      presenter(on);
      return;
    }
    if (event.target.closest && event.target.closest('[role="tab"], .overflow-dropdown button')) toast.hidden = true;
    const row = event.target.closest && event.target.closest('#next-token-chart .ntc.clickable .ntc-row');
    const target = row ? 'next-token-chart' : button && !button.disabled && busy[button.id];
    if (target) document.getElementById(target)?.classList.add('busy');
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    const field = event.target && event.target.closest &&
      event.target.closest('input, textarea, select, [contenteditable="true"], [role="listbox"]');
    if (field) return;
    const id = {ArrowRight: 'step-btn', ArrowLeft: 'undo-btn'}[event.key];
    const button = id && document.getElementById(id);
    if (button && button.offsetParent !== null && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
}
""" % {"key": json.dumps(PRESENTER_KEY), "busy": json.dumps(BUSY_TARGETS)}


def clears_busy(*ids):
    """js_on_load: after each new value of this component, the `busy` mark leaves these elements."""
    return ("const clear = () => %s.forEach((id) => document.getElementById(id)?.classList.remove('busy'));\n"
            "watch('value', clear);" % json.dumps(list(ids)))


def chart_js(*ids):
    """js_on_load of a clickable chart: a row click fires `click` with {token: id}; new values clear busy."""
    return clears_busy(*ids) + """
element.addEventListener('click', (event) => {
  const row = event.target.closest('.ntc.clickable .ntc-row[data-token]');
  if (row) trigger('click', {token: Number(row.dataset.token)});
});
"""


APPEND_TEMPLATE = '<div class="append-box"></div>'
APPEND_JS = """
const box = element.querySelector('.append-box');
const MARK = /<!--view (\\d+)-->$/;
let shown = '', newest = 0;
const draw = () => {
  let value = props.value || '';
  const mark = MARK.exec(value);
  if (mark) {  // a numbered view (paint_order.view_mark): one older than a view drawn is not drawn
    if (Number(mark[1]) < newest) return;
    newest = Number(mark[1]);
    value = value.slice(0, mark.index);
  }
  if (shown && value.startsWith(shown)) box.insertAdjacentHTML('beforeend', value.slice(shown.length));
  else box.innerHTML = value;
  shown = value;
};
watch('value', draw);
draw();
"""

HEADER_JS = """
const sync = () => {
  const header = element.querySelector('[data-title]');
  if (header) document.title = header.dataset.title;
  window.llmVizPresenter?.();
};
watch('value', sync);
sync();
"""

EXPORT_JS = """
(conversation) => {
  if (!conversation) return;
  const link = document.createElement('a');
  const text = JSON.stringify(conversation, null, 2) + '\\n';
  link.href = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
  link.download = 'conversation.json';
  document.body.appendChild(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
}
"""

IMPORT_JS = """
(previous) => new Promise((resolve) => {
  const input = document.createElement('input');
  input.type = 'file';
  input.accept = '.json,application/json,text/plain';
  input.style.display = 'none';
  document.body.appendChild(input);
  const done = (value) => { input.remove(); resolve(value); };
  input.addEventListener('cancel', () => done(null));
  input.addEventListener('change', async () => {
    const file = input.files && input.files[0];
    if (!file) return done(null);
    let text = null, utf8 = true;
    if (file.size <= %(limit)d) {
      try { text = new TextDecoder('utf-8', {fatal: true}).decode(await file.arrayBuffer()); }
      catch (error) { utf8 = false; }
    }
    done(JSON.stringify({name: file.name, size: file.size, text: text, utf8: utf8}));
  });
  input.click();
})
""" % {"limit": IMPORT_LIMIT}
EDITOR_JS = "(text) => (typeof text === 'string' && text.length > %(limit)d) ? text.slice(0, %(limit)d + 1) : text" % {
    "limit": MAX_JSON_CHARS}
EDITORS_JS = f"(...values) => values.map({EDITOR_JS})"  # the same, for every value of an event's inputs
