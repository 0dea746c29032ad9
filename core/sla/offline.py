"""Steps taken on a handset without a connection (the field app) and sent when it returns.

Such a step carries two times: when it was made on the device and when it arrived. The
profile's `time_limits.offline` says which one stops the stage's clock (`stops_clock_at`,
arrival by default: a device's clock is the person's own) and how old a device time may be
(`max_age`, in natural time). A device time in the future, or older than that, is refused:
either the device's clock is wrong or the step waited too long to count as made then.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gridcase.core.durations import Duration
from gridcase.core.errors import GridcaseError

DEFAULT_MAX_AGE = "72 hour"
# a handset's clock a little ahead of the server's is not a step from the future
SKEW = timedelta(minutes=5)


def device_time(raw: Any) -> datetime:
    """A device's time: ISO 8601 with its offset (a handset's local time alone says no moment)."""
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise GridcaseError(
            "invalid_request",
            "made_at is an ISO 8601 time with its offset, e.g. 2026-10-13T09:00:00+08:00",
            {"field": "made_at"},
        )
    return moment


@dataclass(frozen=True)
class OfflineRule:
    stops_clock_at: str  # "arrival" or "device"
    max_age: timedelta
    max_age_text: str

    @classmethod
    def of(cls, profile: dict[str, Any]) -> "OfflineRule":
        limits = profile.get("time_limits") or {}
        block = limits.get("offline") or {}
        minutes = {u["code"]: u["minutes"] for u in limits.get("units") or ()}
        raw = block.get("max_age", DEFAULT_MAX_AGE)
        age = Duration.parse(raw) or Duration.parse(DEFAULT_MAX_AGE)
        assert age is not None
        return cls(
            stops_clock_at=block.get("stops_clock_at", "arrival"),
            max_age=timedelta(minutes=age.value * minutes.get(age.unit, 60)),
            max_age_text=str(age),
        )

    def check(self, made_at: datetime, now: datetime) -> None:
        """Refuse a device time in the future or older than `max_age`, saying which and by how much."""
        details = {"field": "made_at", "made_at": made_at.isoformat(), "now": now.isoformat()}
        if made_at > now + SKEW:
            raise GridcaseError(
                "device_time_future",
                f"the device time {made_at.isoformat()} is ahead of the server's {now.isoformat()}: "
                "set the device's clock right and send again",
                details,
            )
        if made_at < now - self.max_age:
            raise GridcaseError(
                "device_time_too_old",
                f"the device time {made_at.isoformat()} is more than {self.max_age_text} before the "
                f"server's {now.isoformat()}, the most the profile allows (time_limits.offline.max_age)",
                {**details, "max_age": self.max_age_text},
            )

    def stop_moment(self, made_at: datetime | None, now: datetime, since: datetime) -> datetime:
        """When the step's clocks stop: the arrival, or the device time when the profile says so,
        never before the case's previous step (`since`), which the device could not have seen
        later than it happened."""
        if made_at is None or self.stops_clock_at != "device":
            return now
        return min(max(made_at, since), now)  # a device a little fast stops nothing in the future
