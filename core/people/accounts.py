"""People who log in: argon2 password hashes, API tokens and sessions kept only as SHA-256,
throttled logins (throttle.py), and the Actor a person acts as (roles, unit, responsibility grids).

A token is 32 random bytes (URL-safe); hashing it with SHA-256 is enough to keep a stolen table
useless (nothing to guess), and cheap enough to check on every request. Passwords are low
entropy, so they get argon2id.

Sessions are held in the database (`web_session`); the signed cookie holds the session's token
and the CSRF token. A session ends at once, for every worker, when its row goes: on logout, and
when its person is deactivated, given other roles or a new password (a session is a login with
the rights of its moment). It also ends after its idle or its absolute lifetime, whichever
comes first. Knowing who asks stays one indexed statement a request: the session's row rides
on the person's lookup, by its primary key.
"""

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from gridcase.core.db.connection import write
from gridcase.core.db.fast import FastQuery
from gridcase.core.db.models import ApiToken, Person, Responsibility, WebSession
from gridcase.core.errors import GridcaseError
from gridcase.core.people import throttle

PERSON, TOKEN, SESSION, RESPONSIBILITY = (t.__table__ for t in (Person, ApiToken, WebSession, Responsibility))
HASHER = PasswordHasher()
TOKEN_PREFIX = "gc_"
MIN_PASSWORD = 10
# a session's last use is written when it is this old, not on every request: the idle lifetime
# is measured to the minute, and a busy desk's session costs one small write a minute
TOUCH = timedelta(minutes=1)

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
PERSON_BY_SESSION = FastQuery(
    select(PERSON, _GRIDS, SESSION.c.seen_at.label("session_seen_at"))
    .join(SESSION, SESSION.c.person_id == PERSON.c.id)
    .where(
        SESSION.c.token_hash == bindparam("hash"),
        SESSION.c.created_at > bindparam("born"),
        SESSION.c.seen_at > bindparam("seen"),
        PERSON.c.active,
    )
)


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lasts: `idle` after its last use, `absolute` after its login."""

    idle: timedelta = timedelta(minutes=60)
    absolute: timedelta = timedelta(hours=12)

    @classmethod
    def of(cls, settings) -> "Lifetimes":
        return cls(timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_hours))

    def bounds(self, now: datetime) -> dict[str, datetime]:
        """A live session began after `born` and was used after `seen`."""
        return {"born": now - self.absolute, "seen": now - self.idle}


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise GridcaseError("weak_password", f"a password has at least {MIN_PASSWORD} characters")
    return HASHER.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def set_password(db: Engine, username: str, password: str, temporary: bool = False) -> None:
    """A new password, which ends the person's sessions (whoever knew the old one is out);
    `temporary` when it is good only for choosing their own (log_in)."""
    hashed = hash_password(password)
    with write(db) as connection:
        person = connection.execute(select(PERSON.c.id).where(PERSON.c.username == username)).scalar()
        if person is None:
            raise GridcaseError("not_found", f"no person {username!r}")
        connection.execute(
            update(PERSON)
            .where(PERSON.c.id == person)
            .values(password_hash=hashed, password_temporary=temporary)
        )
        end_sessions(connection, person)


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


def person_by_id(connection: Connection, person_id: int) -> dict[str, Any] | None:
    """The active person with this id, with their responsibility `grids`, or None."""
    query = select(PERSON, _GRIDS).where(PERSON.c.id == person_id, PERSON.c.active)
    return _person([dict(row) for row in connection.execute(query).mappings()])


def send_person(
    connection: Connection, token: str | None, session: Any, bounds: dict[str, datetime] | None = None
) -> Callable[[], dict[str, Any] | None]:
    """Send the lookup of the person of `token`, else of `session` if it is live within `bounds`
    (`Lifetimes.bounds`; its last use comes as `session_seen_at`); the answer reads it (see
    `db.fast.Sent`), so that inside `pipelined` the lookups of many requests share a round trip."""
    if token is not None:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return lambda: None
        rows = PERSON_BY_TOKEN.send(connection, {"hash": token_hash(token)})
    elif isinstance(session, str) and len(session) <= 100 and bounds is not None:
        rows = PERSON_BY_SESSION.send(connection, {"hash": token_hash(session), **bounds})
    else:
        return lambda: None
    return lambda: _person(rows())


def _person(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    row = rows[0]
    return {**row, "grids": frozenset(row["grids"].split(GRID_SEPARATOR)) if row["grids"] else frozenset()}


def verified(
    db: Engine, username: str, password: str, address: str | None, now: datetime
) -> tuple[int, bool]:
    """The person's id and whether their password is temporary, or an error: `throttled` while
    failures from `address` delay the next try (throttle.py), else `unauthorized` for a wrong
    name or password. An unknown name, an inactive person or one without a password is checked
    against a made-up hash, so that it takes as long as a wrong password and tells nobody which
    names exist."""
    with write(db) as connection:
        throttle.check(connection, address, username, now)
        throttle.record(connection, address, username, now)
        person = connection.execute(
            select(PERSON.c.id, PERSON.c.password_hash, PERSON.c.password_temporary).where(
                PERSON.c.username == username, PERSON.c.active
            )
        ).first()
    # outside the transaction: argon2 takes a while, and SQLite's writer must not wait on it
    hashed = person.password_hash if person is not None else None
    if _verify(hashed or _unmatchable(), password) and person is not None and hashed:
        with write(db) as connection:
            throttle.forget(connection, address, username)
        return person.id, person.password_temporary
    raise GridcaseError("unauthorized", "wrong name or password")


def log_in(db: Engine, username: str, password: str, address: str | None, now: datetime) -> int:
    """The person's id, or the error of a wrong or throttled login (`verified`). A temporary
    password, right as it is, opens nothing: its person chooses their own first
    (administration.change_password), so the administrator who set it cannot use it."""
    person_id, temporary = verified(db, username, password, address, now)
    if temporary:
        raise GridcaseError(
            "password_change_required",
            "this password was set by an administrator: choose your own password first",
            {"username": username},
        )
    return person_id


@cache
def _unmatchable() -> str:
    """A hash of a password nobody knows, made as every other is (made once, when first needed)."""
    return HASHER.hash(secrets.token_urlsafe(32))


# -- sessions ---------------------------------------------------------------------------


def start_session(db: Engine, person_id: int, now: datetime) -> str:
    """A new session for the person; its token, for the cookie (the table keeps only its hash)."""
    session = secrets.token_urlsafe(32)
    with write(db) as connection:
        connection.execute(
            insert(SESSION).values(
                token_hash=token_hash(session), person_id=person_id, created_at=now, seen_at=now
            )
        )
    return session


def end_session(db: Engine, session: Any) -> None:
    if isinstance(session, str):
        with write(db) as connection:
            connection.execute(delete(SESSION).where(SESSION.c.token_hash == token_hash(session)))


def end_sessions(connection: Connection, person_id: int) -> None:
    """End every session of the person, in the caller's transaction: a change and the end of
    the sessions it outdates go together."""
    connection.execute(delete(SESSION).where(SESSION.c.person_id == person_id))


def end_sessions_if_rights_changed(
    connection: Connection, person_id: int, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """End the person's sessions if `after` (the values written to their row) deactivates them
    or gives them other roles than `before` (their row). A new name, unit or grids keep them:
    who asks is looked up afresh on every request, so those take effect at once anyway."""
    roles = after.get("roles", before["roles"])
    if after.get("active", before["active"]) is False or set(roles) != set(before["roles"]):
        end_sessions(connection, person_id)


def touch_sessions(db: Engine, sessions: list[str], now: datetime) -> None:
    """Note that the sessions were used now (see TOUCH)."""
    with write(db) as connection:
        connection.execute(
            update(SESSION)
            .where(SESSION.c.token_hash.in_([token_hash(s) for s in sessions]))
            .values(seen_at=now)
        )


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
