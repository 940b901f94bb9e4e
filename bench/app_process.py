"""The app as a child process on a loopback port, and gradio_client clients for it: what the load,
fault and hardening tests and benchmarks share.

`AppServer(env=..., cache_dir=...)` runs `python app.py --host 127.0.0.1 --port <free port>`;
`start()` waits until it answers, `stop(kill=True)` is a crash, `start()` again reuses the port.
`client(url)` is one gradio_client session (its own cookie); `QueueClient(url)` one session that reads
its answers as a browser page does (see its docstring); `stats(api)` the server's /stats,
`step_ms(api)` times one /step, `settle(api)` waits until it stops stepping;
`rss(server)` its resident memory. Traffic goes to 127.0.0.1 only.
What is left out: what the tests do with them.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CACHE_DIR = Path(os.environ.get("LLM_VIZ_CACHE") or ROOT / ".cache" / "models")
MODEL_DIR_NAME = "smollm2-135m-instruct"  # the converted model inside a cache dir
STARTUP_TIMEOUT_S = 180  # the first start converts the model (about 20 s); later ones take seconds
CALL_TIMEOUT_S = 120  # one API call, however loaded the server is

# Loopback only: no proxy may see this traffic, and nothing phones home.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(
    filter(None, [os.environ.get("NO_PROXY"), HOST, "localhost"]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port():
    """A loopback port nobody listens on now (gradio's server_port=0 does not work)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cache_dir_copy(target):
    """A fresh --cache-dir that links the converted model (no 20 s conversion) and holds its own
    browser-state secret; -> target."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    link = target / MODEL_DIR_NAME
    if not link.exists() and (CACHE_DIR / MODEL_DIR_NAME).is_dir():
        link.symlink_to((CACHE_DIR / MODEL_DIR_NAME).resolve(), target_is_directory=True)
    return target


class AppServer:
    """`python app.py` on 127.0.0.1:<port> as a child process. `start()` waits until it answers HTTP;
    `stop(kill=True)` is a crash (SIGKILL), `stop()` a clean stop; `start()` again reuses the port.
    A context manager: always stopped on the way out. Its output goes to `log_path`."""

    def __init__(self, cache_dir=CACHE_DIR, port=None, env=None, log_path=None):
        self.cache_dir = Path(cache_dir)
        self.port = port or free_port()
        self.env = dict(env or {})
        if log_path is None:
            handle, log_path = tempfile.mkstemp(prefix="llm-viz-server-", suffix=".log")
            os.close(handle)
        self.log_path = Path(log_path)
        self.process = None

    @property
    def url(self):
        return f"http://{HOST}:{self.port}/"

    def start(self, timeout_s=STARTUP_TIMEOUT_S):
        assert self.process is None, "already started"
        env = {key: value for key, value in os.environ.items() if not key.startswith("LLM_VIZ_")}
        env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   PYTHONUNBUFFERED="1", LLM_VIZ_CACHE=str(self.cache_dir), **self.env)
        command = [sys.executable, str(ROOT / "app.py"), "--host", HOST, "--port", str(self.port),
                   "--cache-dir", str(self.cache_dir)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop(kill=True)
            raise
        return self.url

    def _wait_ready(self, timeout_s):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with opener.open(self.url + "config", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"app.py did not answer on {self.url} within {timeout_s} s:\n{self.log_tail()}")

    def stop(self, kill=False):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def log_tail(self, chars=3000):
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self):
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def client(url):
    """A gradio_client.Client: one new server session, no telemetry, few threads. Its `close()`
    ends its heartbeat, and the server then drops its session (demo.unload)."""
    from gradio_client import Client

    return Client(url, verbose=False, max_workers=2, analytics_enabled=False, download_files=False,
                  httpx_kwargs={"timeout": CALL_TIMEOUT_S})


class QueueClient:
    """An API session that calls through Gradio's queue as a browser page does: POST /queue/join, then
    the event stream of /queue/data read as it arrives. gradio_client polls its received messages
    every 50 ms (`stream_sse_v1plus`), which rounds every call it times up to its next tick (an idle
    /step read 100 or 125 ms from one run to the next); this client adds no such wait. Same
    `predict(*data, api_name=...)` as a gradio_client Client, for the calls the benches make."""

    def __init__(self, url):
        import httpx

        self.http = httpx.Client(base_url=url, timeout=CALL_TIMEOUT_S)
        config = self.http.get("/config").json()  # also gives this session its client cookie
        self.fn_index = {dep["api_name"]: dep["id"] for dep in config["dependencies"] if dep.get("api_name")}
        endpoints = self.http.get("/gradio_api/info").json()["named_endpoints"]
        self.defaults = {name.lstrip("/"): [p.get("parameter_default") for p in info["parameters"]]
                         for name, info in endpoints.items()}  # what gradio_client fills in for left-out arguments
        self.session_hash = secrets.token_hex(8)

    def predict(self, *data, api_name):
        name = api_name.lstrip("/")
        data = list(data) + self.defaults.get(name, [])[len(data):]
        joined = self.http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": self.fn_index[name], "session_hash": self.session_hash,
            "event_data": None, "trigger_id": None})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    if not message.get("success"):
                        raise RuntimeError(f"{api_name}: {message.get('output', {}).get('error')}")
                    return message["output"]["data"][0]
        raise RuntimeError(f"{api_name}: the event stream ended without an answer")

    def close(self):
        self.http.close()


def stats(api):
    """The server's figures (/stats): sessions, evictions, refused, batches and batched steps (forward
    passes and the steps they served), pool bytes, rss_bytes..."""
    return api.predict(api_name="/stats")


def step_ms(api):
    """Milliseconds one /step of `api`'s session takes, as its client sees it."""
    started = time.perf_counter()
    api.predict(api_name="/step")
    return (time.perf_counter() - started) * 1000.0


def settle(api, quiet_s=0.5, timeout_s=60):
    """Wait until the server has made no step for `quiet_s` (its runs are over); AssertionError after
    `timeout_s`."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        now = stats(api)["batched_steps"]
        if now == last:
            return
        last = now
        time.sleep(quiet_s)
    raise AssertionError("the server kept stepping")


def rss(server):
    """Resident memory of the server's process, in bytes."""
    from visualizer.serving.memory import rss_bytes

    return rss_bytes(server.process.pid)
