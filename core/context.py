"""What a hook receives: the typed context and the typed views of cases and places.

A plugin sees a deployment through `HookContext` only: the profile through typed accessors, its
own configuration block, the time, the connection of the transaction it runs in, read services
for cases, units, grids and people, and `notify`, which queues a notice in the outbox. Views are
frozen dataclasses read from the database when a hook is about to run, so a plugin never needs
a private module or raw SQL to learn what a case is.

The context is built per call by `Hooks` (which the Engine holds), and only when some plugin
implements the hook: a deployment with no plugin for a hook pays nothing for it.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypedDict

import pluggy
from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy import Engine as Database

from gridcase.core.city import CityProfile, UnitView
from gridcase.core.db.connection import read, write
from gridcase.core.db.models import (
    Case,
    CaseEvent,
    CaseUnit,
    Clock,
    Grid,
    Outbox,
    Person,
    Report,
    Responsibility,
    Timer,
    Unit,
    UTCDateTime,
)
from gridcase.core.errors import GridcaseError
from gridcase.core.timesource import SystemTime, TimeSource

log = logging.getLogger("gridcase.plugins")
RECIPIENT_KINDS = ("person", "unit", "leader", "role")

CASE, CASE_EVENT, CASE_UNIT, CLOCK, GRID, OUTBOX, PERSON, RESPONSIBILITY, TIMER, UNIT = (
    t.__table__ for t in (Case, CaseEvent, CaseUnit, Clock, Grid, Outbox, Person, Responsibility, Timer, Unit)
)


class Tables:
    """The tables a plugin's SQL may read (an AssessmentFact's query, say): SQLAlchemy Core
    `Table` objects of the schema that `gridcase db upgrade` keeps."""

    case = CASE
    case_unit = CASE_UNIT
    clock = CLOCK
    grid = GRID
    outbox = OUTBOX
    person = PERSON
    responsibility = RESPONSIBILITY
    unit = UNIT
    case_event = CASE_EVENT
    timer = TIMER
    report = Report.__table__


# An assessed period's bounds as bound parameters (UTC), shared by the built-in facts' queries and
# the ones plugins contribute; CUTOFF is the period's end, or now while the period runs
PERIOD_START = bindparam("period_start", type_=UTCDateTime())
PERIOD_END = bindparam("period_end", type_=UTCDateTime())
CUTOFF = bindparam("cutoff", type_=UTCDateTime())


# -------------------------------------------------------------------------------------------
# Views
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridView:
    code: str
    name: str | None
    level: str
    parent: str | None
    unit: str | None  # the territorial unit responsible for the grid (a street office, say)


@dataclass(frozen=True)
class PersonView:
    id: int
    username: str
    name: str
    unit: str | None
    roles: tuple[str, ...]
    attributes: dict[str, Any]


@dataclass(frozen=True)
class CaseUnitView:
    unit: str
    role: Literal["responsible", "handling"]
    share: float


@dataclass(frozen=True)
class ClockView:
    stage: str
    status: Literal["running", "paused", "stopped"]
    started_at: datetime
    deadline: datetime | None
    owner: str | None  # the unit the stage's time is counted against
    overdue: bool  # stopped after its deadline, or still running past it at the view's moment


@dataclass(frozen=True)
class CaseView:
    """A case as a hook sees it: its facts, where it is, who has it, and its clocks."""

    id: int
    number: str
    class_code: str
    major_code: str
    kind: Literal["component", "event"]
    workflow: str
    state: str
    state_kind: Literal["open", "closed"]
    version: int
    channel: str  # the channel of the report that opened it (渠道)
    reporter_id: int | None
    urgent: bool
    description: str | None
    address: str | None
    lon: float
    lat: float
    grid: str | None
    grids: tuple[GridView, ...]  # its grid first, then each grid above it
    units: tuple[CaseUnitView, ...]  # the active responsible and handling units
    clocks: tuple[ClockView, ...]
    reported_at: datetime
    closed_at: datetime | None
    parent_id: int | None

    def units_in(self, role: Literal["responsible", "handling"]) -> tuple[str, ...]:
        return tuple(u.unit for u in self.units if u.role == role)

    @property
    def territorial_units(self) -> tuple[str, ...]:
        """The units of the case's grids, from its own grid's up, each once."""
        seen: list[str] = []
        for grid in self.grids:
            if grid.unit and grid.unit not in seen:
                seen.append(grid.unit)
        return tuple(seen)


@dataclass(frozen=True)
class TransitionView:
    """A transition that is happening or has happened (`seq` is the event's place in the
    timeline; None while it is still being checked)."""

    code: str
    name: str
    from_state: str | None
    to_state: str
    actor_id: int | None
    actor_roles: tuple[str, ...]
    at: datetime
    payload: dict[str, Any]
    reason: str | None
    seq: int | None = None


@dataclass(frozen=True)
class ActorView:
    id: int | None
    roles: tuple[str, ...]
    unit: str | None


@dataclass(frozen=True)
class IncomingReport:
    """A report before it is a case (what classify_case and locate_case see)."""

    description: str
    address: str | None
    channel: str
    lon: float | None  # WGS-84
    lat: float | None


@dataclass(frozen=True)
class RoutingRequest:
    """What route_case decides on: a class, a place, maybe a component."""

    class_code: str
    kind: Literal["component", "event"]
    grid: str | None
    grids: tuple[str, ...]  # the case's grid first, then each grid above it
    grid_units: dict[str, str | None]  # each of `grids` → its territorial unit, if it has one
    component: dict[str, Any] | None  # owner_unit, maintainer_unit, supervisor_unit …


@dataclass(frozen=True)
class StartingClock:
    """A stage's clock about to start, with the limit the profile gave it (adjust_deadline)."""

    case_id: int | None  # None while a new case's row is still being written
    class_code: str
    kind: str
    urgent: bool
    area_class: str | None
    stage: str
    started_at: datetime
    amount: float  # the limit, in `unit`
    unit: str  # a time-limit unit of the profile (work_hour, day …)
    rule: str  # what decided the limit


@dataclass(frozen=True)
class TimeLimitEvent:
    """A light turning yellow or red, or an escalation rung firing, on a stage's clock. `at` is
    when it was due (the moment the light turned); the sweep that fired it ran at `ctx.now`."""

    kind: Literal["yellow", "red", "escalation"]
    rung: str | None
    at: datetime
    stage: str


@dataclass(frozen=True)
class Period:
    """An assessment period: a day, week, month, quarter, year or range of days, bounded at
    midnight in the profile's time zone (gridcase.core.assess.periods parses them)."""

    label: str
    kind: str
    first: date  # first day
    last: date  # last day, included
    start: datetime  # aware UTC
    end: datetime  # aware UTC, excluded

    def as_dict(self) -> dict[str, str]:
        return {
            "label": self.label,
            "kind": self.kind,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


# -------------------------------------------------------------------------------------------
# Answers
# -------------------------------------------------------------------------------------------


class Classification(TypedDict):
    code: str
    kind: Literal["component", "event"]
    confidence: float
    explanation: str


class Location(TypedDict):
    grid: str
    grids: list[str]
    unit: str | None
    area_class: str | None


class Share(TypedDict):
    unit: str
    share: float


class Routing(TypedDict):
    units: list[Share]
    rule: str
    explanation: str


class ScoreAdjustment(TypedDict):
    object: str
    points: float
    reason: str
    cases: list[int]


@dataclass(frozen=True)
class AssessmentFact:
    """A count an assessment indicator can use (`count: <code>`), computed in SQL by a plugin.

    `query(ctx, kind)` returns a SELECT for one kind of assessed object (`"unit"`, `"grid"`,
    `"person"` …), or None when the fact does not count that kind. Its rows are ``(key,
    value)``: the object's code (a person's id) and the count. It may use `PERIOD_START`,
    `PERIOD_END` and `CUTOFF` (this module's bound parameters; CUTOFF is the period's end, or now
    while the period runs). `description` says what is counted, for the explanation of a number.
    """

    code: str
    description: str
    query: Callable[["HookContext", str], Select | None]


@dataclass(frozen=True)
class HandlingUnit:
    unit: str
    depth: int  # 1: dispatched by the centre; 2: passed down once by that unit (二级 → 三级) …


@dataclass(frozen=True)
class MoveRequest:
    """A transition that names a unit move (`moves:`), as the move sees it: in the transaction,
    after the transition's checks and before its writes."""

    case: CaseView  # as it is before the transition
    transition: str
    handling: tuple[HandlingUnit, ...]  # the units handling the case now
    payload: dict[str, Any]
    reason: str | None
    actor: ActorView


@dataclass(frozen=True)
class UnitMove:
    """A named way a transition moves a case between units, which a workflow transition takes
    with ``moves: [<name>]``. Core keeps the machinery (re-dispatch, sub-tasks with their own
    clocks and numbers); the move decides which units.

    `handling(ctx, request)` returns the units the case is dispatched to instead of its handling
    units (禅城's tiered raising: the unit above). `subtasks(ctx, request)` returns the units that
    each get a sub-task of the case (禅城's 联合执法), numbered under it and fed back to it.
    `takes_units`: the payload's ``units`` field is the move's to read, not a re-dispatch. A move
    refuses by raising GridcaseError (its code and message reach the caller)."""

    name: str
    label: str  # what people read, in a sub-task's routing explanation (联合执法)
    takes_units: bool = False
    handling: Callable[["HookContext", MoveRequest], Sequence[str]] | None = None
    subtasks: Callable[["HookContext", MoveRequest], Sequence[str]] | None = None


# -------------------------------------------------------------------------------------------
# Read services
# -------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, context: "HookContext") -> None:
        self._context = context

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._context.connection is not None:
            yield self._context.connection
        else:
            with read(self._context.db) as connection:
                yield connection


class Grids(_Reader):
    def get(self, code: str) -> GridView | None:
        with self._connection() as connection:
            row = connection.execute(select(GRID).where(GRID.c.code == code)).mappings().first()
        return _grid(row) if row else None

    def chain(self, code: str) -> tuple[GridView, ...]:
        """The grid and each grid above it."""
        with self._connection() as connection:
            row = connection.execute(select(GRID.c.path).where(GRID.c.code == code)).first()
            if row is None:
                return ()
            codes = [c for c in row.path.strip("/").split("/") if c]
            rows = {
                r["code"]: r
                for r in connection.execute(select(GRID).where(GRID.c.code.in_(codes))).mappings()
            }
        return tuple(_grid(rows[c]) for c in reversed(codes) if c in rows)


class Units(_Reader):
    def get(self, code: str) -> UnitView | None:
        with self._connection() as connection:
            row = connection.execute(select(UNIT).where(UNIT.c.code == code)).mappings().first()
        return (
            UnitView(row["code"], row["name"], row["kind"], row["parent"], row["unit_class"]) if row else None
        )

    def children(self, code: str) -> tuple[UnitView, ...]:
        with self._connection() as connection:
            rows = connection.execute(
                select(UNIT).where(UNIT.c.parent == code, UNIT.c.active).order_by(UNIT.c.code)
            ).mappings()
            return tuple(
                UnitView(r["code"], r["name"], r["kind"], r["parent"], r["unit_class"]) for r in rows
            )


class People(_Reader):
    def get(self, person_id: int) -> PersonView | None:
        with self._connection() as connection:
            row = connection.execute(select(PERSON).where(PERSON.c.id == person_id)).mappings().first()
        return _person(row) if row else None

    def in_unit(self, unit: str, role: str | None = None) -> tuple[PersonView, ...]:
        """The unit's active people, or those of them with `role`."""
        with self._connection() as connection:
            rows = connection.execute(
                select(PERSON).where(PERSON.c.unit == unit, PERSON.c.active).order_by(PERSON.c.id)
            ).mappings()
            people = [_person(r) for r in rows]
        return tuple(p for p in people if role is None or role in p.roles)

    def responsible_for(self, grid: str, role: str | None = None) -> tuple[PersonView, ...]:
        """The active people whose responsibility grids (责任网格) include `grid`."""
        with self._connection() as connection:
            rows = connection.execute(
                select(PERSON)
                .join(RESPONSIBILITY, RESPONSIBILITY.c.person_id == PERSON.c.id)
                .where(RESPONSIBILITY.c.grid == grid, PERSON.c.active)
                .order_by(PERSON.c.id)
            ).mappings()
            people = [_person(r) for r in rows]
        return tuple(p for p in people if role is None or role in p.roles)


class Cases(_Reader):
    def get(self, case_id: int) -> CaseView:
        with self._connection() as connection:
            return case_view(connection, case_id, self._context.now)

    def events(self, case_id: int) -> tuple[TransitionView, ...]:
        """The case's timeline, oldest first: every transition and recorded action."""
        with self._connection() as connection:
            rows = connection.execute(
                select(CASE_EVENT, CASE.c.workflow)
                .join(CASE, CASE.c.id == CASE_EVENT.c.case_id)
                .where(CASE_EVENT.c.case_id == case_id)
                .order_by(CASE_EVENT.c.seq)
            ).mappings()
            return tuple(transition_view(dict(r), r["transition"]) for r in rows)

    def lights(self, case_id: int) -> tuple[TimeLimitEvent, ...]:
        """The time-limit events the case has had, in order: each light that turned yellow or red
        and each escalation rung that fired, also for clocks a later run replaced."""
        with self._connection() as connection:
            rows = connection.execute(
                select(TIMER.c.kind, TIMER.c.rung, TIMER.c.due_at, CLOCK.c.stage)
                .join(CLOCK, CLOCK.c.id == TIMER.c.clock_id)
                .where(TIMER.c.case_id == case_id, TIMER.c.status == "fired")
                .order_by(TIMER.c.due_at, TIMER.c.id)
            )
            return tuple(TimeLimitEvent(r.kind, r.rung, r.due_at, r.stage) for r in rows)

    def open_in_grid(self, grid: str) -> tuple[int, ...]:
        """The ids of the open cases located in `grid` or in a grid below it."""
        with self._connection() as connection:
            rows = connection.execute(
                select(CASE.c.id)
                .where(CASE.c.grid_path.like(f"%/{grid}/%"), CASE.c.state_kind == "open")
                .order_by(CASE.c.id)
            )
            return tuple(r.id for r in rows)


def _grid(row: Any) -> GridView:
    return GridView(row["code"], row["name"], row["level"], row["parent"], row["unit"])


def _person(row: Any) -> PersonView:
    return PersonView(
        row["id"],
        row["username"],
        row["name"],
        row["unit"],
        tuple(row["roles"] or ()),
        dict(row["attributes"] or {}),
    )


def case_view(connection: Connection, case_id: int, now: datetime) -> CaseView:
    """The case as hooks see it, read in `connection` (so inside a transition, as it is now)."""
    row = connection.execute(select(CASE).where(CASE.c.id == case_id)).mappings().first()
    if row is None:
        raise GridcaseError("not_found", f"no case {case_id}")
    units = connection.execute(
        select(CASE_UNIT.c.unit, CASE_UNIT.c.role, CASE_UNIT.c.share)
        .where(CASE_UNIT.c.case_id == case_id, CASE_UNIT.c.active)
        .order_by(CASE_UNIT.c.id)
    )
    clocks = connection.execute(
        select(
            CLOCK.c.stage,
            CLOCK.c.status,
            CLOCK.c.started_at,
            CLOCK.c.deadline,
            CLOCK.c.owner,
            CLOCK.c.stopped_at,
        )
        .where(CLOCK.c.case_id == case_id, ~CLOCK.c.superseded)
        .order_by(CLOCK.c.id)
    )
    codes = [c for c in (row["grid_path"] or "").strip("/").split("/") if c]
    grids = {r["code"]: r for r in connection.execute(select(GRID).where(GRID.c.code.in_(codes))).mappings()}
    return CaseView(
        id=row["id"], number=row["number"], class_code=row["class_code"], major_code=row["major_code"],
        kind=row["kind"], workflow=row["workflow"], state=row["state"], state_kind=row["state_kind"],
        version=row["version"], channel=row["channel"], reporter_id=row["reporter_id"],
        urgent=bool(row["urgent"]), description=row["description"], address=row["address"],
        lon=row["lon"], lat=row["lat"], grid=row["grid"],
        grids=tuple(_grid(grids[c]) for c in reversed(codes) if c in grids),
        units=tuple(CaseUnitView(u.unit, u.role, u.share) for u in units),
        clocks=tuple(
            ClockView(
                c.stage, c.status, c.started_at, c.deadline, c.owner,
                c.deadline is not None and (c.stopped_at or now) > c.deadline,
            )
            for c in clocks
        ),
        reported_at=row["reported_at"], closed_at=row["closed_at"], parent_id=row["parent_id"],
    )  # fmt: skip


# -------------------------------------------------------------------------------------------
# The context
# -------------------------------------------------------------------------------------------


@dataclass
class HookContext:
    """What every hook that runs for a deployment receives as `ctx`."""

    profile: CityProfile
    time: TimeSource
    db: Database = field(repr=False)
    # the transaction the hook runs in (before_transition, during_transition, route_case); None
    # for hooks that run outside one, whose reads then use a connection of their own
    connection: Connection | None = field(default=None, repr=False)
    now: datetime = field(default=None)  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.now is None:
            self.now = self.time.now()
        self.cases = Cases(self)
        self.units = Units(self)
        self.grids = Grids(self)
        self.people = People(self)

    @classmethod
    def offline(cls, profile: dict[str, Any], time: TimeSource | None = None) -> "HookContext":
        """A context of a profile alone, with no database: for a plugin's unit tests of hooks that
        read nothing (a classifier, a router). The read services and `notify` need a deployment."""
        return cls(CityProfile.of(profile), time or SystemTime(), db=None)  # type: ignore[arg-type]

    def config(self, block: str) -> dict[str, Any]:
        """The plugin's own configuration block (see CityProfile.config)."""
        return self.profile.config(block)

    def local(self, moment: datetime) -> datetime:
        """A UTC moment in the profile's time zone (for texts people read)."""
        return moment.astimezone(self.profile.timezone)

    def notify(
        self,
        recipient: str,
        text: str,
        *,
        case_id: int | None = None,
        event: str = "plugin",
        channel: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Queue a notice in the outbox, delivered by the sender of `channel` (the profile's
        notice channel when None) with the outbox's retries, and listed by `gridcase sla outbox`
        and the admin UI like every other notice.

        `recipient` is ``"person:<id>"``, ``"unit:<code>"`` (the unit's people), ``"leader:<unit>"``
        (its leaders) or ``"role:<code>"`` (the centre's people of a role): the forms the
        engine's own notices use, which senders resolve. Inside a transaction the notice is
        written in it, so it is sent only if the transaction commits."""
        kind, _, who = recipient.partition(":")
        if kind not in RECIPIENT_KINDS or not who:
            raise GridcaseError(
                "invalid_notice",
                "a notice's recipient is person:<id>, unit:<code>, leader:<unit> or role:<code>, "
                f"not {recipient!r}",
            )
        row = {
            "created_at": self.now, "channel": channel or self.profile.notifications.channel,
            "recipient": recipient,
            "case_id": case_id, "event": event, "text": text, "payload": payload or {},
            "status": "pending", "attempts": 0, "next_attempt_at": self.now,
        }  # fmt: skip
        if self.connection is not None:
            self.connection.execute(OUTBOX.insert(), row)
        else:
            with write(self.db) as connection:
                connection.execute(OUTBOX.insert(), row)


class Hooks:
    """Calls the hooks of one deployment with a context, and only when some plugin listens."""

    def __init__(
        self, pm: pluggy.PluginManager, profile: CityProfile, time: TimeSource, db: Database
    ) -> None:
        self.pm, self.profile, self.time, self.db = pm, profile, time, db

    def listened(self, name: str) -> bool:
        # pluggy's call costs even with no plugin, and building a case view costs queries
        return bool(getattr(self.pm.hook, name).get_hookimpls())

    def context(self, connection: Connection | None = None, now: datetime | None = None) -> HookContext:
        return HookContext(self.profile, self.time, self.db, connection, now or self.time.now())

    def call(
        self, name: str, connection: Connection | None = None, now: datetime | None = None, **kwargs: Any
    ) -> Any:
        return getattr(self.pm.hook, name)(ctx=self.context(connection, now), **kwargs)

    def during_transition(self, connection: Connection, event: dict[str, Any], name: str) -> None:
        """The transaction-scoped hook, in the transition's transaction (its errors refuse it)."""
        if self.listened("during_transition"):
            ctx = self.context(connection, event["at"])
            case = case_view(connection, event["case_id"], ctx.now)
            self.pm.hook.during_transition(ctx=ctx, case=case, transition=transition_view(event, name))

    def after_transition(self, event: dict[str, Any], name: str) -> None:
        if self.listened("after_transition"):
            self._observe("after_transition", event["case_id"], transition=transition_view(event, name))

    def after_case_created(self, case_id: int) -> None:
        if self.listened("after_case_created"):
            self._observe("after_case_created", case_id)

    def _observe(self, hook: str, case_id: int, **kwargs: Any) -> None:
        """An observer runs after the commit: what it raises is logged, and undoes nothing."""
        ctx = self.context()
        try:
            getattr(self.pm.hook, hook)(ctx=ctx, case=ctx.cases.get(case_id), **kwargs)
        except Exception:
            log.exception("%s of case %s failed in a plugin; the change it observed stands", hook, case_id)


def transition_view(event: dict[str, Any], name: str) -> TransitionView:
    """A recorded event (an events.event_row) as hooks see it."""
    return TransitionView(
        code=event["transition"], name=name, from_state=event["from_state"], to_state=event["to_state"],
        actor_id=event["actor_id"], actor_roles=tuple(event["actor_roles"]), at=event["at"],
        payload=dict(event["payload"] or {}), reason=event["reason"], seq=event["seq"],
    )  # fmt: skip
