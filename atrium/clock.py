"""The one source of time: timers, due dates and history all ask this clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock(Clock):
    """A clock that only moves when told to; tests and benchmarks drive timers with it."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs) -> datetime:
        with self._lock:
            self._now = self._now + (delta or timedelta(**kwargs))
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


_current: Clock = Clock()


def now() -> datetime:
    return _current.now()


def get_clock() -> Clock:
    return _current


def set_clock(clock: Clock) -> Clock:
    """Install a clock process-wide; returns the previous one so callers can restore it."""
    global _current
    previous, _current = _current, clock
    return previous
