"""Clocks: a transition starts, stops, pauses, resumes and extends the clocks of stages.

A clock's deadline is computed when it starts and stored (indexed), so a sweep reads only what
is due. Pausing (挂账) keeps the remaining working time; resuming restarts it from then. An
approved extension (延期) moves the deadline by the approved amount. Each method returns the
deadline changes it made, which the caller records in the event's `effects`.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Connection, and_, bindparam, func, or_, select, update
from sqlalchemy import case as when

from gridcase.core.cases.events import append, bump, event_row
from gridcase.core.db.fast import FastInsert
from gridcase.core.db.models import Case, Clock, UTCDateTime
from gridcase.core.durations import Duration
from gridcase.core.sla import sweep
from gridcase.core.sla.deadlines import NOT_PROVISIONAL, Deadlines, provisional_columns

if TYPE_CHECKING:
    from gridcase.core.people.actor import Actor

CLOCK, CASE = Clock.__table__, Case.__table__
FAST_INSERT_CLOCK = FastInsert(CLOCK)
FAST_INSERT_CLOCK_ID = FastInsert(CLOCK, returning_id=True)
# every row of one insert has the same keys (executemany)
NO_DEADLINE = dict.fromkeys(
    (
        "deadline",
        "yellow_at",
        "rule",
        "unit",
        "amount",
        "calendar",
        "actor_id",
        "stopped_by",
        *NOT_PROVISIONAL,
    )
)
OPEN = ("running", "paused")


class _Change:
    """An UPDATE of a case's clocks in some statuses (and stages), built once: a transition runs
    several, and building and keying statements cost more than running them on SQLite.
    Parameters: case, statuses, stages, and what `values` binds (at, by, actor)."""

    def __init__(self, extra=None, **values: Any) -> None:
        every = update(CLOCK).where(
            CLOCK.c.case_id == bindparam("case"), CLOCK.c.status.in_(bindparam("statuses", expanding=True))
        )
        if extra is not None:
            every = every.where(extra)
        named = every.where(CLOCK.c.stage.in_(bindparam("stages", expanding=True)))
        self.every, self.named = (
            q.values(**values).returning(CLOCK.c.id, CLOCK.c.deadline) for q in (every, named)
        )


# typed, since `at` also goes through COALESCE, where no column lends it the UTC type: untyped,
# the driver stored a local time with its offset, which SQLite compares as text
AT = bindparam("at", type_=UTCDateTime())
BY: BindParameter[str | None] = bindparam("by")
ACTOR: BindParameter[int | None] = bindparam("actor")
STOP = _Change(status="stopped", stopped_at=AT, stopped_by=BY, actor_id=ACTOR)
PAUSE = _Change(status="paused", paused_at=AT)
# a stage started again ends its earlier runs, keeping how they ended when they had
SUPERSEDE = _Change(
    ~CLOCK.c.superseded,
    superseded=True,
    status="stopped",
    stopped_at=func.coalesce(CLOCK.c.stopped_at, AT),
    stopped_by=func.coalesce(CLOCK.c.stopped_by, BY),
    actor_id=func.coalesce(CLOCK.c.actor_id, ACTOR),
)


def _stages(stages: Iterable[str]) -> tuple[bool, list[str]]:
    stages = list(stages)
    return "*" in stages, [s for s in stages if s != "*"]


def _moved(calendar, since: datetime, moment: datetime, minutes: float) -> bool:
    """Whether `minutes` of working time from `since` no longer end at `moment`."""
    return abs(calendar.between(since, moment) - minutes) > 1e-6


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


# The usual transition stops some stages and starts others. One UPDATE ends both kinds of run:
# the stopped ones, and the earlier runs of the stages it starts again (superseded, keeping how
# they ended). They were two statements, together the costliest part of a transition.
STOP_AND_SUPERSEDE = (
    update(CLOCK)
    .where(
        CLOCK.c.case_id == bindparam("case"),
        or_(
            and_(
                CLOCK.c.stage.in_(bindparam("stops", expanding=True)),
                CLOCK.c.status.in_(("running", "paused")),
            ),
            and_(CLOCK.c.stage.in_(bindparam("starts", expanding=True)), ~CLOCK.c.superseded),
        ),
    )
    .values(
        status="stopped",
        stopped_at=func.coalesce(CLOCK.c.stopped_at, AT),
        stopped_by=func.coalesce(CLOCK.c.stopped_by, BY),
        actor_id=func.coalesce(CLOCK.c.actor_id, ACTOR),
        superseded=when(
            (CLOCK.c.stage.in_(bindparam("restarted", expanding=True)), True), else_=CLOCK.c.superseded
        ),
    )
    .returning(CLOCK.c.id, CLOCK.c.deadline)
)


def provisional_deadlines(connection: Connection, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """How many open clocks have a provisional deadline, and the soonest `limit` of them with
    their case numbers."""
    where = (CLOCK.c.provisional_from.is_not(None), CLOCK.c.status.in_(OPEN))
    count = connection.execute(select(func.count()).where(*where)).scalar_one()
    query = (
        select(CASE.c.number, CLOCK.c.stage, CLOCK.c.deadline)
        .join(CASE, CASE.c.id == CLOCK.c.case_id)
        .where(*where)
        .order_by(CLOCK.c.deadline, CLOCK.c.id)
        .limit(limit)
    )
    return count, [dict(r) for r in connection.execute(query).mappings()]


class Clocks:
    def __init__(self, deadlines: Deadlines) -> None:
        self.deadlines = deadlines

    def start(
        self,
        connection: Connection,
        case_id: int,
        stages: Iterable[str],
        now: datetime,
        case: dict[str, Any],
        handling_unit: str | None = None,
        fresh: bool = False,
        owner: str | None = None,
        by: str | None = None,
        actor_id: int | None = None,
        ended: bool = False,
    ) -> list[dict[str, Any]]:
        """Start clocks with their deadlines; `fresh` says the case is new and has none to end,
        `ended` that `stop_and_supersede` has already ended the stages' earlier runs.

        `owner` is the unit the stage run counts against in assessment (the handling unit, else
        the responsible one); `by` and `actor_id` record who ended a run that this one replaces.
        """
        named = [s for s in stages if s != "*"]
        if not named:
            return []
        if not fresh and not ended:
            # a stage started again (rework, re-dispatch) gets a new clock; the old runs end and
            # are marked superseded, so assessment can count a case's last run only
            self._set(
                connection, SUPERSEDE, case_id, named, ("running", "paused", "stopped"),
                at=now, by=by, actor=actor_id,
            )  # fmt: skip
        rows, changes = self.plan(case_id, named, now, case, handling_unit, owner)
        self.insert(connection, rows)
        return changes

    def plan(
        self,
        case_id: int,
        stages: Iterable[str],
        now: datetime,
        case: dict[str, Any],
        handling_unit: str | None = None,
        owner: str | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of new clocks for `stages` and their deadline changes, nothing written: for
        `insert`, which takes many cases' rows at once (the intake of a batch)."""
        rows, changes = [], []
        for stage in stages:
            if stage == "*":
                continue
            due = self.deadlines.compute(stage, case, now, handling_unit)
            row = {
                "case_id": case_id, "stage": stage, "status": "running", "started_at": now,
                **NO_DEADLINE, "owner": owner, "superseded": False, "extended": 0,
            }  # fmt: skip
            if due is not None:
                row.update(
                    deadline=due.deadline, yellow_at=due.yellow_at, rule=due.rule,
                    unit=due.unit, amount=due.amount, calendar=due.calendar,
                )  # fmt: skip
                change: dict[str, Any] = {
                    "stage": stage, "why": "start", "deadline": _iso(due.deadline), "rule": due.rule,
                }  # fmt: skip
                if due.provisional is not None:
                    row.update(due.provisional.columns())
                    change["provisional"] = True
                changes.append(change)
            rows.append(row)
        return rows, changes

    def insert(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert clock rows from `plan`."""
        if any(row["deadline"] and self.deadlines.watched(row["stage"]) for row in rows):
            # watched clocks get their timers (lights and escalation rungs), which need their ids
            ids = FAST_INSERT_CLOCK_ID.send_many(connection, rows)()
            for row, clock_id in zip(rows, ids, strict=True):
                sweep.schedule(connection, self.deadlines, {**row, "id": clock_id}, fresh=True)
        else:
            FAST_INSERT_CLOCK.many(connection, rows)

    def _select(self, case_id: int, stages: Iterable[str], statuses: tuple[str, ...]):
        every, named = _stages(stages)
        query = select(CLOCK).where(CLOCK.c.case_id == case_id, CLOCK.c.status.in_(statuses))
        return query if every else query.where(CLOCK.c.stage.in_(named))

    def _set(
        self,
        connection: Connection,
        change: _Change,
        case_id: int,
        stages,
        statuses: tuple[str, ...],
        **values,
    ) -> None:
        """Change clocks that stop running; their pending timers are cancelled."""
        every, named = _stages(stages)
        if not every and not named:
            return
        params = {"case": case_id, "statuses": list(statuses), **values}
        if every:
            changed = connection.execute(change.every, params).all()
        else:
            changed = connection.execute(change.named, {**params, "stages": named}).all()
        sweep.cancel(connection, [row.id for row in changed if row.deadline is not None])

    def stop(
        self,
        connection: Connection,
        case_id: int,
        stages: Iterable[str],
        now: datetime,
        by: str | None = None,
        actor_id: int | None = None,
    ) -> list:
        """Stop clocks, recording the transition and the person that stopped them."""
        self._set(connection, STOP, case_id, stages, ("running", "paused"), at=now, by=by, actor=actor_id)
        return []

    def stop_and_supersede(
        self, connection: Connection, case_id: int, stops: list[str], starts: list[str], now, by, actor_id
    ) -> None:
        """`stop` these stages and end the earlier runs of those about to `start`, in one statement."""
        params = {"case": case_id, "stops": stops, "starts": starts, "restarted": starts}
        changed = connection.execute(
            STOP_AND_SUPERSEDE, {**params, "at": now, "by": by, "actor": actor_id}
        ).all()
        sweep.cancel(connection, [row.id for row in changed if row.deadline is not None])

    def pause(self, connection: Connection, case_id: int, stages: Iterable[str], now: datetime) -> list:
        self._set(connection, PAUSE, case_id, stages, ("running",), at=now)
        return []

    def resume(self, connection: Connection, case_id: int, stages: Iterable[str], now: datetime) -> list:
        """Restart paused clocks; each keeps the working time it had left when it paused."""
        changes: list[dict[str, Any]] = []
        if not list(stages):
            return changes
        for clock in connection.execute(self._select(case_id, stages, ("paused",))).mappings().all():
            values: dict[str, Any] = {"status": "running", "paused_at": None}
            if clock["deadline"] is not None:
                calendar = self.deadlines.clock_calendar(clock["unit"], clock["calendar"])
                left = calendar.between(clock["paused_at"], clock["deadline"])
                values["deadline"] = calendar.add(now, left)
                if clock["yellow_at"] is not None:
                    values["yellow_at"] = calendar.add(
                        now, calendar.between(clock["paused_at"], clock["yellow_at"])
                    )
                values.update(provisional_columns(calendar, now, values["deadline"], values.get("yellow_at")))
                changes.append(
                    {
                        "stage": clock["stage"],
                        "why": "resume",
                        "was": _iso(clock["deadline"]),
                        "deadline": _iso(values["deadline"]),
                        **({"provisional": True} if values["provisional_from"] else {}),
                    }
                )
            connection.execute(update(CLOCK).where(CLOCK.c.id == clock["id"]).values(**values))
            sweep.schedule(connection, self.deadlines, {**clock, **values})
        return changes

    def extend(self, connection: Connection, case_id: int, stages: Iterable[str], amount: Duration) -> list:
        """Move deadlines by an approved extension, counted in the extension's own unit.

        The yellow light moves too, keeping its rule over the longer limit: the same time before
        the deadline (`yellow_remaining`), or the same fraction of the whole (`yellow_at`).
        """
        changes: list[dict[str, Any]] = []
        if not list(stages):
            return changes
        unit = self.deadlines.units.get(amount.unit)
        for clock in connection.execute(self._select(case_id, stages, OPEN)).mappings().all():
            if clock["deadline"] is None or unit is None:
                continue
            calendar = self.deadlines.clock_calendar(amount.unit, clock["calendar"])
            minutes = amount.value * unit["minutes"]
            values: dict[str, Any] = {"deadline": calendar.add(clock["deadline"], minutes)}
            if clock["yellow_at"] is not None:
                share = 1.0 if self.deadlines.yellow_remaining else self.deadlines.yellow_fraction
                values["yellow_at"] = calendar.add(clock["yellow_at"], minutes * share)
            own = self.deadlines.clock_calendar(clock["unit"], clock["calendar"])
            since = clock["provisional_from"] or clock["deadline"]
            values.update(provisional_columns(own, since, values["deadline"], values.get("yellow_at")))
            connection.execute(
                update(CLOCK).where(CLOCK.c.id == clock["id"]).values(**values, extended=CLOCK.c.extended + 1)
            )
            sweep.schedule(connection, self.deadlines, {**clock, **values})
            changes.append(
                {
                    "stage": clock["stage"],
                    "why": "extend",
                    "by": str(amount),
                    "was": _iso(clock["deadline"]),
                    "deadline": _iso(values["deadline"]),
                    **({"provisional": True} if values["provisional_from"] else {}),
                }
            )
        return changes

    def recompute(self, connection: Connection, now: datetime, actor: "Actor") -> int:
        """Count provisional deadlines of open clocks again on the calendars as they are now (a
        year's 调休 published, an administrator's overrides or confirmed year); each case whose
        clocks changed records a `recompute_deadlines` event. Returns the clocks changed.

        Only working time from `provisional_from` on is counted again, so a deadline moves only
        when the days past that moment changed.
        """
        query = select(CLOCK).where(CLOCK.c.provisional_from.is_not(None), CLOCK.c.status.in_(OPEN))
        by_case: dict[int, list[dict[str, Any]]] = {}
        for clock in connection.execute(query.order_by(CLOCK.c.case_id, CLOCK.c.id)).mappings().all():
            calendar = self.deadlines.clock_calendar(clock["unit"], clock["calendar"])
            since = clock["provisional_from"]
            values: dict[str, Any] = {}
            if _moved(calendar, since, clock["deadline"], clock["provisional_minutes"]):
                values["deadline"] = calendar.add(since, clock["provisional_minutes"])
            yellow_minutes = clock["provisional_yellow_minutes"]
            if yellow_minutes is not None and _moved(calendar, since, clock["yellow_at"], yellow_minutes):
                values["yellow_at"] = calendar.add(since, yellow_minutes)
            moved = {**clock, **values}
            values.update(provisional_columns(calendar, since, moved["deadline"], moved["yellow_at"]))
            if all(values[k] == clock[k] for k in values):
                continue
            connection.execute(update(CLOCK).where(CLOCK.c.id == clock["id"]).values(**values))
            sweep.schedule(connection, self.deadlines, {**clock, **values})
            by_case.setdefault(clock["case_id"], []).append(
                {
                    "stage": clock["stage"],
                    "why": "recompute",
                    "was": _iso(clock["deadline"]),
                    "deadline": _iso(values.get("deadline", clock["deadline"])),
                    **({"provisional": True} if values["provisional_from"] else {}),
                }
            )
        for case_id, changes in by_case.items():
            row = bump(connection, case_id, now)()
            state = row["state"]
            event = event_row(
                case_id,
                row["version"],
                "recompute_deadlines",
                state,
                state,
                actor,
                now,
                {},
                deadlines=changes,
            )
            append(connection, event)
        return sum(len(c) for c in by_case.values())
