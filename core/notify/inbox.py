"""A person's inbox: the outbox's notices addressed to them, newest first, and which they have
read. The outbox delivers each notice through its sender (SMS, a webhook, the log) as before; the
inbox is where the person sees it in the platform too.

A notice names its recipient as the engine's notices do (`person:<id>`, `unit:<code>`,
`leader:<unit>`, `role:<code>`). A person's notices are those to them, to their unit, to their
unit's leaders when they hold the leader role, and to each of their roles. `role:centre` (the
overdue escalation's "notify the centre") reaches the centre's people: those whose role sees
every case (scope `all`) and works the loop (not the administrators' or the system's group).

A notice to a unit or a role reaches several people, so who has read it is a row of its own
(`notice_read`), one per person and notice. A notice about a case is read only by those who may
see the case (`cases`, the caller's condition on the case table): a county platform's centre
reads `role:centre`'s escalations of its own territory only.
"""

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, exists, func, insert, literal, or_, select
from sqlalchemy import Engine as Database
from sqlalchemy.exc import IntegrityError

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Case, NoticeRead, Outbox, UTCDateTime

if TYPE_CHECKING:
    from gridcase.core.city import CityProfile

OUTBOX, NOTICE_READ, CASE = Outbox.__table__, NoticeRead.__table__, Case.__table__
CENTRE = "role:centre"
NOT_THE_LOOP = ("admin", "system", "public")  # role groups outside the centre's work


def addresses(city: "CityProfile", person_id: int, roles: Collection[str], unit: str | None) -> list[str]:
    """The recipients whose notices a person (their id, roles and unit) reads."""
    found = [f"person:{person_id}", *(f"role:{r}" for r in sorted(roles))]
    if unit:
        found.append(f"unit:{unit}")
        if "leader" in roles:
            found.append(f"leader:{unit}")
    if any(city.role(r).scope == "all" and city.role(r).group not in NOT_THE_LOOP for r in roles):
        found.append(CENTRE)
    return list(dict.fromkeys(found))


def _mine(to: list[str], cases: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    """The notices to `to`, less those about cases outside `cases` (None: every case)."""
    mine: list[ColumnElement[bool]] = [OUTBOX.c.recipient.in_(to)]
    if cases is not None:
        mine.append(or_(OUTBOX.c.case_id.is_(None), exists().where(CASE.c.id == OUTBOX.c.case_id, cases)))
    return mine


def _is_read(person_id: int):
    return exists().where(NOTICE_READ.c.outbox_id == OUTBOX.c.id, NOTICE_READ.c.person_id == person_id)


def listing(
    db: Database,
    to: list[str],
    person_id: int,
    unread_only: bool = False,
    page: int = 1,
    limit: int = 50,
    cases: ColumnElement[bool] | None = None,
) -> dict[str, Any]:
    """One page of the notices to `to`, newest first, each saying whether the person read it;
    with how many there are and how many are unread."""
    mine = _mine(to, cases)
    read_it = _is_read(person_id)
    shown = [*mine, ~read_it] if unread_only else mine
    query = (
        select(
            OUTBOX.c.id, OUTBOX.c.created_at, OUTBOX.c.recipient, OUTBOX.c.case_id, OUTBOX.c.event,
            OUTBOX.c.text, OUTBOX.c.payload, read_it.label("read"),
        )
        .where(*shown)
        .order_by(OUTBOX.c.id.desc())
        .limit(limit)
        .offset((page - 1) * limit)
    )  # fmt: skip
    with read(db) as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
        total = connection.execute(select(func.count()).select_from(OUTBOX).where(*shown)).scalar_one()
        unread = connection.execute(
            select(func.count()).select_from(OUTBOX).where(*mine, ~read_it)
        ).scalar_one()
    return {"rows": rows, "total": total, "unread": unread}


def unread_count(
    db: Database, to: list[str], person_id: int, cases: ColumnElement[bool] | None = None
) -> int:
    query = select(func.count()).select_from(OUTBOX).where(*_mine(to, cases), ~_is_read(person_id))
    with read(db) as connection:
        return connection.execute(query).scalar_one()


def mark_read(
    db: Database,
    to: list[str],
    person_id: int,
    now: datetime,
    ids: list[int] | None = None,
    cases: ColumnElement[bool] | None = None,
) -> int:
    """Mark the person's unread notices of `ids` (all of them when None) read; returns how many.
    A notice to someone else is left alone, whatever id is sent."""
    chosen = [*_mine(to, cases), ~_is_read(person_id)]
    if ids is not None:
        chosen.append(OUTBOX.c.id.in_(ids))
    rows = select(OUTBOX.c.id, literal(person_id), literal(now, UTCDateTime())).where(*chosen)
    statement = insert(NOTICE_READ).from_select(["outbox_id", "person_id", "read_at"], rows)
    try:
        with write(db) as connection:
            return connection.execute(statement).rowcount
    except IntegrityError:  # the person's other window marked them at the same moment: read
        return 0
