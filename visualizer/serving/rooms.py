"""Rooms on one server: short codes, the instructor key, limits, idle expiry, and keeping rooms across restarts.

`RoomStore(loaded, engine, settings, path)`: every action names a room by its code and returns plain
data (see `room.Room`); the rooms saved in `path` (a JSON file, `room_file.RoomFile`) come back
when the store is made, and every change is saved there within about a second. Rules, enforced
here for every route:
- only the instructor key (`settings.instructor_key`, compared in constant time) opens and closes
  rooms, sets a step's mode, reveals, commits and exports; an address that gave `KEY_FAILURES`
  wrong keys within a minute is refused for that minute, right key or not;
- at most `max_rooms` rooms, `room_max_attendees` per room, `room_answers_per_minute` answers or
  draws per attendee and room, guesses of at most `room_answer_chars` characters;
- a room nobody acted in (joins, answers, the instructor's actions; not watching it) for
  `room_idle_timeout_s` is closed and its pool row given back;
- codes are 5 characters from an alphabet without look-alikes (no 0/O, 1/I/L), read case-insensitively;
  an action on a room closed since the server started (by its instructor or when idle; the last
  `CLOSED_KEPT` codes) is told that it closed, not that no room has its code.
Attendees are opaque strings the web layer derives from its client cookie (never the cookie itself).
`with_instructor_key(settings)` gives settings with a key, making a random one when none is set.
What is left out: HTTP, cookies and languages (`ui/api_room.py`, the room tab).
"""

import collections
import contextlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..engine.cpu_threads import keep_serial
from ..engine.errors import refuse
from ..engine.limits import check_text
from .room import Room
from .room_file import RoomFile

LOG = logging.getLogger(__name__)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 5
KEY_FAILURES = 30  # wrong instructor keys per address and minute
FILE_NAME = "rooms.json"
CLOSED_KEPT = 256  # codes of closed rooms remembered, to tell their attendees the room closed


def with_instructor_key(settings):
    """-> (settings, made): `made` is True when no key was set and a random one was made."""
    if settings.instructor_key:
        return settings, False
    return replace(settings, instructor_key=secrets.token_urlsafe(9)), True


def normalize_code(code):
    return str(code or "").strip().upper()[:16]


class RoomStore:
    def __init__(self, loaded, engine, settings, path=None, clock=time.time):
        self.loaded = loaded
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()  # guards _rooms, _failures and _answer_times
        self._rooms = {}
        self._closed = collections.OrderedDict()  # code -> None: rooms closed lately, oldest first
        self._failures = collections.defaultdict(collections.deque)  # address -> wrong-key times
        self._answer_times = collections.defaultdict(collections.deque)  # (code, attendee) -> times
        self._file = RoomFile(path, loaded.name) if path is not None else None
        if self._file is not None:
            self._restore(self._file.load())

    @classmethod
    def beside_cache(cls, server, cache_dir):
        """The store of a `serving.server.Server`, saved as rooms.json in `cache_dir`."""
        path = Path(cache_dir) / FILE_NAME if cache_dir else None
        return cls(server.loaded, server.engine, server.settings, path)

    # The instructor.
    def open(self, key, conversation, temperature=None, top_k=None, top_p=None, address=None):
        """A new room on `conversation` at these settings, its prefix read -> {"code", "step", "text"}."""
        self.check_key(key, address)
        self._check_room_count()
        code = self._new_code()
        knobs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
        room = Room(code, self.loaded, self.engine, conversation, knobs, self.settings.max_new_tokens, self.clock())
        try:
            room.distribution()  # reads the prefix now: a room that cannot decode is refused here
            with self._lock:
                self._check_room_count()
                self._rooms[code] = room
        except BaseException:
            room.evict()
            raise
        self._save()
        state = room.state()
        return {"code": code, "step": state["step"], "text": state["text"]}

    def set_mode(self, code, key, mode, address=None):
        with self._acting(code, key, address) as room:
            room.set_mode(mode, self.clock())
            return room.state()

    def reveal(self, code, key, address=None):
        with self._acting(code, key, address) as room:
            room.reveal(self.clock())
            return room.state()

    def commit(self, code, key, choice, address=None):
        """Force the chosen token ("greedy", "top" or a token) -> the state of the next step."""
        with self._acting(code, key, address) as room:
            room.commit(room.choose(choice), self.clock())
            return room.state()

    def export(self, code, key, address=None):
        """Everything about the room (its snapshot with the current step's state) for download."""
        with self._acting(code, key, address) as room:
            return {**room.snapshot(), "state": room.state(), "model": self.loaded.name}

    def close(self, code, key, address=None):
        with self._acting(code, key, address) as room:
            with self._lock:
                self._rooms.pop(room.code, None)
                self._remember_closed([room.code])
            room.evict()

    def check_key(self, key, address=None):
        now = self.clock()
        with self._lock:
            failures = self._failures[address or "?"]
            while failures and failures[0] < now - 60:
                failures.popleft()
            if len(failures) >= KEY_FAILURES:
                raise refuse("instructor_locked")
            expected = self.settings.instructor_key.encode("utf-8")
            if not expected or not hmac.compare_digest(str(key or "").encode("utf-8"), expected):
                failures.append(now)
                raise refuse("not_instructor")

    # Attendees and watchers.
    def join(self, code, attendee):
        with self._acting(code, attendee=attendee) as room:
            room.join(attendee, self.settings.room_max_attendees, self.clock())
            state = room.state()
            return {"code": room.code, "step": state["step"], "text": state["text"], "mode": state["mode"]}

    def answer(self, code, attendee, token):
        """A guess (a token id, or text by `Workspace.lookup_token`'s rules) -> {"step", "id", "text"}."""
        if not isinstance(token, int):
            token = check_text(token, "the typed token", self.settings.room_answer_chars)
        with self._acting(code, attendee=attendee, counted=True) as room:
            return room.answer(attendee, token, self.clock())

    def sample(self, code, attendee, seed):
        """This attendee's draw with `seed` at the room's settings -> {"step", "id", "text", "prob"}."""
        with self._acting(code, attendee=attendee, counted=True) as room:
            return room.sample(attendee, seed, self.clock())

    def state(self, code):
        with self._acting(code, watching=True) as room:
            return room.state()

    def mine(self, code, attendee):
        """The room's state and this attendee's own answer (and, after reveal, where it sits)."""
        with self._acting(code, watching=True) as room:
            return {**room.state(), "mine": room.mine(attendee)}

    def codes(self):
        with self._lock:
            return sorted(self._rooms)

    # Upkeep.
    def sweep(self):
        """Close rooms idle longer than `room_idle_timeout_s`; -> how many."""
        deadline = self.clock() - self.settings.room_idle_timeout_s
        with self._lock:
            idle = [code for code, room in self._rooms.items() if room.last_active < deadline]
            closed = [self._rooms.pop(code) for code in idle]
            self._remember_closed(idle)
            for key in [key for key in self._answer_times if key[0] in idle]:
                del self._answer_times[key]
        for room in closed:
            with room.lock:
                room.evict()
        if closed:
            self._save()
        return len(closed)

    def _remember_closed(self, codes):
        for code in codes:
            self._closed[code] = None
        while len(self._closed) > CLOSED_KEPT:
            self._closed.popitem(last=False)

    def flush(self):
        if self._file is not None:
            self._file.flush()

    def shutdown(self):
        if self._file is not None:
            self._file.close()

    # Inside.
    @contextlib.contextmanager
    def _acting(self, code, key=None, address=None, attendee=None, counted=False, watching=False):
        """The room for `code` with its lock held; saved afterwards if anything changed."""
        keep_serial()  # a request thread (see SessionStore.use)
        self.sweep()
        if key is not None or attendee is None and not watching:
            self.check_key(key, address)
        with self._lock:
            room = self._rooms.get(normalize_code(code))
            if room is None and normalize_code(code) in self._closed:
                raise refuse("room_closed", room=normalize_code(code))
            if room is None:
                raise refuse("room_not_found", room=str(code)[:16])
            if counted:
                self._count_answer(room.code, attendee)
        with room.lock:
            version = room.version
            yield room
            changed = room.version != version
        if changed:
            self._save()

    def _count_answer(self, code, attendee):
        now, limit = self.clock(), self.settings.room_answers_per_minute
        times = self._answer_times[(code, attendee)]
        while times and times[0] < now - 60:
            times.popleft()
        if len(times) >= limit:
            raise refuse("room_too_fast", limit=limit)
        times.append(now)

    def _check_room_count(self):
        if len(self._rooms) >= self.settings.max_rooms:
            raise refuse("too_many_rooms", limit=self.settings.max_rooms)

    def _new_code(self):
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self._rooms:
                return code

    def _save(self):
        if self._file is not None:
            self._file.save_soon(self._snapshots)

    def _snapshots(self):
        with self._lock:
            rooms = list(self._rooms.values())
        snapshots = []
        for room in rooms:
            with room.lock:
                snapshots.append(room.snapshot())
        return snapshots

    def _restore(self, snapshots):
        deadline = self.clock() - self.settings.room_idle_timeout_s
        for data in snapshots:
            try:
                room = Room.restore(data, self.loaded, self.engine)
            except Exception as error:  # noqa: BLE001 - one bad room must not keep the others out
                LOG.warning("room %r not restored: %s", str(data.get("code"))[:16], error)
                continue
            if room.last_active >= deadline and len(self._rooms) < self.settings.max_rooms:
                self._rooms[room.code] = room
