"""Per-user state on one shared server: sessions, fair turns at the model, a memory budget.

A `SessionStore` maps a key (the web app's session hash) to a `Session`: a lock so one user's
events never interleave, named decode states (objects with `.nbytes()` and `.evict()`, e.g.
Decoders) and a dict of light values. `use(key)` hands out a session with its lock held; on
the way out it keeps the KV caches of all sessions under the byte budget by evicting the least
recently used idle sessions (their states rebuild from token ids on their next action, with
the same results). Idle sessions expire, and the number of sessions is capped.
All sessions share one `ForwardQueue` for forward passes (`forward_queue.py`): turns in
arrival order, and steps that wait together share one batched forward pass.
What is left out: anything about the web framework (no gradio here), persistence across
restarts, and per-user quotas beyond the shared budget.
"""

import contextlib
import threading
import time
from collections import OrderedDict

from .forward_queue import ForwardQueue


class Session:
    """One user's state. Touch `states` and `data` only while holding `lock` (see `SessionStore.use`)."""

    def __init__(self, key, now):
        self.key = key
        self.lock = threading.RLock()
        self.last_used = now
        self.states = {}  # name -> object with .nbytes() and .evict() (Decoder, Lockstep, ...)
        self.data = {}  # light values: conversation, settings
        self.closed = False  # dropped from the store: a run in progress may stop early
        self._users = 0  # threads inside use() for this session, waiting or holding (store lock)

    def nbytes(self):
        return sum(state.nbytes() for state in list(self.states.values()))

    def evict(self):
        for state in list(self.states.values()):
            state.evict()

    def _clear(self):
        self.evict()
        self.states.clear()
        self.data.clear()


class SessionStore:
    def __init__(self, settings, clock=time.monotonic):
        self.settings = settings
        self.clock = clock
        # Pass as Decoder(..., forwards=store.forwards). No batch outgrows the events in flight.
        self.forwards = ForwardQueue(max_batch=settings.concurrency_limit)
        self._lock = threading.Lock()  # guards _sessions (LRU order: oldest first) and counters
        self._sessions = OrderedDict()
        self._evictions = 0
        self._dropped = 0

    @contextlib.contextmanager
    def use(self, key):
        """Session for `key` (created if missing) with its lock held; budget enforced on exit."""
        with self._lock:
            doomed = self._sweep_locked()
            session = self._sessions.get(key)
            if session is None:
                doomed += self._make_room_locked()
                session = self._sessions[key] = Session(key, self.clock())
            self._touch_locked(session)
            session._users += 1
        _clear_all(doomed)
        try:
            with session.lock:  # waited for without the store lock
                try:
                    yield session
                finally:
                    self._enforce_budget(session)
        finally:
            with self._lock:
                session._users -= 1
                if not session.closed:
                    self._touch_locked(session)
                orphan = session.closed and session._users == 0
            if orphan:  # dropped while in use: nobody can reach it any more
                session._clear()

    def get(self, key):
        """The session for `key` or None; no lock is taken (read-only peeks)."""
        with self._lock:
            return self._sessions.get(key)

    def drop(self, key):
        """Forget `key` and free its states (now, or when its last event finishes)."""
        with self._lock:
            doomed = self._drop_locked(key)
        _clear_all(doomed)

    def sweep(self):
        """Drop sessions idle longer than `idle_timeout_s`; returns how many."""
        with self._lock:
            doomed = self._sweep_locked()
        _clear_all(doomed)
        return len(doomed)

    def total_cache_bytes(self):
        with self._lock:
            sessions = list(self._sessions.values())
        return sum(session.nbytes() for session in sessions)

    def stats(self):
        with self._lock:
            count, evictions, dropped = len(self._sessions), self._evictions, self._dropped
        return {"sessions": count, "cache_bytes": self.total_cache_bytes(), "evictions": evictions,
                "dropped": dropped, **self.forwards.stats()}

    def _enforce_budget(self, current):
        budget = self.settings.cache_budget_bytes
        total = self.total_cache_bytes()
        if total <= budget:
            return
        with self._lock:  # least recently used first; sessions inside use() are skipped
            others = [s for s in self._sessions.values() if s is not current and s._users == 0]
        for session in others:
            if total <= budget:
                break
            if not session.lock.acquire(blocking=False):  # mid-step somewhere: leave it
                continue
            try:
                before = session.nbytes()
                if session.closed or before == 0:
                    continue
                session.evict()
                freed = before - session.nbytes()
            finally:
                session.lock.release()
            if freed > 0:  # an already evicted session (only undo bytes left) is not counted again
                total -= freed
                with self._lock:
                    self._evictions += 1
        # If `current` alone is over the budget it stays: it is in use.

    def _touch_locked(self, session):
        session.last_used = self.clock()
        self._sessions.move_to_end(session.key)

    def _drop_locked(self, key):
        session = self._sessions.pop(key, None)
        if session is None:
            return []
        session.closed = True
        self._dropped += 1
        return [session] if session._users == 0 else []  # else use() clears it on the way out

    def _sweep_locked(self):
        deadline = self.clock() - self.settings.idle_timeout_s
        idle = [key for key, s in self._sessions.items() if s.last_used < deadline and s._users == 0]
        return [session for key in idle for session in self._drop_locked(key)]

    def _make_room_locked(self):
        doomed = []
        while len(self._sessions) >= self.settings.max_sessions:
            idle = [key for key, s in self._sessions.items() if s._users == 0]
            doomed += self._drop_locked(idle[0] if idle else next(iter(self._sessions)))
        return doomed


def _clear_all(sessions):
    for session in sessions:
        session._clear()
