"""Cases and what hangs off them: units, events, reports, evidence, clocks, timers, outbox.

The `case_event` rows are the truth and are append-only (database triggers refuse UPDATE and
DELETE, see migrations/versions/0001_initial.py).

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint, text
from sqlmodel import Field

from gridcase.core.db.models.types import TableModel, _json, _ts


class Case(TableModel, table=True):
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
    # the person who answers for the case in its responsible unit (禅城's 指定具体责任人)
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
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


class CaseUnit(TableModel, table=True):
    """A unit's part in a case: responsible (with a share) or handling (at a dispatch depth)."""

    __tablename__ = "case_unit"
    # who answers for a case, read without the row: the queues' unit filter and a department's scope
    __table_args__ = (Index("ix_case_unit_case_active", "case_id", "active", "unit"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    unit: str = Field(index=True, max_length=64)
    role: str = Field(max_length=16)  # responsible | handling
    share: float = 1.0
    depth: int = 0
    active: bool = True
    since: datetime = _ts()


class CaseEvent(TableModel, table=True):
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


class Report(TableModel, table=True):
    """What came in through a channel. Duplicates link to the case they repeat."""

    __tablename__ = "report"
    # the keys the sweep forgets, found without reading the reports that have none (idempotency.py)
    __table_args__ = (
        Index(
            "ix_report_keyed_at",
            "received_at",
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    channel: str = Field(max_length=64)
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    # the client's key with its caller in front ("12:handset-1", "-:…" without a person), and the
    # digest of the request it came with (core/idempotency.py); both cleared after the window
    idempotency_key: str | None = Field(default=None, unique=True, max_length=255)
    request_hash: str | None = Field(default=None, max_length=64)
    duplicate: bool = False
    description: str | None = None
    lon: float
    lat: float
    crs: str = Field(max_length=16)
    received_at: datetime = _ts(index=True)
    # when a report made offline was made on the handset (the field app); received_at is its arrival
    made_at: datetime | None = _ts(default=None)
    # its Open311 token: random, so that nobody finds another's report by counting; reports
    # stored before tokens were random have none and answer to `t<id>` (web/open311.py)
    token: str | None = Field(default=None, unique=True, max_length=32)
    media_url: str | None = Field(default=None, max_length=2000)  # a photo the client keeps itself


class ReportContact(TableModel, table=True):
    """How to reach the person who sent a report, when they said (Open311's email, names and
    phone): a table of its own, so that nothing that reads reports shows it by accident. Staff
    who see the case in full, and the sender, read it (web/api_cases.py)."""

    __tablename__ = "report_contact"
    report_id: int = Field(foreign_key="report.id", primary_key=True)
    email: str | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)


class RateCount(TableModel, table=True):
    """Requests counted against a rate limit, shared by every worker and process (core/quota.py):
    one row per limited client, holding the current window's count."""

    __tablename__ = "rate_count"
    key: str = Field(primary_key=True, max_length=200)
    slot: int = Field(sa_type=BigInteger)  # which window: seconds since the epoch // its length
    hits: int


class TransitionKey(TableModel, table=True):
    """A transition's idempotency key (scoped as a report's) and the answer its request was given,
    for its retries; forgotten after the window (core/idempotency.py)."""

    __tablename__ = "transition_key"
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    case_id: int = Field(foreign_key="case.id")
    status: int  # the HTTP status of the answer
    answer: str | None = None  # its body; None until a committed transition's answer is recorded
    created_at: datetime = _ts(index=True)


class Evidence(TableModel, table=True):
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
    # a photo the client said was taken before or after the handling (both come with one step:
    # the feedback's, a 自行处置's); None leaves it to the step it came with (admin_ui/case_view.py)
    phase: str | None = Field(default=None, max_length=16)


class Clock(TableModel, table=True):
    """A time-limit clock of one stage of one case (the deadline arithmetic is core/sla)."""

    __tablename__ = "clock"
    __table_args__ = (
        Index("ix_clock_running_deadline", "status", "deadline"),
        Index("ix_clock_running_yellow", "status", "yellow_at"),
        # a case's nearest running deadline, read without the rows: the queues' order
        Index("ix_clock_case_running", "case_id", "status", "deadline"),
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
    # a deadline past the published holiday schedule (core/sla/calendar.py): from when it is
    # provisional, and the working minutes of the deadline and the yellow light counted past
    # that moment, which a recompute counts again on the year's real schedule
    provisional_from: datetime | None = _ts(default=None, index=True)
    provisional_minutes: float | None = None
    provisional_yellow_minutes: float | None = None


class Counter(TableModel, table=True):
    """Sequence numbers (case numbers) claimed atomically with an upsert."""

    __tablename__ = "counter"
    key: str = Field(primary_key=True, max_length=128)
    value: int


class Timer(TableModel, table=True):
    """A time-limit event to fire once: a light turning yellow or red, or an escalation rung.

    Scheduled when its clock starts (and again when the deadline moves); the sweep claims due
    rows with one atomic statement, so each fires exactly once whatever the number of sweepers.
    """

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "status", "due_at"),
        Index("ix_timer_clock", "clock_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    clock_id: int = Field(foreign_key="clock.id")
    case_id: int = Field(foreign_key="case.id")
    kind: str = Field(max_length=16)  # yellow | red | escalation
    rung: str | None = Field(default=None, max_length=64)
    due_at: datetime = _ts()
    status: str = Field(default="pending", max_length=16)  # pending | fired
    fired_at: datetime | None = _ts(default=None)
    fired_by: str | None = Field(default=None, max_length=64)


class Outbox(TableModel, table=True):
    """A notification to deliver; written in the transaction that caused it, delivered with retries."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # a person's inbox: the notices to them, newest first
        Index("ix_outbox_recipient", "recipient", "id"),
    )
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


class NoticeRead(TableModel, table=True):
    """A person has read a notice of the outbox. A notice to a unit or a role reaches several
    people, so who has read it is kept apart from the notice (admin_ui's inbox)."""

    __tablename__ = "notice_read"
    # the notice first: a notice the retention purges takes its reads with it, found by the key
    outbox_id: int = Field(foreign_key="outbox.id", primary_key=True, ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    read_at: datetime = _ts()


class DigestRun(TableModel, table=True):
    """A daily digest sent for one day (和平's 17:30 SMS): the unique row is the claim, so each
    goes out once whatever the number of sweepers."""

    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("code", "day", name="uq_digest_run_code_day"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    day: date
    sent_at: datetime = _ts()
    notices: int
