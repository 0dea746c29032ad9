"""Durations as profiles write them: '2 urgent_hour' or {value: 2, unit: urgent_hour}."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Duration:
    value: float
    unit: str

    @classmethod
    def parse(cls, raw: Any) -> "Duration | None":
        """The duration, or None when `raw` is not in either form (the schema reports that)."""
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("value"), (int, float))
            and isinstance(raw.get("unit"), str)
        ):
            return cls(float(raw["value"]), raw["unit"])
        if isinstance(raw, str):
            number, _, unit = raw.partition(" ")
            try:
                return cls(float(number), unit) if unit else None
            except ValueError:
                return None
        return None

    def __str__(self) -> str:
        value = int(self.value) if self.value == int(self.value) else self.value
        return f"{value} {self.unit}"


def format_minutes(minutes: float) -> str:
    """A span for people: '3天2小时', '5小时10分', '25分'."""
    minutes = int(round(minutes))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days}天" if days else "",
        f"{hours}小时" if hours else "",
        f"{mins}分" if mins and not days else "",
    ]
    return "".join(parts) or "0分"
