"""Notices sent on a schedule (daily digests, monthly bulletins) go out once however many workers
sweep: a run is the unique (code, day) row of `digest_run`, inserted in the same transaction as
its notices. A second sweeper's insert fails and its transaction, notices included, rolls back;
the caller skips on that IntegrityError."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from gridcase.core.db.models import DigestRun, Outbox

DIGEST_RUN, OUTBOX = DigestRun.__table__, Outbox.__table__


def reached(local: datetime, at: str) -> bool:
    """Whether the local time of day has reached `at` ("17:30")."""
    hour, minute = (int(part) for part in at.split(":"))
    return (local.hour, local.minute) >= (hour, minute)


def claimed(connection: Connection, code: str, day: date) -> bool:
    found = select(DIGEST_RUN.c.id).where(DIGEST_RUN.c.code == code, DIGEST_RUN.c.day == day)
    return connection.execute(found).first() is not None


def record(connection: Connection, code: str, day: date, now: datetime, rows: list[dict[str, Any]]) -> None:
    """Claim the run and queue its notices (in the caller's transaction)."""
    connection.execute(insert(DIGEST_RUN).values(code=code, day=day, sent_at=now, notices=len(rows)))
    if rows:
        connection.execute(insert(OUTBOX), rows)
