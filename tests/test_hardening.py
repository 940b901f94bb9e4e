"""A public server that no stranger and no crowd can break: the attacks of the hardening issue as tests.

One `python app.py` on a loopback port (bench/app_process.py) with the API's new-token cap set to 64.
Checked, each through HTTP as an outsider would send it:
- 1,000 /step POSTs with made-up session hashes (with and without a client cookie) create no
  session, and an honest attendee keeps every token;
- knowing another client's session hash is not enough to drive it;
- bodies of 20 MiB (a message row's input event), 100 MiB (an upload) and 200 MiB (chunked) are
  refused with 413 before they are read, and the server's memory stays put;
- the server's new-token cap applies to /start and /run;
- a cancelled API run stops within a step or two, and runs do not starve a click;
- after a restart an API client is told to call /start.
The full-size figures (40 runs, 8,000-token prompts, 3 rounds of 40 clients) are bench/hardening.py's.
"""

import http.client
import json
import secrets
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client.exceptions import AppError

from ui.api import RUN_ANSWER_S

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from app_process import AppServer, client, rss, settle, stats  # noqa: E402

pytestmark = pytest.mark.load

CAP = 128  # a run long enough that a cancel half a second in lands before its end on a fast machine
MIB = 2**20
STORY = json.dumps([{"role": "user", "content": "Write a long story about a lighthouse keeper."}])


@pytest.fixture(scope="module")
def server():
    with AppServer(env={"LLM_VIZ_MAX_NEW_TOKENS": str(CAP), "OMP_NUM_THREADS": "1"}) as running:
        yield running


def post(url, path, payload, cookie=None):
    request = urllib.request.Request(url.rstrip("/") + path, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def result_of(url, path, event_id):
    """The SSE answer of a /gradio_api/call/ event: (event name, data)."""
    with urllib.request.urlopen(f"{url.rstrip('/')}{path}/{event_id}", timeout=60) as response:
        lines = response.read().decode().splitlines()
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event: ")]
    data = [line.split(": ", 1)[1] for line in lines if line.startswith("data: ")]
    return events[-1], data[-1]


def client_cookie(url):
    with urllib.request.urlopen(url + "config", timeout=30) as response:
        return response.headers["set-cookie"].split(";")[0]


def test_made_up_session_hashes_create_nothing_and_an_honest_attendee_keeps_every_token(server):
    honest = client(server.url)
    honest.predict(STORY, api_name="/start")
    ids = [honest.predict(api_name="/step")["ids"] for _ in range(3)][-1]
    before = stats(honest)
    cookie = client_cookie(server.url)
    events, lock = [], threading.Lock()

    def attack(count, with_cookie):
        for _ in range(count):
            answer = post(server.url, "/gradio_api/call/step", {"data": [], "session_hash": secrets.token_hex(8)},
                          cookie if with_cookie else None)
            with lock:
                events.append(answer["event_id"])
    threads = [threading.Thread(target=attack, args=(125, n % 2 == 0)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(events) == 1000
    outcomes = [result_of(server.url, "/gradio_api/call/step", event) for event in events[::50]]
    assert {name for name, _ in outcomes} == {"error"}
    after = stats(honest)
    assert after["sessions"] == before["sessions"] and after["dropped"] == before["dropped"]
    stepped = honest.predict(api_name="/step")
    assert stepped["ids"][:3] == ids and len(stepped["ids"]) == 4
    honest.close()


def test_knowing_a_session_hash_is_not_enough_to_drive_it(server):
    owner, stranger = client(server.url), client(server.url)
    owner.predict(STORY, api_name="/start")
    ids = owner.predict(api_name="/step")["ids"]
    stranger.session_hash = owner.session_hash
    for endpoint, args in (("/step", ()), ("/undo", ()), ("/run", (3,)), ("/start", (STORY,))):
        with pytest.raises(AppError, match="belongs to another browser or client"):
            stranger.predict(*args, api_name=endpoint)
    assert owner.predict(api_name="/step")["ids"][:1] == ids and stats(owner)["refused"] >= 4
    owner.close()


def send_body(url, path, size, chunked=False):
    """POST `size` bytes of junk (declared up front, or chunked); -> HTTP status, or None if the server
    cut the connection before answering."""
    host, port = url.split("//")[1].strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/json"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(size)
    connection.putrequest("POST", path)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    block = b'"' + b"x" * (MIB - 2) + b'"'
    try:
        for _ in range(size // MIB):
            connection.send(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
        if chunked:
            connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        return connection.getresponse().status
    except (ConnectionResetError, http.client.RemoteDisconnected):
        return None
    finally:
        connection.close()


def test_oversized_bodies_are_refused_before_they_are_read(server):
    before = rss(server)
    assert send_body(server.url, "/gradio_api/queue/join", 20 * MIB) == 413  # a 20 MiB message row
    assert send_body(server.url, "/gradio_api/upload", 100 * MIB) in (413, None)
    assert send_body(server.url, "/gradio_api/queue/join", 200 * MIB, chunked=True) in (413, None)
    assert rss(server) - before < 50 * MIB


def test_the_new_token_cap_holds_for_the_api(server):
    api = client(server.url)
    with pytest.raises(AppError, match=f"max new tokens must be between 1 and {CAP}"):
        api.predict(STORY, None, None, None, 0, 1024, api_name="/start")
    api.predict(STORY, api_name="/start")
    with pytest.raises(AppError, match=f"steps must be between 1 and {CAP}"):
        api.predict(CAP + 1, api_name="/run")
    api.close()


def test_runs_do_not_starve_a_click_and_a_cancelled_run_stops_within_a_step(server):
    attendee = client(server.url)
    attendee.predict(STORY, api_name="/start")
    runners = [client(server.url) for _ in range(4)]
    jobs = []
    for runner in runners:
        runner.predict(STORY, api_name="/start")
        jobs.append(runner.submit(CAP, api_name="/run"))
    while min(len(job.outputs()) for job in jobs) < 1:  # every run is going (its first answer came)
        time.sleep(0.01)
    during_runs = 0
    while during_runs < 5 and not any(job.done() for job in jobs):
        attendee.predict(api_name="/step")  # it waits for the pass in flight at most, not for the tokens queued
        assert stats(attendee)["last_click_wait"] <= 1
        during_runs += not any(job.done() for job in jobs)  # the runs still went when it was answered
    assert during_runs >= 2
    for job in jobs:
        job.cancel()
    settle(attendee)
    runner = runners[0]
    prompt_length = len(runner.predict(STORY, api_name="/start")["ids"])  # a fresh message
    job = runner.submit(CAP, api_name="/run")
    while len(job.outputs()) < 2:
        time.sleep(0.005)
    answers = len(job.outputs())
    while len(job.outputs()) == answers and not job.done():  # just after an answer: the next is half a second away
        time.sleep(0.002)
    shown = len(job.outputs()[-1]["ids"])
    per_answer = len(job.outputs()[-1]["steps"])  # the steps of half a second (RUN_ANSWER_S)
    before_cancel = stats(attendee)["batched_steps"]
    sent = time.perf_counter()
    job.cancel()  # returns once the server has the cancel
    cancel_trip = time.perf_counter() - sent
    settle(attendee)
    after_cancel = stats(attendee)["batched_steps"] - before_cancel
    # Gradio alone lets a run go on to its next answer, RUN_ANSWER_S (half a second) after the last one:
    # per_answer steps (11-20 on the project's AMD machine, 4-6 on its slower Xeon). With the cancel hook it
    # stops within a step of the cancel: allowed are the step in flight, one begun while the stats answer
    # travelled, and those that fit in the cancel's round trip, which must leave Gradio's case apart.
    step_s = RUN_ANSWER_S / per_answer
    allowed = 2 + int(cancel_trip / step_s)
    assert allowed < per_answer, (allowed, per_answer, cancel_trip)
    assert after_cancel <= allowed, (after_cancel, allowed, per_answer, cancel_trip)
    kept = len(runner.predict(api_name="/undo")["ids"]) + 1
    assert shown <= kept < prompt_length + CAP  # stopped before its end; nothing the client was shown is lost
    for api in runners + [attendee]:
        api.close()


def test_after_a_restart_an_api_client_is_told_to_call_start(server):
    api = client(server.url)
    api.predict(STORY, api_name="/start")
    api.predict(api_name="/step")
    server.stop(kill=True)
    server.start()
    with pytest.raises(Exception, match="call /start"):
        api.predict(api_name="/step")
    api.close()
