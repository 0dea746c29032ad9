"""Case events: the one shape of every appended `case_event` row."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from .db.fastinsert import FastInsert
from .db.models import CaseEvent

if TYPE_CHECKING:
    from .cases import Actor

CASE_EVENT = CaseEvent.__table__
INSERT_EVENT = FastInsert(CASE_EVENT, returning_id=True)


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
    return INSERT_EVENT(connection, event)
