"""Room load: 100 attendees (gradio_client threads, loopback) answer one step at once; latency, projector delay, errors.

`python bench/room_load.py [--attendees 100] [--url URL]` launches the room app of the tests
(`tests/room_app.py`: the room endpoints and tab on SmolLM2, the real scheduler and store) unless
--url names a running server (then give --key). An instructor opens a room; the attendees' clients
are made and join; then every attendee answers the same step at the same moment (a guess, from
threads released together), while a projector polls /room_state once a second, the UI timer's
period, and notes when it first saw each answered count. Then the instructor commits, switches to
Sample, and everyone draws with their own seed: the same figures again. gradio_client is heavy on
the client side (a job thread per call), and here the clients share the server's 2 cores, so a
third round (guesses again, after a commit) sends the same calls as plain HTTP POSTs, what a
phone's page costs the server. Printed as JSON:
answer latency p50 / p95 / max (s), the projector's delay from an answer's return to the first
poll that counted it (p50 / p95 / max), how long until the projector showed everyone, the time to
build the projector's views for the full room (in-process), and errors (expected: 0).
What is left out: browsers (each real browser also polls once a second; see tests/test_room_browser.py).
"""

import argparse
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from room_app import INSTRUCTOR_KEY  # noqa: E402

CONVERSATION = [{"role": "user", "content": "Name one fruit that is red."}]
GUESSES = (" apple", " cherry", " strawberry", " tomato", " The", " A", " Straw", " Red")
POLL_S = 1.0


class HttpAttendee:
    """An attendee as a phone's page costs the server: one plain POST per call (no client-side job machinery)."""

    def __init__(self, url):
        self.http = httpx.Client(base_url=url, timeout=120)
        self.http.get("/config").raise_for_status()  # the client cookie, as a page load gets it

    def predict(self, *data, api_name):
        response = self.http.post(f"/gradio_api/run{api_name}", json={"data": list(data)})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:160]}")
        return response.json()["data"][0]


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else None


def summary(values):
    return {"p50": quantile(values, 0.5), "p95": quantile(values, 0.95), "max": max(values) if values else None}


class Projector(threading.Thread):
    """Polls /room_state once a second; keeps (time, answered) of every poll."""

    def __init__(self, url, code):
        super().__init__(daemon=True)
        self.client, self.code = Client(url, verbose=False), code
        self.seen, self.state_s, self.done = [], [], threading.Event()

    def run(self):
        while not self.done.is_set():
            started = time.perf_counter()
            answered = self.client.predict(self.code, api_name="/room_state")["answered"]
            now = time.perf_counter()
            self.state_s.append(now - started)
            self.seen.append((now, answered))
            self.done.wait(max(0.0, POLL_S - (now - started)))

    def delays(self, finished):
        """Per answer (k-th to return): the first poll that counted k or more, minus that return."""
        delays = []
        for k, at in enumerate(sorted(finished), start=1):
            seen = [t for t, answered in self.seen if answered >= k]  # may precede the answer's return: 0
            delays.append(max(0.0, seen[0] - at) if seen else float("inf"))
        return delays


def one_round(url, code, attendees, act):
    """Everyone runs `act(client, index)` at the same moment; -> figures of the round."""
    projector = Projector(url, code)
    projector.start()
    time.sleep(POLL_S)  # the projector has seen the empty step
    gate, finished, latencies, errors = threading.Barrier(len(attendees)), [], [], []
    lock = threading.Lock()

    def attendee(index):
        gate.wait()
        started = time.perf_counter()
        try:
            act(attendees[index], index)
        except Exception as error:  # noqa: BLE001 - counted and shown
            with lock:
                errors.append(f"{type(error).__name__}: {error}"[:200])
            return
        ended = time.perf_counter()
        with lock:
            latencies.append(ended - started)
            finished.append(ended)

    with ThreadPoolExecutor(len(attendees)) as pool:
        list(pool.map(attendee, range(len(attendees))))
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and (not projector.seen or projector.seen[-1][1] < len(finished)):
        time.sleep(0.1)
    projector.done.set()
    projector.join()
    delays = projector.delays(finished)
    everyone = next((t for t, answered in projector.seen if answered >= len(attendees)), None)
    return {"answers": len(latencies), "errors": len(errors), "error_examples": errors[:3],
            "answer_latency_s": summary(latencies), "projector_delay_s": summary(delays),
            "projector_saw_everyone_after_last_answer_s": (everyone - max(finished)) if everyone and finished else None,
            "room_state_latency_s": summary(projector.state_s)}


def projector_render_ms(app, code):
    """Building the projector's views (banner, two figures, chips, timeline) for the room as it is now."""
    from ui.room_charts import answer_figures, timeline_figure
    from ui.room_views import banner_html, chips_html
    from ui.texts import EN

    state = app.rooms.state(code)
    started = time.perf_counter()
    for _ in range(10):
        answer_figures(state, EN)
        timeline_figure(state, EN)
        banner_html(state, "http://127.0.0.1/?room=" + code, EN)
        chips_html(state, EN)
    return (time.perf_counter() - started) * 100


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=100)
    parser.add_argument("--url")
    parser.add_argument("--key", default=None)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.attendees)
    server = None
    if args.url is None:  # the server in its own process: the clients' threads must not share its GIL
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--attendees", str(args.attendees)],
                                  stdout=subprocess.PIPE, text=True, cwd=REPO)
        url, key = json.loads(server.stdout.readline())["url"], INSTRUCTOR_KEY
    else:
        url, key = args.url, args.key
    try:
        instructor = Client(url, verbose=False)
        code = instructor.predict(json.dumps(CONVERSATION), 1.0, 50, 0.95, key, api_name="/room_open")["code"]
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            attendees = list(pool.map(lambda _: Client(url, verbose=False), range(args.attendees)))
            list(pool.map(lambda client: client.predict(code, api_name="/room_join"), attendees))
        setup_s = time.perf_counter() - started
        guess = one_round(url, code, attendees,
                          lambda client, i: client.predict(code, GUESSES[i % len(GUESSES)], api_name="/room_answer"))
        instructor.predict(code, key, "top", api_name="/room_commit")
        instructor.predict(code, key, "sample", api_name="/room_mode")
        sample = one_round(url, code, attendees, lambda client, i: client.predict(code, i, api_name="/room_sample"))
        instructor.predict(code, key, " is", api_name="/room_commit")  # not the room's top: it may end the message
        instructor.predict(code, key, "guess", api_name="/room_mode")
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(lambda _: HttpAttendee(url), range(args.attendees)))
            list(pool.map(lambda page: page.predict(code, api_name="/room_join"), pages))
        plain = one_round(url, code, pages,
                          lambda page, i: page.predict(code, GUESSES[i % len(GUESSES)], api_name="/room_answer"))
        state = instructor.predict(code, api_name="/room_state")
        render_ms = instructor.predict(code, api_name="/room_render_ms") if server is not None else None
        report = {"attendees": args.attendees, "clients_made_and_joined_s": setup_s, "guess_round": guess,
                  "sample_round": sample, "plain_http_guess_round": plain, "final_answered": state["answered"],
                  "final_attendees": state["attendees"], "projector_render_ms": render_ms}
        print(json.dumps(report, indent=2))
        return 0 if guess["errors"] == sample["errors"] == plain["errors"] == 0 else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def serve(attendees):
    """The room app of the tests on SmolLM2, plus /room_render_ms; prints {"url"} and serves until killed."""
    import tempfile

    import gradio as gr

    import room_app

    app = room_app.RoomApp(room_app.smollm2(), tempfile.mkdtemp(prefix="room-load-"),
                           room_app.room_settings(room_max_attendees=max(200, attendees)))
    def render_ms(code: str) -> float:
        return projector_render_ms(app, code)

    with app.demo:
        gr.api(render_ms, api_name="room_render_ms")
    print(json.dumps({"url": app.launch()}), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
