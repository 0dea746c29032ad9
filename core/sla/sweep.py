"""The sweep: fire each due time-limit event exactly once, and deliver notifications.

A clock with a deadline has timers: its yellow and red lights, and one per escalation rung
(`time_limits.escalation`). One atomic statement claims due timers (`UPDATE … WHERE id IN
(SELECT … FOR UPDATE SKIP LOCKED) … RETURNING` on PostgreSQL; SQLite's write transactions are
serial), and the same transaction writes the notifications to the outbox, so a crash loses
nothing and a restart repeats nothing. `after_time_limit_event` hooks run after the commit.

Delivery claims outbox rows with a lease; a sender that fails leaves the row for a retry with
exponential back-off, and after MAX_ATTEMPTS it is marked failed with the reason (a sender may
say otherwise: its `max_attempts`, and `max_backoff`, the longest wait between two tries). A
notice whose channel has no sender stays pending with that reason until a plugin sends it.
"""

import functools
import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from gridcase.core.context import TimeLimitEvent
from gridcase.core.db.connection import read, write
from gridcase.core.db.fast import FastInsert
from gridcase.core.db.models import Case, CaseUnit, Clock, Outbox, Timer, UTCDateTime
from gridcase.core.durations import Duration
from gridcase.core.notify.outbox import TEMPLATES, notice_channel, outbox_row
from gridcase.core.places.units import GridPeople
from gridcase.core.profile.taxonomy import label_zh

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.sla.deadlines import Deadlines

TIMER, OUTBOX, CASE, CASE_UNIT, CLOCK = (t.__table__ for t in (Timer, Outbox, Case, CaseUnit, Clock))
INSERT_TIMERS = FastInsert(TIMER)
CANCEL = delete(TIMER).where(
    TIMER.c.clock_id.in_(bindparam("clocks", expanding=True)), TIMER.c.status == "pending"
)
MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=5)
NO_SENDER_WAIT = timedelta(hours=1)  # how often a notice no plugin sends is looked at again
log = logging.getLogger("gridcase.sla")


def _claim(dialect: str, table: Any, condition: str, values: str, times: tuple[str, ...]) -> Any:
    """One atomic claim of due rows. Times are bound and read through the UTC column type: on
    SQLite a raw string comparison of differently written times would be wrong."""
    lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    statement = text(
        f"UPDATE {table.name} SET {values} WHERE id IN "
        f"(SELECT id FROM {table.name} WHERE {condition} ORDER BY id LIMIT :n{lock}) RETURNING *"
    )
    return statement.bindparams(*(bindparam(t, type_=UTCDateTime()) for t in times)).columns(*table.c)


def schedule(
    connection: Connection, deadlines: "Deadlines", clock: dict[str, Any], fresh: bool = False
) -> None:
    """(Re)create the pending timers of a running clock from its current deadline."""
    if not fresh:
        connection.execute(delete(TIMER).where(TIMER.c.clock_id == clock["id"], TIMER.c.status == "pending"))
    if (
        clock.get("deadline") is None
        or clock.get("status") != "running"
        or not deadlines.watched(clock["stage"])
    ):
        return
    calendar = deadlines.clock_calendar(clock["unit"], clock["calendar"])
    moments = {"yellow": clock["yellow_at"] or clock["deadline"], "red": clock["deadline"]}
    rows = [{"kind": kind, "rung": None, "due_at": due} for kind, due in moments.items()]
    for rung in deadlines.escalation:
        if "stages" in rung and clock["stage"] not in rung["stages"]:
            continue
        after = Duration.parse(rung.get("after"))
        due = moments[rung["light"]]
        if after is not None and after.unit in deadlines.units:
            minutes = after.value * deadlines.units[after.unit]["minutes"]
            working = deadlines.units[after.unit]["working"]
            due = calendar.add(due, minutes) if working else due + timedelta(minutes=minutes)
        rows.append({"kind": "escalation", "rung": rung["code"], "due_at": due})
    INSERT_TIMERS.many(
        connection,
        [{**row, "clock_id": clock["id"], "case_id": clock["case_id"], "status": "pending"} for row in rows],
    )


def cancel(connection: Connection, clock_ids: list[int]) -> None:
    if clock_ids:
        connection.execute(CANCEL, {"clocks": clock_ids})


def sweep(engine: "Deployment", now: datetime | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
    """Fire every due timer once; returns what fired (for the CLI and tests)."""
    now = now or engine.time.now()
    worker = uuid.uuid4().hex[:12]
    # first, so timers of deadlines that moved are claimed as they are now
    recomputed = engine.limits.recompute_deadlines(now)
    if recomputed:
        log.info("recomputed %d provisional deadlines", recomputed)
    with write(engine.db) as connection:
        claim = _claim(
            connection.dialect.name,
            TIMER,
            "status = 'pending' AND due_at <= :now",
            "status = 'fired', fired_at = :now, fired_by = :worker",
            ("now",),
        )
        fired = [
            dict(r) for r in connection.execute(claim, {"now": now, "n": limit, "worker": worker}).mappings()
        ]
        if fired:
            _notify(connection, engine, fired, now)
    if fired:
        log.info("fired %d time-limit events", len(fired), extra={"fields": fired_counts(fired)})
    if fired and engine.hooks.listened("after_time_limit_event"):
        _tell_plugins(engine, fired, now)
    return fired


def _tell_plugins(engine: "Deployment", fired: list[dict[str, Any]], now: datetime) -> None:
    """after_time_limit_event for each fired timer, after the claim's commit: what a plugin
    raises is logged, and the other events are still told."""
    ctx = engine.hooks.context(now=now)
    with read(engine.db) as connection:
        stages = dict(
            connection.execute(
                select(CLOCK.c.id, CLOCK.c.stage).where(CLOCK.c.id.in_({t["clock_id"] for t in fired}))
            ).all()
        )
    for timer in fired:
        event = TimeLimitEvent(
            timer["kind"], timer["rung"], timer["due_at"], stages.get(timer["clock_id"], "")
        )
        try:
            engine.pm.hook.after_time_limit_event(ctx=ctx, case=ctx.cases.get(timer["case_id"]), event=event)
        except Exception:
            log.exception("after_time_limit_event of case %s failed in a plugin", timer["case_id"])


def fired_counts(fired: list[dict[str, Any]]) -> dict[str, int]:
    """How many timers fired, by escalation rung or light."""
    return dict(sorted(Counter(timer["rung"] or timer["kind"] for timer in fired).items()))


def _notify(connection: Connection, engine: "Deployment", fired: list[dict[str, Any]], now: datetime) -> None:
    """Outbox rows for the escalation rungs that fired, set-based (one query per table)."""
    rungs = {r["code"]: r for r in engine.city.escalation}
    escalations = [t for t in fired if t["kind"] == "escalation" and t["rung"] in rungs]
    if not escalations:
        return
    case_ids = sorted({t["case_id"] for t in escalations})
    clock_ids = sorted({t["clock_id"] for t in escalations})
    cases = {
        r["id"]: r
        for r in connection.execute(
            select(CASE.c.id, CASE.c.number, CASE.c.kind, CASE.c.class_code, CASE.c.grid).where(
                CASE.c.id.in_(case_ids)
            )
        ).mappings()
    }
    clocks = {
        r["id"]: r
        for r in connection.execute(
            select(CLOCK.c.id, CLOCK.c.stage, CLOCK.c.deadline).where(CLOCK.c.id.in_(clock_ids))
        ).mappings()
    }
    units: dict[int, dict[str, list[str]]] = {}
    for row in connection.execute(
        select(CASE_UNIT.c.case_id, CASE_UNIT.c.unit, CASE_UNIT.c.role).where(
            CASE_UNIT.c.case_id.in_(case_ids), CASE_UNIT.c.active
        )
    ):
        units.setdefault(row.case_id, {}).setdefault(row.role, []).append(row.unit)
    templates = {**TEMPLATES, **engine.city.notifications.templates}
    stages = engine.catalogue.stage_names
    # the supervisors of a case's grid (泰州's task-timeout alert), read only when a rung wants them
    people = (
        GridPeople(connection)
        if any("grid_people" in rungs[t["rung"]].get("notify", []) for t in escalations)
        else None
    )
    rows = []
    for timer in escalations:
        rung, case, clock = rungs[timer["rung"]], cases[timer["case_id"]], clocks[timer["clock_id"]]
        info = engine.catalogue.classes.get((case["kind"], case["class_code"]))
        fields = {
            "number": case["number"],
            "category": label_zh(info["minor"]["name"]) if info else case["class_code"],
            "stage": stages.get(clock["stage"], clock["stage"]),
            "deadline": clock["deadline"].astimezone(engine.city.timezone).strftime("%Y-%m-%d %H:%M"),
        }
        grid_people = people.of(case["grid"]) if people else []
        for recipient in _recipients(rung.get("notify", []), units.get(case["id"], {}), grid_people):
            rows.append(
                outbox_row(
                    now,
                    notice_channel(engine.city, rung),
                    recipient,
                    case["id"],
                    f"{rung['action']}:{rung['code']}",
                    templates[rung["action"]].format(**fields, unit=recipient),
                    {"timer": timer["id"], "stage": clock["stage"], "rung": rung["code"]},
                )  # fmt: skip
            )
    if rows:
        connection.execute(insert(OUTBOX), rows)


def _recipients(targets: list[str], units: dict[str, list[str]], grid_people: list[int]) -> list[str]:
    out: list[str] = []
    for target in targets:
        if target == "grid_people":
            out += [f"person:{p}" for p in grid_people]
        elif target == "handler":
            out += [f"unit:{u}" for u in units.get("handling", [])[-1:]]
        elif target == "unit":
            out += [f"unit:{u}" for u in units.get("responsible", [])]
        elif target == "unit_leader":
            out += [f"leader:{u}" for u in units.get("responsible", [])]
        else:  # dispatcher, centre: roles of the centre
            out.append(f"role:{target}")
    return list(dict.fromkeys(out))


@functools.cache
def _mark(columns: tuple[str, ...]):
    """The UPDATE recording one delivery outcome by the claim that sent it (built once per
    outcome: a busy sweep delivers hundreds of notices)."""
    return (
        update(OUTBOX)
        .where(OUTBOX.c.id == bindparam("id_"), OUTBOX.c.attempts == bindparam("claim"))
        .values({c: bindparam(c) for c in columns})
    )


_DUE_NOW = (
    OUTBOX.c.status.in_(("pending", "sending")),
    OUTBOX.c.next_attempt_at <= bindparam("now", type_=UTCDateTime()),
)
DUE = select(OUTBOX.c.id).where(*_DUE_NOW).order_by(OUTBOX.c.id).limit(bindparam("n"))
CLAIM_ONE = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("id_"), *_DUE_NOW)
    .values(status="sending", attempts=OUTBOX.c.attempts + 1, next_attempt_at=bindparam("lease"))
    .returning(*OUTBOX.c)
)


def deliver(
    engine: "Deployment", senders: dict[str, Any], now: datetime | None = None, limit: int = 500
) -> dict[str, int]:
    """Send due outbox rows through the sender of their channel; returns counts by outcome.

    Each notice is claimed just before it is sent, under its own lease: a batch claimed at once
    let a slow sender's last notices outlive the lease, and another sweep sent them again. Its
    outcome is recorded only by the claim that sent it (`attempts` names the claim).
    """
    now = now or engine.time.now()
    with write(engine.db) as connection:
        due = connection.execute(DUE, {"now": now, "n": limit}).scalars().all()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for notice_id in due:
        at = max(now, engine.time.now())  # a long batch claims later notices later
        with write(engine.db) as connection:
            claimed = (
                connection.execute(CLAIM_ONE, {"id_": notice_id, "now": at, "lease": at + LEASE})
                .mappings()
                .first()
            )
        if claimed is None:
            continue  # another sweep has it, or sent it
        message = {**claimed, "idempotency_key": f"gridcase-outbox-{claimed['id']}"}
        sender = senders.get(message["channel"])
        try:
            if sender is None:
                raise LookupError(f"no sender for channel {message['channel']!r}")
            sender.send(message)
            outcome, values = "sent", {"status": "sent", "sent_at": at, "last_error": None}
        except Exception as exc:  # a sender's failure is recorded on the message, whatever it was
            error = f"{type(exc).__name__}: {exc}"[:1000]
            if sender is None:  # a configuration gap, not a failed delivery: wait for the sender
                backoff = min(timedelta(minutes=2 ** message["attempts"]), NO_SENDER_WAIT)
                outcome, values = (
                    "retry",
                    {"status": "pending", "last_error": error, "next_attempt_at": at + backoff},
                )
            elif message["attempts"] >= getattr(sender, "max_attempts", MAX_ATTEMPTS):
                outcome, values = "failed", {"status": "failed", "last_error": error}
            else:
                # a partner that must get every answer (the 12345 bridge) keeps trying, no rarer
                # than its sender's max_backoff, for as long as its max_attempts last
                backoff = min(
                    timedelta(minutes=2 ** min(message["attempts"], 16)),
                    getattr(sender, "max_backoff", NO_SENDER_WAIT * 24),
                )
                outcome, values = (
                    "retry",
                    {"status": "pending", "last_error": error, "next_attempt_at": at + backoff},
                )
            log.warning("notification %s to %s: %s", message["id"], message["recipient"], error)
        with write(engine.db) as connection:
            connection.execute(
                _mark(tuple(sorted(values))), {**values, "id_": message["id"], "claim": message["attempts"]}
            )
        counts[outcome] += 1
    if any(counts.values()):
        log.info("delivered notices", extra={"fields": counts})
    return counts
