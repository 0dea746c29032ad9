"""Which time limit applies to a clock, and when it runs out.

Precedence, most specific first (docs/profiles.md, "time_limits"):

1. for the handling stage (`time_limits.standard_stage`, default `handle`), the case's 立结案标准
   row: its `by_area` limit for the case's area class, else its `time_limit`;
2. otherwise the `rules` of the stage that match the case, the one naming the most of `class`,
   `condition`, `area_class`, `urgent` and `kind` winning; between equals, the later one (a
   city's own rules come after the standard's);
3. no rule: the clock runs without a deadline.

A limit in a working unit (工作时, 工作日) is counted on the calendar of the handling unit, or
the profile's default calendar; a natural unit (紧急工作时, 自然日, hours, minutes) is continuous.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridcase.core.context import Hooks, StartingClock
from gridcase.core.durations import Duration
from gridcase.core.sla.calendar import Readiness, WorkingCalendar, calendars_from_profile, readiness

MATCH_KEYS = ("class", "condition", "area_class", "urgent", "kind")
CONTINUOUS = WorkingCalendar(continuous=True)


@dataclass(frozen=True)
class Limit:
    duration: Duration
    rule: str


def _duration(text: str) -> Duration:
    """A limit the profile's validation has already parsed (crosscheck checks every one)."""
    parsed = Duration.parse(text)
    if parsed is None:
        raise ValueError(f"not a duration: {text!r}")
    return parsed


@dataclass(frozen=True)
class Provisional:
    """A deadline counted on days not confirmed yet: from when, and the working minutes of the
    deadline and of its yellow light (None: before `since`) counted from that moment."""

    since: datetime
    minutes: float
    yellow_minutes: float | None

    @classmethod
    def of(cls, calendar: WorkingCalendar, start: datetime, deadline: datetime, yellow: datetime | None):
        since = calendar.provisional_from(start, deadline)
        if since is None:
            return None
        yellow_minutes = calendar.between(since, yellow) if yellow is not None and yellow > since else None
        return cls(since, calendar.between(since, deadline), yellow_minutes)

    def columns(self) -> dict[str, Any]:
        return {
            "provisional_from": self.since,
            "provisional_minutes": self.minutes,
            "provisional_yellow_minutes": self.yellow_minutes,
        }


NOT_PROVISIONAL = {"provisional_from": None, "provisional_minutes": None, "provisional_yellow_minutes": None}


def provisional_columns(
    calendar: WorkingCalendar, start: datetime, deadline: datetime, yellow: datetime | None
) -> dict[str, Any]:
    """A clock's provisional columns for a deadline counted from `start` on `calendar`."""
    found = Provisional.of(calendar, start, deadline, yellow)
    return found.columns() if found else dict(NOT_PROVISIONAL)


@dataclass(frozen=True)
class Deadline:
    deadline: datetime
    yellow_at: datetime
    rule: str
    unit: str
    amount: float
    calendar: str | None
    provisional: Provisional | None = None


class Deadlines:
    def __init__(
        self,
        profile: dict[str, Any],
        hooks: Hooks | None = None,
        taxonomy_at: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        limits = profile.get("time_limits", {})
        self.units = {u["code"]: u for u in limits.get("units", [])}
        self.rules = limits.get("rules", [])
        self.escalation = limits.get("escalation", [])
        self.standard_stage = limits.get("standard_stage", "handle")
        lights = limits.get("lights", {})
        self.yellow_fraction = lights.get("yellow_at", 0.8)
        self.yellow_remaining = Duration.parse(lights.get("yellow_remaining"))
        self.profile = profile
        self.default_calendar, self.calendars = calendars_from_profile(profile)
        self.calendar_key: tuple = ((), ())
        self.unit_calendars = {
            u["code"]: u["calendar"] for u in profile.get("units", []) if u.get("calendar")
        }
        self.taxonomy_at = taxonomy_at
        self._standards_at: dict[int, dict[tuple[str, str, str], dict[str, Any]]] = {}
        self.hooks = hooks
        self._limits: dict[tuple, Limit | None] = {}  # cleared when the rules are edited (use_rules)

    def use_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the time-limit rules (an administrator's edit); clocks already running keep theirs."""
        self.rules = rules
        self._limits.clear()

    def apply_overrides(self, extra: dict[str, dict], years: dict[str, frozenset[int]] | None = None) -> None:
        """Rebuild the calendars with the database's overrides and confirmed years (deadlines
        already stored keep, but for provisional ones, which `Clocks.recompute` takes up)."""
        self.default_calendar, self.calendars = calendars_from_profile(self.profile, extra, years)
        # what the calendars were built from: provisional deadlines need counting again only
        # when it changes (the package's own data does not change while a process runs)
        self.calendar_key = (
            tuple(sorted((code, tuple(sorted(days.items()))) for code, days in extra.items())),
            tuple(sorted((code, tuple(sorted(held))) for code, held in (years or {}).items())),
        )

    def readiness(self, now: datetime) -> list[Readiness]:
        """How far ahead each calendar's working days are final (today in the default's zone)."""
        return readiness(
            self.default_calendar, self.calendars, now.astimezone(self.default_calendar.tz).date()
        )

    def standards(self, version: int = 0) -> dict[tuple[str, str, str], dict[str, Any]]:
        """(kind, class, condition) → 立案条件 row, in the taxonomy a case came in under."""
        found = self._standards_at.get(version)
        if found is None:
            from gridcase.core.profile.taxonomy import active_classes

            taxonomy = self.taxonomy_at(version) if self.taxonomy_at else self.profile.get("taxonomy", {})
            found = self._standards_at[version] = {
                (info["kind"], info["minor"]["code"], row["code"]): row
                for info in active_classes({"taxonomy": taxonomy})
                for row in info["minor"].get("standards", [])
            }
        return found

    def limit(self, stage: str, case: dict[str, Any]) -> Limit | None:
        key = (
            stage,
            *(case.get(k) for k in ("kind", "class_code", "major_code", "standard", "area_class")),
            case.get("taxonomy_version") or 0,
            bool(case.get("urgent")),
        )
        if key not in self._limits:
            self._limits[key] = self._resolve(stage, case)
        return self._limits[key]

    def _resolve(self, stage: str, case: dict[str, Any]) -> Limit | None:
        if stage == self.standard_stage and case.get("standard"):
            standards = self.standards(case.get("taxonomy_version") or 0)
            row = standards.get((case.get("kind") or "", case.get("class_code") or "", case["standard"]))
            if row is not None:
                by_area = row.get("by_area", {}).get(case.get("area_class") or "")
                chosen = _duration(by_area or row["time_limit"])
                label = f"standard:{case['class_code']}/{row['code']}" + (
                    f"@{case['area_class']}" if by_area else ""
                )
                return Limit(chosen, label)
        facts: dict[str, set[Any]] = {
            "class": {case.get("class_code"), case.get("major_code")},
            "condition": {case.get("standard")},
            "area_class": {case.get("area_class")},
            "urgent": {bool(case.get("urgent"))},
            "kind": {case.get("kind")},
        }
        best: tuple[int, int, dict] | None = None
        for position, rule in enumerate(self.rules):
            if rule.get("stage") != stage:
                continue
            named = [k for k in MATCH_KEYS if k in rule]
            if all(rule[k] in facts[k] for k in named) and (best is None or len(named) >= best[0]):
                best = (len(named), position, rule)
        if best is None:
            return None
        return Limit(_duration(best[2]["limit"]), f"rule:{best[2]['code']}")

    def watched(self, stage: str) -> bool:
        """Whether an escalation rung watches this stage: only then do its lights get timers."""
        return any("stages" not in rung or stage in rung["stages"] for rung in self.escalation)

    def calendar(self, code: str | None) -> WorkingCalendar:
        return self.calendars.get(code, self.default_calendar) if code else self.default_calendar

    def calendar_code_for(self, unit: str | None) -> str | None:
        return self.unit_calendars.get(unit) if unit else None

    def clock_calendar(self, unit_code: str | None, calendar_code: str | None) -> WorkingCalendar:
        """The calendar a clock counts on: continuous units ignore working calendars."""
        unit = self.units.get(unit_code or "", {})
        return self.calendar(calendar_code) if unit.get("working") else CONTINUOUS

    def compute(
        self, stage: str, case: dict[str, Any], start: datetime, handling_unit: str | None = None
    ) -> Deadline | None:
        limit = self.limit(stage, case)
        if limit is None or limit.duration.unit not in self.units:
            return None
        calendar_code = self.calendar_code_for(handling_unit)
        calendar = self.clock_calendar(limit.duration.unit, calendar_code)
        minutes = limit.duration.value * self.units[limit.duration.unit]["minutes"]
        if self.yellow_remaining and self.yellow_remaining.unit in self.units:
            before = self.yellow_remaining.value * self.units[self.yellow_remaining.unit]["minutes"]
            yellow_minutes = max(0.0, minutes - before)
        else:
            yellow_minutes = minutes * self.yellow_fraction
        deadline, yellow = calendar.add_all(start, (minutes, yellow_minutes))
        if self.hooks is not None and self.hooks.listened("adjust_deadline"):
            clock = StartingClock(
                case.get("id"), case.get("class_code") or "", case.get("kind") or "",
                bool(case.get("urgent")), case.get("area_class"), stage, start,
                limit.duration.value, limit.duration.unit, limit.rule,
            )  # fmt: skip
            deadline = (
                self.hooks.call("adjust_deadline", now=start, clock=clock, deadline=deadline) or deadline
            )
        return Deadline(
            deadline=deadline,
            yellow_at=yellow,
            rule=limit.rule,
            unit=limit.duration.unit,
            amount=limit.duration.value,
            calendar=calendar_code,
            provisional=Provisional.of(calendar, start, deadline, yellow),
        )

    def elapsed(self, clock: dict[str, Any], now: datetime) -> float | None:
        """Time used so far, in the clock's own unit (working hours of a 工作时 clock, say).

        A paused clock counts up to its pause; None for a clock without a limit. (Time used
        before an earlier pause is not kept apart: the deadline moved on resume instead.)
        """
        unit = self.units.get(clock.get("unit") or "")
        if not unit:
            return None
        calendar = self.clock_calendar(clock["unit"], clock.get("calendar"))
        end = clock.get("stopped_at") or clock.get("paused_at") or now
        return calendar.between(clock["started_at"], end) / unit["minutes"]

    def light(self, clock: dict[str, Any], now: datetime) -> str:
        """green, yellow (the limit mostly used) or red (overdue); a paused clock keeps its colour."""
        at = clock.get("paused_at") or now
        if clock.get("deadline") is None:
            return "green"
        if at > clock["deadline"]:
            return "red"
        return "yellow" if clock.get("yellow_at") and at >= clock["yellow_at"] else "green"
