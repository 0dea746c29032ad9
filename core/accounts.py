"""People who log in: argon2 password hashes, API tokens kept only as SHA-256, throttled logins,
and the Actor a person acts as (roles, unit, responsibility grids).

A token is 32 random bytes (URL-safe); hashing it with SHA-256 is enough to keep a stolen table
useless (nothing to guess), and cheap enough to check on every request. Passwords are low
entropy, so they get argon2id.
"""

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from .db.engine import write
from .db.fastquery import FastQuery
from .db.models import ApiToken, LoginAttempt, Person, Responsibility
from .errors import GridcaseError

PERSON, TOKEN, ATTEMPT, RESPONSIBILITY = (
    t.__table__ for t in (Person, ApiToken, LoginAttempt, Responsibility)
)
HASHER = PasswordHasher()
TOKEN_PREFIX = "gc_"
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(minutes=15)
MIN_PASSWORD = 10

# built once: every authenticated request runs one of these, and the person's responsibility
# grids ride along, so that knowing who asks is a single statement. A profile's grid-code
# pattern could allow a comma, so the codes are joined by the ASCII unit separator.
GRID_SEPARATOR = "\x1f"
_GRIDS = (
    select(func.aggregate_strings(RESPONSIBILITY.c.grid, GRID_SEPARATOR))
    .where(RESPONSIBILITY.c.person_id == PERSON.c.id)
    .scalar_subquery()
    .label("grids")
)
# every API request runs one of these: constant statements straight through the driver
PERSON_BY_TOKEN = FastQuery(
    select(PERSON, _GRIDS)
    .join(TOKEN, TOKEN.c.person_id == PERSON.c.id)
    .where(TOKEN.c.token_hash == bindparam("hash"), TOKEN.c.revoked_at.is_(None), PERSON.c.active)
)
PERSON_BY_ID = FastQuery(select(PERSON, _GRIDS).where(PERSON.c.id == bindparam("id"), PERSON.c.active))


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise GridcaseError("weak_password", f"a password has at least {MIN_PASSWORD} characters")
    return HASHER.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def set_password(db: Engine, username: str, password: str) -> None:
    hashed = hash_password(password)
    with write(db) as connection:
        done = connection.execute(
            update(PERSON).where(PERSON.c.username == username).values(password_hash=hashed)
        )
        if done.rowcount != 1:
            raise GridcaseError("not_found", f"no person {username!r}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Engine, username: str, name: str, now: datetime) -> str:
    """A new token for the person; the only time it is shown."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write(db) as connection:
        person = connection.execute(select(PERSON.c.id).where(PERSON.c.username == username)).scalar()
        if person is None:
            raise GridcaseError("not_found", f"no person {username!r}")
        connection.execute(
            insert(TOKEN).values(
                person_id=person, name=name, token_hash=token_hash(token), prefix=token[:10], created_at=now
            )
        )
    return token


def revoke_token(db: Engine, prefix: str, now: datetime) -> int:
    with write(db) as connection:
        done = connection.execute(
            update(TOKEN).where(TOKEN.c.prefix == prefix, TOKEN.c.revoked_at.is_(None)).values(revoked_at=now)
        )
    return done.rowcount


def person_by_token(connection: Connection, token: str) -> dict[str, Any] | None:
    """The active person a live token belongs to, with their responsibility `grids`, or None."""
    return send_person(connection, token, None)()


def person_by_id(connection: Connection, person_id: Any) -> dict[str, Any] | None:
    """The active person with this id, with their responsibility `grids`, or None."""
    return send_person(connection, None, person_id)()


def send_person(
    connection: Connection, token: str | None, person_id: Any
) -> Callable[[], dict[str, Any] | None]:
    """Send the lookup of the person of `token`, else of `person_id`; the answer reads it (see
    `db.raw.Sent`), so that inside `pipelined` the lookups of many requests share a round trip."""
    if token is not None:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return lambda: None
        rows = PERSON_BY_TOKEN.send(connection, {"hash": token_hash(token)})
    elif isinstance(person_id, int):
        rows = PERSON_BY_ID.send(connection, {"id": person_id})
    else:
        return lambda: None
    return lambda: _person(rows())


def _person(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    row = rows[0]
    return {**row, "grids": frozenset(row["grids"].split(GRID_SEPARATOR)) if row["grids"] else frozenset()}


def log_in(db: Engine, username: str, password: str, address: str | None, now: datetime) -> int:
    """The person's id, or an error; after MAX_FAILURES failures in FAILURE_WINDOW a name is
    refused (even with the right password) until the window passes, on every worker."""
    with write(db) as connection:
        since = now - FAILURE_WINDOW
        failures = connection.execute(
            select(func.count()).where(ATTEMPT.c.username == username, ATTEMPT.c.at >= since)
        ).scalar_one()
        if failures >= MAX_FAILURES:
            raise GridcaseError(
                "throttled",
                "too many failed logins; try again later",
                {"retry_after": int(FAILURE_WINDOW.total_seconds())},
            )
        person = connection.execute(
            select(PERSON.c.id, PERSON.c.password_hash).where(PERSON.c.username == username, PERSON.c.active)
        ).first()
        if person is not None and person.password_hash and _verify(person.password_hash, password):
            connection.execute(delete(ATTEMPT).where(ATTEMPT.c.username == username))
            return person.id
        connection.execute(insert(ATTEMPT).values(username=username[:128], address=address, at=now))
    raise GridcaseError("unauthorized", "wrong name or password")


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
