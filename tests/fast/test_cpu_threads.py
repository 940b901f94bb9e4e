"""One OpenMP pool in a server process: threads that keep serial make none, the loading thread gives its back.

libgomp gives each thread that runs a parallel op a pool of (intra-op threads - 1) workers, kept
while that thread lives; the checks count the process's OS threads (/proc/self/task) around such an
op, in a fresh interpreter so that no other thread of the test run comes or goes meanwhile. The
counting is shown able to fail: a thread that does not keep serial does make a pool.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from visualizer.engine.cpu_threads import _OPENMP, set_this_thread
from visualizer.serving.rooms import RoomStore
from visualizer.serving.sessions import SessionStore
from visualizer.serving.settings import ServerSettings

REPO = Path(__file__).resolve().parents[2]
needs_pools = pytest.mark.skipif(
    _OPENMP is None or torch.get_num_threads() < 2 or not Path("/proc/self/task").exists(),
    reason="needs torch's OpenMP runtime, two intra-op threads and Linux's /proc")

POOLS = """
import json, os, threading, time, torch
from visualizer.engine.cpu_threads import keep_serial, release_pool
def tasks():
    return len(os.listdir("/proc/self/task"))
values = torch.randn(400_000)
values.exp()  # the main thread's pool, as loading the model makes it
base = tasks()
def new_threads_of_an_op(serial, out):
    if serial:
        keep_serial()
    before = tasks()
    values.exp()
    out.append(tasks() - before)
def settle():
    deadline = time.monotonic() + 10
    while tasks() > base and time.monotonic() < deadline:  # an ended thread's pool ends after it
        time.sleep(0.01)
made = {}
for serial in (False, True):
    out = []
    thread = threading.Thread(target=new_threads_of_an_op, args=(serial, out))
    thread.start()
    thread.join()
    made[str(serial)] = out[0]
    settle()  # else the next count could see this pool's workers end
before = tasks()
release_pool()
made["released"] = before - tasks()
made["workers"] = torch.get_num_threads() - 1
print(json.dumps(made))
"""


def run_isolated(code, env=None):
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@needs_pools
def test_a_thread_that_keeps_serial_makes_no_pool_and_a_released_pool_ends_its_workers():
    made = json.loads(run_isolated(POOLS))
    assert made["False"] == made["workers"] >= 1  # the counting sees a pool being made...
    assert made["True"] == 0  # ...and keep_serial makes none
    assert made["released"] == made["workers"]


def test_set_this_thread_changes_the_calling_thread_alone_and_returns_the_count_before():
    main = torch.get_num_threads()
    seen = []

    def other():
        before = set_this_thread(1)
        seen.append((before, torch.get_num_threads()))
        set_this_thread(before)
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    expected_inside = 1 if _OPENMP is not None else main
    assert seen == [(main, expected_inside)] and torch.get_num_threads() == main


def test_session_and_room_requests_keep_their_threads_serial(tiny, tmp_path):
    sessions = SessionStore(ServerSettings(), lambda: object())
    rooms = RoomStore(tiny, None, ServerSettings(instructor_key="k"), tmp_path / "rooms.jsonl")
    seen = {}

    def session_request():
        with sessions.use("key-of-a-session", "owner", create=True):
            seen["session"] = torch.get_num_threads()

    def room_request():
        try:
            rooms.state("NOPE")  # refused (no such room), after the thread was made serial
        except Exception:  # noqa: BLE001 - the refusal is not what this test checks
            pass
        seen["room"] = torch.get_num_threads()
    for request in (session_request, room_request):
        thread = threading.Thread(target=request)
        thread.start()
        thread.join()
    expected = 1 if _OPENMP is not None else torch.get_num_threads()
    assert seen == {"session": expected, "room": expected}


def test_the_app_asks_openmp_workers_to_spin_briefly_before_torch_loads():
    code = "import os; import app; import torch; print(os.environ.get('GOMP_SPINCOUNT'))"
    env = {key: value for key, value in os.environ.items() if key != "GOMP_SPINCOUNT"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**env, "PYTHONPATH": str(REPO)})
    assert done.stdout.strip().splitlines()[-1] == "1000", done.stderr[-2000:]


def test_without_the_openmp_runtime_a_request_thread_leaves_the_process_threads_alone(monkeypatch):
    """keep_serial cannot be per thread there, and torch's process-wide setting would make the model
    thread serial too (the fallback of set_this_thread did, found in review)."""
    from visualizer.engine import cpu_threads

    threads = torch.get_num_threads()
    monkeypatch.setattr(cpu_threads, "_OPENMP", None)
    monkeypatch.setattr(cpu_threads, "_SERIAL", threading.local())
    try:
        seen = []
        for work in (cpu_threads.keep_serial, lambda: seen.append(torch.get_num_threads())):
            thread = threading.Thread(target=work)  # a request thread, then a thread that starts after it
            thread.start()
            thread.join()
        assert seen == [threads] and torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(threads)
