"""Case events: the one shape of every appended `case_event` row."""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, update

from gridcase.core.db.fast import FastInsert, FastQuery
from gridcase.core.db.models import Case, CaseEvent

if TYPE_CHECKING:
    from gridcase.core.people.actor import Actor

CASE_EVENT = CaseEvent.__table__
INSERT_EVENT = FastInsert(CASE_EVENT, returning_id=True)
CASE = Case.__table__
BUMP_VERSION = FastQuery(  # every duplicate report runs it: built once
    update(CASE)
    .where(CASE.c.id == bindparam("case_id"))
    .values(
        version=CASE.c.version + bindparam("events"),
        updated_at=bindparam("now"),
        report_count=CASE.c.report_count + bindparam("reports"),
    )
    .returning(CASE.c.version, CASE.c.state)
)


def event_row(
    case_id: int,
    seq: int,
    transition: str,
    from_state: str | None,
    to_state: str,
    actor: "Actor",
    at: datetime,
    payload: dict[str, Any],
    reason: str | None = None,
    deadlines: list[dict[str, Any]] | None = None,
    unit: str | None = None,
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "seq": seq,
        "transition": transition,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor.id,
        "actor_roles": sorted(actor.roles),
        "at": at,
        "payload": payload,
        "reason": reason,
        "effects": {"deadlines": deadlines} if deadlines else None,
        "unit": unit,
    }


def append(connection: Connection, event: dict[str, Any]) -> int:
    """Append an event; the id is what evidence attaches to."""
    event_id = INSERT_EVENT(connection, event)
    if event_id is None:
        raise AssertionError("INSERT_EVENT inserts returning_id: it answers the new event's id")
    return event_id


def bump(
    connection: Connection, case_id: int, now, reports: int = 0, events: int = 1
) -> Callable[[], dict[str, Any]]:
    """Send the case's version bump for `events` new events (and `reports` more reports); the
    answer reads the new version, the last event's, and the state (see `db.fast.Sent`)."""
    rows = BUMP_VERSION.send(
        connection, {"case_id": case_id, "now": now, "reports": reports, "events": events}
    )
    return lambda: rows()[0]


def record_action(
    connection: Connection, case_id: int, action: str, actor: "Actor", payload, now, bumped=None, unit=None
) -> dict[str, Any]:
    """An event that keeps the state (a duplicate report, a sub-task's result), after the version
    bump `bumped` sent earlier, or one sent now; `unit` is the unit assessment counts it against.

    The version is bumped and read back in one statement, so concurrent recorders queue
    on the row instead of both taking the same event number.
    """
    row = (bumped or bump(connection, case_id, now))()
    event = event_row(
        case_id, row["version"], action, row["state"], row["state"], actor, now, payload, unit=unit
    )
    append(connection, event)
    return event
