"""Rooms on disk: one small JSON file under the cache dir, written atomically, about once a second at most.

`RoomFile(path, model_name)`: `load()` -> the saved room snapshots (a missing file gives none; an
unreadable one, or one written for another model, gives none with a warning on the log);
`save_soon(collect)` asks for a write: a background thread waits `interval` seconds (so a burst of
answers is one write), calls `collect()` for the snapshots, writes them to a temporary file in the
same folder, fsyncs it and renames it over the old file, so a crash leaves the old file or the new
one, never part of one. `flush()` writes at once (shutdown, tests); `close()` flushes and stops the thread.
A crash loses at most the last `interval` seconds of answers.
What is left out: what a snapshot holds (`room.py`) and when rooms change (`rooms.py`).
"""

import json
import logging
import os
import threading
import time
from pathlib import Path

LOG = logging.getLogger(__name__)
FORMAT = 1


class RoomFile:
    def __init__(self, path, model_name, interval=1.0):
        self.path = Path(path)
        self.model_name = model_name
        self.interval = interval
        self._collect = None
        self._wanted = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = None
        self._closed = False

    def load(self):
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            LOG.warning("rooms file %s unreadable (%s): starting without rooms", self.path, error)
            return []
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("model") != self.model_name:
            LOG.warning("rooms file %s is for another format or model: starting without rooms", self.path)
            return []
        rooms = data.get("rooms")
        return rooms if isinstance(rooms, list) else []

    def save_soon(self, collect):
        self._collect = collect
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="room-file", daemon=True)
            self._thread.start()
        self._wanted.set()

    def flush(self):
        with self._write_lock:
            if self._collect is None:
                return
            payload = {"format": FORMAT, "model": self.model_name, "rooms": self._collect()}
            text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(temporary, "w", encoding="utf-8") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except OSError as error:  # a full disk must not take the rooms down: they live in memory
                LOG.error("could not write %s: %s", self.path, error)

    def close(self):
        self._closed = True
        self._wanted.set()
        self.flush()

    def _loop(self):
        while True:
            self._wanted.wait()
            if self._closed:
                return
            time.sleep(self.interval)
            self._wanted.clear()
            self.flush()
