"""How long records kept only for a while are kept: failed logins (for throttling, then as a
trail), notices already delivered or given up, idempotency keys, patrol tracks (a handset sends a
point every few seconds of a patrol), and sessions that can no longer
be used (left idle past the idle lifetime: one past its absolute lifetime is never used again, so
it goes an idle lifetime later; a logout deletes its session at once). The sweep purges what is
older, a bounded batch at a time, so no table grows without end (1,000 failed logins with random
names took two seconds to write, and nothing removed them)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine as Database
from sqlalchemy import bindparam, delete, select

from gridcase.core.cases.idempotency import forget as forget_keys
from gridcase.core.db.connection import write
from gridcase.core.db.models import LoginAttempt, Outbox, PatrolPoint, UTCDateTime, WebSession

LOGIN_ATTEMPT, OUTBOX, SESSION = LoginAttempt.__table__, Outbox.__table__, WebSession.__table__
PATROL_POINT = PatrolPoint.__table__
CUTOFF = bindparam("cutoff", type_=UTCDateTime())
BATCH = 10_000  # rows a sweep purges from a table at most: a sweep stays short


@dataclass(frozen=True)
class Retention:
    login_attempts: timedelta = timedelta(days=30)
    notices: timedelta = timedelta(days=180)  # delivered or failed; pending ones are never purged
    idempotency_keys: timedelta = timedelta(days=1)  # reports' and transitions' (core/idempotency.py)
    sessions: timedelta = timedelta(minutes=60)  # the idle lifetime (session_idle_minutes)
    tracks: timedelta = timedelta(days=400)  # a year's patrols and their review

    @classmethod
    def of(cls, settings) -> "Retention":
        return cls(
            login_attempts=timedelta(days=settings.keep_login_attempts_days),
            notices=timedelta(days=settings.keep_notices_days),
            idempotency_keys=timedelta(days=settings.keep_idempotency_keys_days),
            sessions=timedelta(minutes=settings.session_idle_minutes),
            tracks=timedelta(days=settings.keep_track_days),
        )


def _older(table, condition):
    (key,) = table.primary_key.columns
    keys = select(key).where(condition).limit(BATCH).scalar_subquery()
    return delete(table).where(key.in_(keys))


# a delivered notice's last claim is when it was sent (or given up), and the due index covers it
PURGE_NOTICES = _older(OUTBOX, OUTBOX.c.status.in_(("sent", "failed")) & (OUTBOX.c.next_attempt_at < CUTOFF))
PURGE_LOGIN_ATTEMPTS = _older(LOGIN_ATTEMPT, LOGIN_ATTEMPT.c.at < CUTOFF)
PURGE_SESSIONS = _older(SESSION, SESSION.c.seen_at < CUTOFF)
PURGE_TRACKS = _older(PATROL_POINT, PATROL_POINT.c.made_at < CUTOFF)


def purge(db: Database, now: datetime, retention: Retention) -> dict[str, int]:
    """Remove what the retention windows no longer keep; returns the rows removed by table."""
    with write(db) as connection:
        return {
            "login_attempt": connection.execute(
                PURGE_LOGIN_ATTEMPTS, {"cutoff": now - retention.login_attempts}
            ).rowcount,
            "outbox": connection.execute(PURGE_NOTICES, {"cutoff": now - retention.notices}).rowcount,
            "web_session": connection.execute(PURGE_SESSIONS, {"cutoff": now - retention.sessions}).rowcount,
            "patrol_point": connection.execute(PURGE_TRACKS, {"cutoff": now - retention.tracks}).rowcount,
            **forget_keys(connection, now - retention.idempotency_keys, BATCH),
        }
