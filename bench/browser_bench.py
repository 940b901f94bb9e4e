"""Browser benchmark: Run to end and Step as an attendee sees them (Playwright, Chromium), next to the engine.

Measured in one run on the default model (SmolLM2-135M, float32 on the CPU):
(a) run to end over 256 new tokens through the browser: tokens/s over the first 32 and the last 32
    tokens, timed by when each chip appears on the page (a MutationObserver in the page); next to
    the engine's own run to end on the same prompt (a Workspace decoder, no server, no browser),
    first 32, last 32 and overall. Goal: the browser's last 32 >= 0.9 x its first 32.
    Also the size of the streamed messages (median bytes, tokens 3-22 and the last 20): constant
    when each token sends only what changed.
(b) Step: click -> chart drawn (from the click to the chart showing the new step, in the page),
    minus the server's step time (the step record's ms, shown in the step panel), median over 20
    steps. Goal: <= 80 ms.
The app runs as its own process (`python app.py` on a free port), as in a workshop; the engine is
measured in this process while the app is not running. Prints a markdown table and the machine's
load (other processes on the cores skew every number: run it on a quiet machine).
What is left out: many attendees at once (`load_test.py`).
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))
from stream_recorder import STREAM_RECORDER  # noqa: E402
from visualizer.engine.engine import Engine  # noqa: E402
from visualizer.engine.models import CACHE_ENV, load_model  # noqa: E402
from visualizer.engine.workspace import DecodeOptions, Workspace  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper who finds a message "
                                      "in a bottle."}]
WINDOW = 32
RATE_GOAL = 0.9
CLICK_GOAL_MS = 80

CHIP_TIMES = """
() => {
  window.__chipTimes = [];
  const box = document.querySelector('#generated-text');
  new MutationObserver(() => {
    const count = box.querySelectorAll('.chip').length;
    while (window.__chipTimes.length < count) window.__chipTimes.push(performance.now());
  }).observe(box, {childList: true, subtree: true});
}
"""
CLICK_TO_CHART = """
(step) => new Promise((resolve) => {
  const chart = document.querySelector('#next-token-chart');
  const drawn = () => chart.querySelector(`.ntc[data-step="${step}"]`);
  const started = performance.now();
  const observer = new MutationObserver(() => {
    if (drawn()) { observer.disconnect(); resolve(performance.now() - started); }
  });
  observer.observe(chart, {childList: true, subtree: true, attributes: true});
  document.getElementById('step-btn').click();
})
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args()
    cache_dir = os.environ.get(CACHE_ENV) or str(ROOT / ".cache" / "models")
    print(machine())

    engine_times = engine_run(cache_dir, args.tokens)
    port = free_port()
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--cache-dir", cache_dir], cwd=ROOT,
                           env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/")
        browser_times, sizes, clicks = browser_run(f"http://127.0.0.1:{port}/", args.tokens, args.clicks)
    finally:
        app.terminate()
        app.wait(30)

    print("\n| run to end | tokens | first 32 (tokens/s) | last 32 (tokens/s) | last / first | overall (tokens/s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, times in (("through the browser", browser_times), ("engine alone (Workspace decoder)", engine_times)):
        first, last, overall = rates(times)
        print(f"| {name} | {len(times)} | {first:.1f} | {last:.1f} | {last / first:.2f} | {overall:.1f} |")
    print(f"\nstreamed message per token, median bytes: tokens 3-22 {statistics.median(sizes[2:22]):.0f}, "
          f"last 20 {statistics.median(sizes[-21:-1]):.0f}")
    first, last, _ = rates(browser_times)
    print(f"\nbrowser last 32 / first 32 = {last / first:.2f} (goal >= {RATE_GOAL}): "
          f"{'PASS' if last / first >= RATE_GOAL else 'MISS'}")
    drawn = [total - server for total, server in clicks]
    median = statistics.median(drawn)
    print(f"\nStep, click -> chart drawn, median of {len(clicks)}: {statistics.median(t for t, _ in clicks):.0f} ms; "
          f"server step time (record ms) median {statistics.median(s for _, s in clicks):.0f} ms; "
          f"difference median {median:.0f} ms (min {min(drawn):.0f}, max {max(drawn):.0f}; "
          f"goal <= {CLICK_GOAL_MS} ms): "
          f"{'PASS' if median <= CLICK_GOAL_MS else 'MISS'}")
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")


def engine_run(cache_dir, tokens):
    """Chip-equivalent times (s) of each token of a run to end on the engine alone."""
    loaded = load_model("smollm2", cache_dir=cache_dir, report=lambda message: None)
    workspace = Workspace(loaded, Engine.create(loaded), options=DecodeOptions(max_new_tokens=tokens))
    workspace.set_conversation(PROMPT)
    decoder = workspace.decoder()
    decoder.start()
    times = []
    for _ in decoder.run():
        times.append(time.perf_counter())
    decoder.evict()
    return times


def browser_run(url, tokens, clicks):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_init_script(STREAM_RECORDER)
        page = context.new_page()
        page.set_default_timeout(600_000)
        open_on_decoder(page, url, PROMPT)
        box = page.locator("#max-new input")
        box.fill(str(tokens))
        box.press("Tab")
        page.evaluate(CHIP_TIMES)
        page.click("#run-btn")
        page.wait_for_selector("#decoder-status .status.done")
        run_times = [t / 1000 for t in page.evaluate("window.__chipTimes")]
        sizes = [m["bytes"] for m in page.evaluate("window.__streamed") if m["msg"] == "process_generating"]

        page.click("#reset-btn")
        page.wait_for_function("document.querySelectorAll('#generated-text .chip').length === 0")
        page.wait_for_selector("#next-token-chart .ntc[data-preview='1']")
        measured = []
        for step in range(1, clicks + 1):
            total = page.evaluate(CLICK_TO_CHART, step)
            page.wait_for_function(f"document.querySelector('#step-stats b')?.textContent === '{step}'")
            server_ms = float(page.locator("#step-stats .stats > div").nth(3).locator("b").inner_text())
            measured.append((total, server_ms))
        browser.close()
    return run_times, sizes, measured


def open_on_decoder(page, url, conversation):
    """Load the app in `page`, put `conversation` in through the JSON editor (its first message must
    mention a lighthouse) and open the Decoder tab, its preview drawn."""
    page.goto(url)
    page.wait_for_selector("#app-header [data-ready]", state="attached")
    page.wait_for_selector("#message-rows textarea")
    page.locator("#conversation-json .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(conversation))
    page.click("#apply-json-btn")
    page.wait_for_function("[...document.querySelectorAll('#message-rows textarea')]"
                           ".some(t => t.value.includes('lighthouse'))")
    page.click("#decoder-tab-button")
    page.wait_for_selector("#next-token-chart .ntc[data-preview='1']")


def rates(times):
    """(tokens/s over the first WINDOW tokens, over the last WINDOW, overall) from per-token times."""
    first = WINDOW / (times[WINDOW] - times[0])
    last = WINDOW / (times[-1] - times[-1 - WINDOW])
    overall = (len(times) - 1) / (times[-1] - times[0])
    return first, last, overall


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app did not answer at {url} within {timeout} s")


def machine():
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f}, python {platform.python_version()}")


if __name__ == "__main__":
    main()
