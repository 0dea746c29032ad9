"""Slowing password guessing down without locking anyone out.

Failed logins (`login_attempt`) are counted over the last WINDOW by address, and by address and
name. Past a few free failures each one makes the next attempt from there wait, twice as long
as the one before, up to LONGEST. Failures from elsewhere never delay a login: an attacker
cannot lock the administrator out (a hard lock of the name did, from any address), and a
mistyped password costs its owner a second, not a quarter of an hour.

A login counts as failed from the moment it is tried until its password proved right
(`record` before the password is checked, `forget` after a success), so guesses sent in
parallel each count.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, select, type_coerce
from sqlalchemy import Engine as Database

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import LoginAttempt, UTCDateTime
from gridcase.core.errors import GridcaseError

ATTEMPT = LoginAttempt.__table__
NAME_FREE = 5  # failures of one name from one address before the delays start
ADDRESS_FREE = 30  # failures from one address, any names: an office's desks may share one address
WINDOW = timedelta(hours=1)  # failures older than this no longer count
LONGEST = timedelta(minutes=15)
USERNAME, ADDRESS = 128, 64  # the columns' lengths

_NAMED = ATTEMPT.c.username == bindparam("username")
# both counts in one statement, over the address's index
COUNTS = select(
    func.count(),
    func.max(ATTEMPT.c.at),
    func.coalesce(func.sum(case((_NAMED, 1), else_=0)), 0),
    type_coerce(func.max(case((_NAMED, ATTEMPT.c.at))), UTCDateTime()),
).where(ATTEMPT.c.address == bindparam("address"), ATTEMPT.c.at >= bindparam("since", type_=UTCDateTime()))


@dataclass(frozen=True)
class Throttle:
    """Failures from `address` (of `username`, or of any name when None) in the window, the
    last at `last`; no login from there before `until`."""

    address: str
    username: str | None
    failures: int
    last: datetime
    until: datetime


def delay(failures: int, free: int) -> timedelta:
    """The wait after `failures` failures of which `free` cost nothing: 1 s, 2 s, 4 s … LONGEST."""
    if failures < free:
        return timedelta()
    return min(LONGEST, timedelta(seconds=2 ** min(failures - free, 20)))


def _key(address: str | None, username: str) -> dict[str, str]:
    return {"address": (address or "")[:ADDRESS], "username": username[:USERNAME]}


def check(connection: Connection, address: str | None, username: str, now: datetime) -> None:
    """Refuse a login that must still wait, saying for how long."""
    total, last, named, last_named = connection.execute(
        COUNTS, {**_key(address, username), "since": now - WINDOW}
    ).one()
    until = max(
        (last + delay(total, ADDRESS_FREE)) if last else now,
        (last_named + delay(named, NAME_FREE)) if last_named else now,
    )
    if until > now:
        wait = ceil((until - now).total_seconds())
        raise GridcaseError(
            "throttled", f"too many failed logins from here; try again in {wait} s", {"retry_after": wait}
        )


def record(connection: Connection, address: str | None, username: str, now: datetime) -> None:
    connection.execute(insert(ATTEMPT).values(**_key(address, username), at=now))


def forget(connection: Connection, address: str | None, username: str) -> None:
    """A success: this name's failures from this address no longer count."""
    key = _key(address, username)
    connection.execute(
        delete(ATTEMPT).where(ATTEMPT.c.address == key["address"], ATTEMPT.c.username == key["username"])
    )


def listing(db: Database, now: datetime) -> list[Throttle]:
    """Every address, and address and name, whose failures in the window delay their next try
    (`until` may have passed: the next failure waits again), most recent first."""
    since = now - WINDOW
    recent = ATTEMPT.c.at >= since
    last = func.max(ATTEMPT.c.at)
    found: list[Throttle] = []
    with read(db) as connection:
        for columns, free in (
            ((ATTEMPT.c.address, ATTEMPT.c.username), NAME_FREE),
            ((ATTEMPT.c.address,), ADDRESS_FREE),
        ):
            rows = connection.execute(
                select(*columns, func.count(), last)
                .where(recent)
                .group_by(*columns)
                .having(func.count() >= free)
            )
            for *who, failures, at in rows:
                found.append(
                    Throttle(
                        who[0], who[1] if len(who) > 1 else None, failures, at, at + delay(failures, free)
                    )
                )
    return sorted(found, key=lambda t: t.last, reverse=True)


def clear(db: Database, address: str | None = None, username: str | None = None) -> int:
    """Forget the failures from an address, of a name, or of a name from an address; how many."""
    if address is None and username is None:
        raise GridcaseError("invalid_request", "name the address, the username or both to clear")
    conditions = []
    if address is not None:
        conditions.append(ATTEMPT.c.address == address)
    if username is not None:
        conditions.append(ATTEMPT.c.username == username)
    with write(db) as connection:
        return connection.execute(delete(ATTEMPT).where(and_(*conditions))).rowcount
