"""The tables. Cases hold current state and denormalised facts for fast queries; the
`case_event` rows are the truth and are append-only (database triggers refuse UPDATE and
DELETE, see migrations/versions/0001_initial.py).

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every database.

    SQLite keeps no time zone and returns naive values; a naive value going in is a bug (whose
    local time?), so it is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kwargs: Any) -> Any:
    """An aware-UTC timestamp column."""
    return Field(sa_type=UTCDateTime, **kwargs)


def _json(**kwargs: Any) -> Any:
    return Field(sa_column=Column(JSON, **kwargs))


class Unit(SQLModel, table=True):
    __tablename__ = "unit"
    code: str = Field(primary_key=True, max_length=64)
    name: str
    name_en: str | None = None
    kind: str = Field(index=True, max_length=64)
    parent: str | None = Field(default=None, foreign_key="unit.code", index=True, max_length=64)
    unit_class: str | None = Field(default=None, max_length=64)
    level: int | None = None
    calendar: str | None = Field(default=None, max_length=64)
    # "/centre/street1/station1/": a unit's subtree is a prefix query
    path: str = Field(index=True, max_length=1024)


class UnitCommand(SQLModel, table=True):
    """A command relation: a street office commands the stations in its territory."""

    __tablename__ = "unit_command"
    commander: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)
    commanded: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)


class Person(SQLModel, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=128)
    name: str
    unit: str | None = Field(default=None, foreign_key="unit.code", index=True, max_length=64)
    roles: list = _json(nullable=False)
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=256)  # argon2; None: cannot log in


class ApiToken(SQLModel, table=True):
    """An API token (also an Open311 api_key). Only its SHA-256 is kept: the token itself is
    shown once, when it is created."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=128)
    token_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)  # the first characters, so people can tell tokens apart
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(default=None)
    revoked_at: datetime | None = _ts(default=None)


class LoginAttempt(SQLModel, table=True):
    """Failed logins, for throttling across every worker."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_who", "username", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=128)
    address: str | None = Field(default=None, max_length=64)
    at: datetime = _ts()


class Responsibility(SQLModel, table=True):
    """A person's responsibility grids (责任网格)."""

    __tablename__ = "responsibility"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    grid: str = Field(foreign_key="grid.code", primary_key=True, max_length=64)


class Grid(SQLModel, table=True):
    __tablename__ = "grid"
    code: str = Field(primary_key=True, max_length=64)
    name: str | None = None
    level: str = Field(index=True, max_length=64)
    parent: str | None = Field(default=None, foreign_key="grid.code", index=True, max_length=64)
    unit: str | None = Field(default=None, max_length=64)
    area_class: str | None = Field(default=None, max_length=64)
    region_class: str | None = Field(default=None, max_length=64)
    path: str = Field(index=True, max_length=1024)
    geometry: bytes = Field(sa_type=LargeBinary)  # WKB, WGS-84
    minx: float
    miny: float
    maxx: float
    maxy: float


class Component(SQLModel, table=True):
    """部件: GB/T 47678.5 table 2. Unit fields are codes or names as surveyed (not foreign keys)."""

    __tablename__ = "component"
    code: str = Field(primary_key=True, max_length=32)
    class_code: str = Field(index=True, max_length=16)
    name: str | None = None
    grid: str | None = Field(default=None, index=True, max_length=64)
    supervisor_unit: str | None = None
    owner_unit: str | None = None
    maintainer_unit: str | None = None
    state: str | None = Field(default=None, max_length=8)
    initial_date: date | None = None
    changed_date: date | None = None
    source: str | None = Field(default=None, max_length=16)
    lon: float
    lat: float
    note: str | None = None


class Case(SQLModel, table=True):
    __tablename__ = "case"
    __table_args__ = (Index("ix_case_dedupe", "class_code", "state_kind", "lat"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=64)
    workflow: str = Field(max_length=64)
    state: str = Field(index=True, max_length=64)
    state_kind: str = Field(max_length=8)  # open | closed, denormalised from the workflow
    version: int = 1
    kind: str = Field(max_length=16)  # component | event
    class_code: str = Field(max_length=16)
    major_code: str = Field(max_length=16)
    standard: str | None = Field(default=None, max_length=64)  # 立案条件 code
    urgent: bool = False
    channel: str = Field(index=True, max_length=64)
    description: str | None = None
    address: str | None = None
    lon: float
    lat: float
    grid: str | None = Field(default=None, index=True, max_length=64)
    grid_path: str | None = Field(default=None, index=True, max_length=1024)
    area_class: str | None = Field(default=None, max_length=16)
    component: str | None = Field(default=None, index=True, max_length=32)
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    verified: bool = False
    report_count: int = 1
    routing_rule: str | None = Field(default=None, max_length=64)
    routing_explanation: str | None = None
    parent_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    # the taxonomy edit in force when the case came in: later edits apply to new cases only
    taxonomy_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reported_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    closed_at: datetime | None = _ts(default=None)


class CaseUnit(SQLModel, table=True):
    """A unit's part in a case: responsible (with a share) or handling (at a dispatch depth)."""

    __tablename__ = "case_unit"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    unit: str = Field(index=True, max_length=64)
    role: str = Field(max_length=16)  # responsible | handling
    share: float = 1.0
    depth: int = 0
    active: bool = True
    since: datetime = _ts()


class CaseEvent(SQLModel, table=True):
    """One transition (or recorded action) of a case. Append-only."""

    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    seq: int
    transition: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=64)
    to_state: str = Field(max_length=64)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor_roles: list = _json(nullable=False)
    at: datetime = _ts(index=True)
    payload: dict = _json(nullable=False)
    reason: str | None = None
    effects: dict | None = _json(nullable=True)  # what the event changed besides the state (deadlines)
    # the unit the event concerns (the handling unit, else the responsible one): assessment counts
    # returns, extensions and rework against it
    unit: str | None = Field(default=None, max_length=64)


class Report(SQLModel, table=True):
    """What came in through a channel. Duplicates link to the case they repeat."""

    __tablename__ = "report"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    channel: str = Field(max_length=64)
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=200)
    duplicate: bool = False
    description: str | None = None
    lon: float
    lat: float
    crs: str = Field(max_length=16)
    received_at: datetime = _ts(index=True)


class Evidence(SQLModel, table=True):
    """A stored file (content-addressed on disk) attached to a case, a report or an event."""

    __tablename__ = "evidence"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="case_event.id")
    kind: str = Field(max_length=16)  # photo | video | audio | document
    sha256: str = Field(max_length=64, index=True)
    content_type: str = Field(max_length=64)
    size: int
    filename: str = Field(max_length=255)
    added_at: datetime = _ts()


class Clock(SQLModel, table=True):
    """A time-limit clock of one stage of one case (the deadline arithmetic is core/sla)."""

    __tablename__ = "clock"
    __table_args__ = (
        Index("ix_clock_running_deadline", "status", "deadline"),
        Index("ix_clock_running_yellow", "status", "yellow_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    stage: str = Field(max_length=64)
    status: str = Field(max_length=16, index=True)  # running | paused | stopped
    started_at: datetime = _ts(index=True)
    paused_at: datetime | None = _ts(default=None)
    stopped_at: datetime | None = _ts(default=None, index=True)
    deadline: datetime | None = _ts(default=None, index=True)
    yellow_at: datetime | None = _ts(default=None, index=True)
    rule: str | None = Field(default=None, max_length=128)  # what decided the limit
    unit: str | None = Field(default=None, max_length=64)  # time-limit unit
    amount: float | None = None  # in that unit
    calendar: str | None = Field(default=None, max_length=64)  # None: the profile's default
    # what assessment counts (core/assess/facts.py): the unit accountable for this stage run, who
    # stopped the clock and with which transition, whether a later run of the stage replaced it
    # (rework), and how many extensions moved its deadline
    owner: str | None = Field(default=None, index=True, max_length=64)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    stopped_by: str | None = Field(default=None, max_length=64)
    superseded: bool = False
    extended: int = 0


class Counter(SQLModel, table=True):
    """Sequence numbers (case numbers) claimed atomically with an upsert."""

    __tablename__ = "counter"
    key: str = Field(primary_key=True, max_length=128)
    value: int


class Timer(SQLModel, table=True):
    """A time-limit event to fire once: a light turning yellow or red, or an escalation rung.

    Scheduled when its clock starts (and again when the deadline moves); the sweep claims due
    rows with one atomic statement, so each fires exactly once whatever the number of sweepers.
    """

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    clock_id: int = Field(foreign_key="clock.id", index=True)
    case_id: int = Field(foreign_key="case.id")
    kind: str = Field(max_length=16)  # yellow | red | escalation
    rung: str | None = Field(default=None, max_length=64)
    due_at: datetime = _ts()
    status: str = Field(default="pending", max_length=16)  # pending | fired
    fired_at: datetime | None = _ts(default=None)
    fired_by: str | None = Field(default=None, max_length=64)


class Outbox(SQLModel, table=True):
    """A notification to deliver; written in the transaction that caused it, delivered with retries."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts()
    channel: str = Field(max_length=32)  # a sender's channel: log, webhook, sms …
    recipient: str = Field(max_length=128)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    event: str = Field(max_length=64)
    text: str
    payload: dict = _json(nullable=False)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_error: str | None = None
    sent_at: datetime | None = _ts(default=None)


class UnitClassChange(SQLModel, table=True):
    """A unit's class from a moment on, so a past period is ranked with the classes it had."""

    __tablename__ = "unit_class_change"
    unit: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)
    since: datetime = _ts(primary_key=True)
    unit_class: str | None = Field(default=None, max_length=64)


class AssessmentSnapshot(SQLModel, table=True):
    """A published assessment (通报). Append-only: publishing again adds a version."""

    __tablename__ = "assessment_snapshot"
    __table_args__ = (UniqueConstraint("period", "scope", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=64)
    scope: str = Field(max_length=256)  # object kind and filters, e.g. "unit" or "unit class=A"
    version: int
    published_at: datetime = _ts()
    published_by: str | None = Field(default=None, max_length=128)
    digest: str = Field(max_length=64)
    content: dict = _json(nullable=False)


class LedgerEntry(SQLModel, table=True):
    """A money (or points) entry in a ledger: deductions turned into money, cost transfers.

    Append-only: a correction is a new entry.
    """

    __tablename__ = "ledger_entry"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True, max_length=64)
    object: str = Field(index=True, max_length=128)  # "unit:jiefang", "person:17"
    amount: float
    points: float | None = None
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    period: str | None = Field(default=None, max_length=64)
    reason: str
    source: str = Field(max_length=128)  # "snapshot:12", a plugin's name …
    at: datetime = _ts()


class CalendarOverride(SQLModel, table=True):
    """An administrator's working-day override: a day off or a make-up working day (调休),
    for the default calendar ("") or a named one. It applies to clocks started after it."""

    __tablename__ = "calendar_override"
    calendar: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    working: bool
    reason: str | None = None
    changed_by: str | None = Field(default=None, max_length=128)
    changed_at: datetime = _ts()


class TaxonomyChange(SQLModel, table=True):
    """An administrator's edit of a minor class, on top of the profile (append-only).

    `changes` holds the fields set and `previous` what they were, so a revert is one more
    change; `id` is the taxonomy version a new case records."""

    __tablename__ = "taxonomy_change"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    code: str = Field(max_length=16)
    changes: dict = Field(sa_column=Column(JSON, nullable=False))
    previous: dict = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    changed_by: str = Field(max_length=128)
    changed_at: datetime = _ts()
    reverts: int | None = Field(default=None, foreign_key="taxonomy_change.id")


class SettingChange(SQLModel, table=True):
    """An administrator's edit of a time-limit rule or an assessment composite (append-only)."""

    __tablename__ = "setting_change"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # rule | composite
    code: str = Field(max_length=64)
    changes: dict = Field(sa_column=Column(JSON, nullable=False))
    previous: dict = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    changed_by: str = Field(max_length=128)
    changed_at: datetime = _ts()
    reverts: int | None = Field(default=None, foreign_key="setting_change.id")
