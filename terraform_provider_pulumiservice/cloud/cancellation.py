"""The stop latch that StopProvider sets, and what it interrupts.

Setting it makes back-off waits return at once, settles every tracked request future with
:class:`Stopped` (so the callers waiting on abandonable requests return immediately), and runs
every registered abort callback (the event stream uses one to shut its socket down, which wakes a
read blocked on the calling thread). Each request has its own future, so finishing one wakes only
its caller.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any


class Stopped(Exception):
    """The stop latch interrupted a request; ``sent`` says whether it may have landed."""

    def __init__(self, *, sent: bool) -> None:
        super().__init__()
        self.sent = sent


def settle(outcome: Future[Any], *, result: Any = None, error: BaseException | None = None) -> bool:
    """Complete ``outcome`` unless something (a stop, or the request) already did; True if this
    call completed it."""
    with contextlib.suppress(InvalidStateError):
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)
        return True
    return False


class StopSignal:
    """A one-way latch: once set, it stays set."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._stopped = False
        self._in_flight: set[Future[Any]] = set()
        self._aborts: dict[int, Callable[[], None]] = {}
        self._next_handle = 0

    def is_set(self) -> bool:
        with self._condition:
            return self._stopped

    def set(self) -> None:
        with self._condition:
            self._stopped = True
            abandoned = list(self._in_flight)
            self._in_flight.clear()
            aborts = list(self._aborts.values())
            self._aborts.clear()
            self._condition.notify_all()
        for outcome in abandoned:
            settle(outcome, error=Stopped(sent=True))
        for abort in aborts:
            with contextlib.suppress(Exception):
                abort()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if stopped meanwhile."""
        with self._condition:
            return self._condition.wait_for(lambda: self._stopped, timeout=max(0.0, seconds))

    def track(self, outcome: Future[Any]) -> bool:
        """Make ``outcome`` end with ``Stopped`` when the signal is set; False if already set."""
        with self._condition:
            if self._stopped:
                return False
            self._in_flight.add(outcome)
            return True

    def untrack(self, outcome: Future[Any]) -> None:
        with self._condition:
            self._in_flight.discard(outcome)

    def on_stop(self, abort: Callable[[], None]) -> int | None:
        """Run ``abort`` (once, from the stopping thread) when the signal is set; returns a
        handle for :meth:`forget`, or None (without running it) if already set."""
        with self._condition:
            if self._stopped:
                return None
            self._next_handle += 1
            self._aborts[self._next_handle] = abort
            return self._next_handle

    def forget(self, handle: int | None) -> None:
        if handle is not None:
            with self._condition:
                self._aborts.pop(handle, None)
