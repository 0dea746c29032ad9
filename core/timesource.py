"""Time is injected: the engine asks a time source, so tests and simulations run months in seconds.

(A *clock* in gridcase is a stage's time limit running on a case: sla/clocks.py.)

This module is the only place that reads the system time.
"""

from datetime import UTC, datetime, timedelta
from typing import Protocol


class TimeSource(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""


class SystemTime:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualTime:
    """A time source that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualTime needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualTime needs an aware datetime")
        self._now = moment
