"""Clock records: a transition starts, stops, pauses and resumes the clocks of stages.

Deadline arithmetic (working calendars, lights, sweeps) builds on these rows; a clock's
`deadline` is stored when it starts so that sweeps read only what is due.
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, insert, update

from ..db.models import Clock

CLOCK = Clock.__table__


def _stages(stages: Iterable[str]) -> tuple[bool, list[str]]:
    stages = list(stages)
    return "*" in stages, [s for s in stages if s != "*"]


INSERT_CLOCK = insert(CLOCK)


def start(
    connection: Connection, case_id: int, stages: Iterable[str], now: datetime, fresh: bool = False
) -> None:
    """Start clocks; `fresh` says the case is new and has none to end first."""
    rows = [
        {"case_id": case_id, "stage": s, "status": "running", "started_at": now} for s in stages if s != "*"
    ]
    if rows:
        if not fresh:  # a stage started again (rework, re-dispatch) gets a new clock; the old one ends
            stop(connection, case_id, [r["stage"] for r in rows], now)
        connection.execute(INSERT_CLOCK, rows)


def _set(
    connection: Connection, case_id: int, stages: Iterable[str], statuses: tuple[str, ...], **values
) -> None:
    every, named = _stages(stages)
    if not every and not named:
        return
    query = update(CLOCK).where(CLOCK.c.case_id == case_id, CLOCK.c.status.in_(statuses))
    if not every:
        query = query.where(CLOCK.c.stage.in_(named))
    connection.execute(query.values(**values))


def stop(connection: Connection, case_id: int, stages: Iterable[str], now: datetime) -> None:
    _set(connection, case_id, stages, ("running", "paused"), status="stopped", stopped_at=now)


def pause(connection: Connection, case_id: int, stages: Iterable[str], now: datetime) -> None:
    _set(connection, case_id, stages, ("running",), status="paused", paused_at=now)


def resume(connection: Connection, case_id: int, stages: Iterable[str], now: datetime) -> None:
    _set(connection, case_id, stages, ("paused",), status="running", paused_at=None)
