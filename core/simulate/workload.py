"""A reproducible stream of incidents, independent of any one city's model.

An incident says when a problem was reported, what it is (a standard class), through which
kind of channel, and where, as numbers in [0, 1) that each city maps onto its own grids. It also
carries a `fate`: the seed of every later choice made for its case (who is late, who returns
it, whose check fails). `simulate --compare` therefore replays the very same month through
every model, and the same seed gives the same figures.
"""

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gridcase.core.city import CityProfile

DUPLICATE_DELAY_MIN = (10, 360)  # a repeat arrives 10 minutes to 6 hours after the first report
HOTSPOT_SPREAD = 0.004  # as a share of the city's grids, in code order


@dataclass(frozen=True)
class Incident:
    n: int
    at: datetime  # aware, UTC
    kind: str  # component | event
    code: str  # a class code of the workload's taxonomy
    channel_kind: str
    u: float  # which grid (a position along the grids in code order)
    v: float  # where in it
    w: float
    fate: int
    repeats: int | None = None  # the incident this one reports again


@dataclass(frozen=True)
class Workload:
    """The volume, rhythm and mix a profile's `simulation` section describes."""

    reports_per_day: int
    duplicates: float
    hours: tuple[float, ...]
    weekdays: tuple[float, ...]
    hotspots: int
    hotspot_share: float
    channels: dict[str, float]
    classes: dict[tuple[str, str], float]
    timezone: str

    @classmethod
    def of(cls, profile: dict[str, Any], classes: list[tuple[str, str]]) -> "Workload":
        """`classes` are the profile's enabled (kind, code) pairs, which share `other_classes`."""
        spec = CityProfile.of(profile).simulation
        named = {}
        for key, weight in spec.get("classes", {}).items():
            kind, _, code = key.partition(":")
            if (kind, code) in classes:
                named[(kind, code)] = float(weight)
        others = [c for c in classes if c not in named]
        share = float(spec.get("other_classes", 0 if named else 1)) / max(len(others), 1)
        weights = {**{c: share for c in others}, **named}
        return cls(
            reports_per_day=int(spec.get("reports_per_day", 300)),
            duplicates=float(spec.get("duplicates", 0.1)),
            hours=tuple(spec.get("hours", [1.0] * 24)),
            weekdays=tuple(spec.get("weekdays", [1.0] * 7)),
            hotspots=int(spec.get("hotspots", 10)),
            hotspot_share=float(spec.get("hotspot_share", 0.5)),
            channels={k: float(v) for k, v in spec.get("channels", {"patrol": 1}).items() if v > 0},
            classes={c: w for c, w in weights.items() if w > 0},
            timezone=timezone_of(profile),
        )

    def scaled(self, reports_per_day: int | None) -> "Workload":
        if reports_per_day is None:
            return self
        return Workload(**{**self.__dict__, "reports_per_day": reports_per_day})


def timezone_of(profile: dict[str, Any]) -> str:
    return CityProfile.of(profile).timezone.key


def incidents(workload: Workload, start: date, days: int, seed: int) -> list[Incident]:
    """Every report of `days` days from local midnight of `start`, in time order."""
    rng = random.Random(seed)
    zone = ZoneInfo(workload.timezone)
    hotspots = [rng.random() for _ in range(workload.hotspots)]
    class_keys, class_weights = zip(*sorted(workload.classes.items()), strict=True)
    channel_keys, channel_weights = zip(*sorted(workload.channels.items()), strict=True)
    hours = list(range(24))
    firsts: list[tuple[datetime, tuple]] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        volume = workload.reports_per_day * workload.weekdays[day.weekday()] * rng.uniform(0.9, 1.1)
        midnight = datetime.combine(day, time(), zone)
        count = round(volume * (1 - workload.duplicates))
        chosen_hours = rng.choices(hours, workload.hours, k=count)
        chosen_classes = rng.choices(class_keys, class_weights, k=count)
        chosen_channels = rng.choices(channel_keys, channel_weights, k=count)
        for hour, (kind, code), channel in zip(chosen_hours, chosen_classes, chosen_channels, strict=True):
            at = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
            if hotspots and rng.random() < workload.hotspot_share:
                u = min(max(rng.gauss(rng.choice(hotspots), HOTSPOT_SPREAD), 0.0), 0.999999)
            else:
                u = rng.random()
            firsts.append((at, (kind, code, channel, u, rng.random(), rng.random(), rng.getrandbits(32))))
    end = datetime.combine(start + timedelta(days=days), time(), zone)
    firsts.sort(key=lambda item: item[0])
    stream = [
        Incident(n, at.astimezone(ZoneInfo("UTC")), kind, code, channel, u, v, w, fate)
        for n, (at, (kind, code, channel, u, v, w, fate)) in enumerate(firsts)
    ]
    repeats = []
    ratio = workload.duplicates / (1 - workload.duplicates) if workload.duplicates < 1 else 0
    for first in stream:
        if rng.random() < ratio:
            later = first.at + timedelta(minutes=rng.uniform(*DUPLICATE_DELAY_MIN))
            if later >= end:
                continue
            channel = rng.choices(channel_keys, channel_weights)[0]
            # a few metres away: the same problem seen from elsewhere
            v, w = first.v + rng.uniform(-1e-4, 1e-4), first.w + rng.uniform(-1e-4, 1e-4)
            repeats.append((later, first, channel, v, w, rng.getrandbits(32)))
    merged = [(i.at, i.n, i) for i in stream]
    for k, (later, first, channel, v, w, fate) in enumerate(repeats):
        twin = Incident(
            len(stream) + k, later, first.kind, first.code, channel, first.u, v, w, fate, repeats=first.n
        )
        merged.append((later, twin.n, twin))
    merged.sort(key=lambda item: (item[0], item[1]))
    return [i for _, _, i in merged]


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Waits are skewed: most are short, a few are long (and those make cases late)."""
    if low <= 0 or high <= low:
        return rng.uniform(low, high)
    return math.exp(rng.uniform(math.log(low), math.log(high)))
