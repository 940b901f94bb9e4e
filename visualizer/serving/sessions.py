"""Per-user state on one shared server: sessions that only their owner creates and drives.

A `SessionStore` maps a key (the web app's session hash) to a `Session` holding one engine
`Workspace` and a few light values. Rules, each enforced here for every route:
- a session is created only by a request that can use one (`use(..., create=True)`: a page load,
  an API /start), at most `creations_per_minute` per client address; a /step with a made-up key
  creates nothing and gets `SessionExpired`;
- a session belongs to the owner that created it (a secret only its browser or API client holds):
  a request for that key from anyone else is refused, so knowing a session hash is not enough;
- one session's actions run one at a time in arrival order (a FIFO ticket lock), and at most
  `max_pending` wait: fast clicks queue up, a flood is refused;
- idle sessions expire; at the session cap the least recently used idle session goes; when the
  KV pool is full, `evict_idle` gives back the pool rows of idle sessions, least recently used
  first (their states rebuild from their ids on their next action, with the same results).
What is left out: anything about the web framework (the UI layer finds keys and owners) and the
model's turns (`scheduler.py`).
"""

import collections
import contextlib
import threading
import time

from ..engine.cpu_threads import keep_serial
from ..engine.errors import InputError, refuse

MAX_PENDING = 32  # actions of one session waiting their turn


class SessionExpired(InputError):
    """No session for this key (never started, expired, or the server restarted)."""


class NotYourSession(InputError):
    """The session exists but belongs to another browser or client."""


class Session:
    def __init__(self, key, owner, workspace, now):
        self.key = key
        self.owner = owner
        self.workspace = workspace
        self.data = {}  # light values: stop requests, pending counts
        self.last_used = now
        self.closed = False
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._not_clicks = 0  # of the actions inside `use`, those that are not a page's clicks (see below)
        self._evict_when_idle = False

    @property
    def waiting(self):
        """Actions inside `use` for this session, waiting or running."""
        return self._next_ticket - self._serving

    @property
    def waiting_clicks(self):
        """Of `waiting`, the page's clicks: actions whose answer paints the page's views; not a flag raiser
        (a Stop) nor a run's next token (it paints its own tab only: a Step of the Decoder waiting behind a
        Compare run's token left its painting to it and was never drawn)."""
        with self._cond:
            return self.waiting - self._not_clicks

    def _enter(self, max_pending, click):
        with self._cond:
            if self.waiting >= max_pending:
                raise refuse("too_many_pending", limit=max_pending)
            ticket = self._next_ticket
            self._next_ticket += 1
            self._not_clicks += not click
            while self._serving != ticket:
                self._cond.wait()

    def _leave(self, click):
        with self._cond:
            self._serving += 1
            self._not_clicks -= not click
            evict_now = self._evict_when_idle and not self.waiting
            self._cond.notify_all()
        if evict_now:
            self.try_evict()

    def try_evict(self, or_when_idle=False):
        """Give back the pool rows if no action is waiting or running (with `or_when_idle`: else as
        soon as the last one is done); -> bytes freed now."""
        with self._cond:
            if self.waiting:
                self._evict_when_idle = self._evict_when_idle or or_when_idle
                return 0
            self._evict_when_idle = False
            self._next_ticket += 1  # hold the session while evicting
        try:
            before = self.workspace.nbytes()
            self.workspace.evict()
            return before - self.workspace.nbytes()
        finally:
            self._leave(click=True)


class SessionStore:
    def __init__(self, settings, new_workspace, clock=time.monotonic):
        self.settings = settings
        self.new_workspace = new_workspace
        self.clock = clock
        self._lock = threading.Lock()  # guards _sessions (LRU order: oldest first), _created and counters
        self._sessions = collections.OrderedDict()
        self._created = collections.defaultdict(collections.deque)  # address -> creation times
        self.evictions = 0
        self.dropped = 0
        self.refused = 0

    @contextlib.contextmanager
    def use(self, key, owner, create=False, address=None, click=True):
        """The session for `key` with its turn held (actions of one session run in arrival order).
        `create`: make it if missing (rate-limited per `address`); else a missing key raises
        SessionExpired. A key owned by someone else raises NotYourSession. `click=False`: this
        action is not a page's click (see `Session.waiting_clicks`)."""
        if not key:
            raise refuse("no_session", SessionExpired)
        keep_serial()  # a request thread: no OpenMP pool of its own beside the model thread's (cpu_threads.py)
        with self._lock:
            doomed = self._sweep_locked()
            session = self._sessions.get(key)
            if session is None:
                if not create:
                    raise refuse("session_expired", SessionExpired)
                session, dropped = self._create_locked(key, owner, address)
                doomed += dropped
            elif session.owner != owner:
                self.refused += 1
                raise refuse("not_your_session", NotYourSession)
            self._touch_locked(session)
        for other in doomed:
            other.try_evict()
        session._enter(self.settings.max_pending, click)
        try:
            yield session
        finally:
            session._leave(click)
            with self._lock:
                if not session.closed:
                    self._touch_locked(session)

    def get(self, key):
        """The session for `key` or None (a read-only peek, no turn taken)."""
        with self._lock:
            return self._sessions.get(key)

    def drop(self, key, owner=None):
        """Forget `key` (only its owner may, when `owner` is given) and give its pool rows back."""
        with self._lock:
            session = self._sessions.get(key)
            if session is None or (owner is not None and session.owner != owner):
                return False
            self._drop_locked(key)
        session.try_evict()
        return True

    def sweep(self):
        """Drop sessions idle longer than `idle_timeout_s`; -> how many."""
        with self._lock:
            doomed = self._sweep_locked()
        for session in doomed:
            session.try_evict()
        return len(doomed)

    def evict_idle(self, enough=lambda: False):
        """Give back the pool rows of sessions not in use, least recently used first, until
        `enough()`; -> how many sessions were evicted."""
        with self._lock:
            idle = [session for session in self._sessions.values() if not session.waiting]
        count = 0
        for session in idle:
            if enough():
                break
            if session.try_evict() > 0:
                count += 1
        with self._lock:
            self.evictions += count
        return count

    def stats(self):
        with self._lock:
            sessions = list(self._sessions.values())
            counts = {"sessions": len(sessions), "evictions": self.evictions, "dropped": self.dropped,
                      "refused": self.refused}
        counts["host_bytes"] = sum(session.workspace.nbytes() for session in sessions)
        return counts

    def _create_locked(self, key, owner, address):
        now = self.clock()
        recent = self._created[address or "?"]
        while recent and recent[0] < now - 60:
            recent.popleft()
        if len(recent) >= self.settings.creations_per_minute:
            self.refused += 1
            raise refuse("too_many_new_sessions")
        dropped = []
        if len(self._sessions) >= self.settings.max_sessions:
            idle = [k for k, s in self._sessions.items() if not s.waiting]
            if not idle:
                self.refused += 1
                raise refuse("server_full")
            dropped.append(self._drop_locked(idle[0]))
        recent.append(now)
        session = self._sessions[key] = Session(key, owner, self.new_workspace(), now)
        return session, dropped

    def _touch_locked(self, session):
        session.last_used = self.clock()
        self._sessions.move_to_end(session.key)

    def _drop_locked(self, key):
        session = self._sessions.pop(key)
        session.closed = True
        self.dropped += 1
        return session

    def _sweep_locked(self):
        deadline = self.clock() - self.settings.idle_timeout_s
        idle = [key for key, s in self._sessions.items() if s.last_used < deadline and not s.waiting]
        return [self._drop_locked(key) for key in idle]
