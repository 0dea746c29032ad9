"""What an administrator does to a person's account from the admin UI: their roles and unit, their
responsibility grids, a new password, unlocking a name that failed too many logins, and
deactivating or reactivating them; and what a person does to their own: choosing a password.
Each change is written with its line in the audit log in one transaction, so there is no change
without its record, nor a record without its change.

The audit log is the administrators' append-only change table (`setting_change`, kind
"person"): who changed whom, when, what the fields were and what they became, and why. A
password is never written there, only that it was reset or that its person chose a new one.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy import Engine as Database

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Grid, LoginAttempt, Person, Responsibility, SettingChange
from gridcase.core.errors import GridcaseError
from gridcase.core.people.accounts import (
    end_sessions,
    end_sessions_if_rights_changed,
    generate_password,
    hash_password,
    verified,
)

PERSON, RESPONSIBILITY, GRID, ATTEMPT, CHANGE = (
    t.__table__ for t in (Person, Responsibility, Grid, LoginAttempt, SettingChange)
)
KIND = "person"
CODE_LENGTH = 64  # the change table's code column: a longer username is cut in the log only


def _person(connection: Connection, username: str) -> dict[str, Any]:
    row = connection.execute(select(PERSON).where(PERSON.c.username == username)).mappings().first()
    if row is None:
        raise GridcaseError("not_found", f"no person {username!r}", {"username": username})
    return dict(row)


def _grids_of(connection: Connection, person_id: int) -> list[str]:
    return list(
        connection.execute(
            select(RESPONSIBILITY.c.grid)
            .where(RESPONSIBILITY.c.person_id == person_id)
            .order_by(RESPONSIBILITY.c.grid)
        ).scalars()
    )


def _record(
    connection: Connection,
    username: str,
    changes: dict[str, Any],
    previous: dict[str, Any],
    reason: str,
    by: str,
    now: datetime,
) -> None:
    connection.execute(
        insert(CHANGE).values(
            kind=KIND,
            code=username[:CODE_LENGTH],
            changes=changes,
            previous=previous,
            reason=reason.strip(),
            changed_by=by,
            changed_at=now,
        )
    )


def change(
    db: Database, username: str, values: dict[str, Any], by: str, now: datetime, reason: str = ""
) -> None:
    """Set the person's `roles`, `unit` or `active` (those given; the caller checked roles and
    unit against the profile). Other roles or a deactivation end the person's sessions
    (accounts.py): a deactivated person cannot log in, and no case is assigned to them."""
    with write(db) as connection:
        before = _person(connection, username)
        changed = {k: v for k, v in values.items() if _comparable(k, v) != _comparable(k, before[k])}
        if not changed:
            return
        connection.execute(update(PERSON).where(PERSON.c.id == before["id"]).values(**changed))
        end_sessions_if_rights_changed(connection, before["id"], before, changed)
        _record(connection, username, changed, {k: before[k] for k in changed}, reason, by, now)


def _comparable(field: str, value: Any) -> Any:
    return sorted(value) if field == "roles" else value


def assign_grids(
    db: Database, username: str, grids: Sequence[str], by: str, now: datetime, reason: str = ""
) -> list[str]:
    """Make `grids` (codes) the person's responsibility grids; the codes kept, sorted. A
    deactivated person is given none: nobody would answer for them."""
    wanted = sorted(dict.fromkeys(grids))
    with write(db) as connection:
        person = _person(connection, username)
        if not person["active"] and wanted:
            raise GridcaseError("inactive", f"{username} is deactivated", {"username": username})
        known = set(connection.execute(select(GRID.c.code).where(GRID.c.code.in_(wanted))).scalars())
        unknown = [g for g in wanted if g not in known]
        if unknown:
            raise GridcaseError("invalid_grid", f"no grid {unknown[0]!r}", {"grids": unknown})
        before = _grids_of(connection, person["id"])
        if before == wanted:
            return wanted
        connection.execute(delete(RESPONSIBILITY).where(RESPONSIBILITY.c.person_id == person["id"]))
        if wanted:
            connection.execute(
                insert(RESPONSIBILITY), [{"person_id": person["id"], "grid": g} for g in wanted]
            )
        _record(connection, username, {"grids": wanted}, {"grids": before}, reason, by, now)
    return wanted


def reset_password(
    db: Database, username: str, by: str, now: datetime, password: str | None = None, reason: str = ""
) -> str:
    """A new temporary password: the one given (which the administrator tells the person), or a
    generated one; returned to be shown once. It is good only for choosing the person's own
    (change_password). The person's sessions end."""
    chosen = password or generate_password()
    hashed = hash_password(chosen)  # a short one is refused before anything is written
    with write(db) as connection:
        person = _person(connection, username)
        connection.execute(
            update(PERSON)
            .where(PERSON.c.id == person["id"])
            .values(password_hash=hashed, password_temporary=True)
        )
        end_sessions(connection, person["id"])
        _record(
            connection,
            username,
            {"password": "generated" if password is None else "set"},
            {},
            reason,
            by,
            now,
        )
    return chosen


def change_password(
    db: Database, username: str, current: str, new: str, address: str | None, now: datetime
) -> int:
    """The person's own new password, given their current one (a temporary one too), checked and
    throttled as a login is; their id. Their sessions end: any other device logs in again."""
    person_id, _ = verified(db, username, current, address, now)
    if new == current:
        raise GridcaseError("password_reused", "the new password is the old one")
    hashed = hash_password(new)
    with write(db) as connection:
        connection.execute(
            update(PERSON)
            .where(PERSON.c.id == person_id)
            .values(password_hash=hashed, password_temporary=False)
        )
        end_sessions(connection, person_id)
        _record(connection, username, {"password": "changed"}, {}, "", username, now)
    return person_id


def unlock(db: Database, username: str, by: str, now: datetime, reason: str = "") -> int:
    """Forget the name's failed logins from every address, so its next login is not delayed;
    how many were forgotten (core/people/throttle.py)."""
    with write(db) as connection:
        _person(connection, username)
        cleared = connection.execute(delete(ATTEMPT).where(ATTEMPT.c.username == username)).rowcount
        _record(connection, username, {"failed_logins": 0}, {"failed_logins": cleared}, reason, by, now)
    return cleared


def set_active(db: Database, username: str, active: bool, by: str, now: datetime, reason: str = "") -> None:
    """Deactivate or reactivate the person (see `change`)."""
    change(db, username, {"active": active}, by, now, reason)


def history(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """The newest changes to people, newest first."""
    with read(db) as connection:
        rows = connection.execute(
            select(CHANGE).where(CHANGE.c.kind == KIND).order_by(CHANGE.c.id.desc()).limit(limit)
        ).mappings()
        return [dict(r) for r in rows]
