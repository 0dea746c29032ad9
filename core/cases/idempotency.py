"""Idempotency keys: a client that lost an answer sends its request again with the same
`Idempotency-Key` and is answered as the first time, instead of being acted on twice.

- **Each caller's own.** A key is scoped to the person behind the request's token, Open311
  `api_key` or session (`scoped`): two integrations, or two citizens, that happen to send one
  key make two requests. Every request that may carry a key is authenticated, so there is no
  anonymous scope; an app that posts for many users through one account is one caller, and
  must keep its keys unique across its users. In-process callers without a person (the
  simulator, tests) share the scope "-".
- **Bound to its request.** A key is kept with a digest of its canonical request (`digest`);
  the same key with another request is refused (422 `idempotency_key_reused`), never answered
  with the first request's outcome, so nothing is silently dropped.
- **Where kept.** A report keeps its scoped key on its own row (the intake batch looks all its
  keys up in one query, intake_write.py); a transition's is a `transition_key` row written in
  the transition's own transaction, with the answer it was given.
- **For how long.** At least the retention window `keep_idempotency_keys_days` (one day by
  default); the sweep forgets older keys (`forget`, core/retention.py), and the key is free again.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy import Engine as Database
from sqlalchemy.exc import IntegrityError

from gridcase.core.db.connection import query, write
from gridcase.core.db.models import Report, TransitionKey, UTCDateTime
from gridcase.core.errors import GridcaseError

REPORT, TRANSITION_KEY = Report.__table__, TransitionKey.__table__
MAX_KEY = 200  # characters, as a client sends it (stored with its scope in front)
BEFORE = bindparam("before", type_=UTCDateTime())
# the reports' keys to forget, found through the partial index ix_report_keyed_at, which holds
# only the reports with a key (migration 0017)
_KEYED_BEFORE = (
    select(REPORT.c.id)
    .where(REPORT.c.idempotency_key.is_not(None), REPORT.c.received_at < BEFORE)
    .limit(bindparam("n"))
)
FORGET_REPORT_KEYS = (
    update(REPORT)
    .where(REPORT.c.id.in_(_KEYED_BEFORE.scalar_subquery()))
    .values(idempotency_key=None, request_hash=None)
)
_TRANSITIONS_BEFORE = (
    select(TRANSITION_KEY.c.key).where(TRANSITION_KEY.c.created_at < BEFORE).limit(bindparam("n"))
)
FORGET_TRANSITION_KEYS = delete(TRANSITION_KEY).where(
    TRANSITION_KEY.c.key.in_(_TRANSITIONS_BEFORE.scalar_subquery())
)
ANSWER = select(TRANSITION_KEY.c.request_hash, TRANSITION_KEY.c.status, TRANSITION_KEY.c.answer).where(
    TRANSITION_KEY.c.key == bindparam("key")
)


def scoped(person_id: int | None, key: str) -> str:
    """The key as stored: its caller's person id (or "-") in front, so callers never meet."""
    return f"{'-' if person_id is None else person_id}:{key}"


def digest(request: Any, files: Iterable[tuple[str, str]] = ()) -> str:
    """The SHA-256 of a request in canonical form: its fields as sorted compact JSON (the same
    object in another key order or spacing is the same request), and its files' (kind, SHA-256)."""
    canonical = json.dumps(
        [request, sorted(files)], sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def reused(key: str) -> GridcaseError:
    """The refusal of a scoped key sent again with another request."""
    sent = key.partition(":")[2]
    return GridcaseError(
        "idempotency_key_reused",
        f"Idempotency-Key {sent!r} was sent before with a different request; a new request needs a new key",
        {"idempotency_key": sent},
    )


def same_request(key: str, stored: str | None, sent: str | None) -> GridcaseError | None:
    """The refusal when a key's stored digest is not the request's (a key stored before digests
    were kept has none, and is taken as the same request)."""
    return reused(key) if stored is not None and stored != sent else None


# -- transitions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A transition's scoped key and request digest, written in the transition's transaction
    (`transitions.fire`), so the key is taken exactly when the transition commits."""

    key: str
    digest: str

    def take(self, connection: Connection, case_id: int, now: datetime) -> None:
        """Record the key as answered 200; a second writer of the key fails on its primary key
        and so rolls its own transition back."""
        _insert(connection, self, case_id, 200, None, now)


def _insert(
    connection: Connection, claim: Claim, case_id: int, status: int, body: str | None, now: datetime
) -> None:
    row = {"key": claim.key, "request_hash": claim.digest, "case_id": case_id, "status": status}
    connection.execute(insert(TRANSITION_KEY), {**row, "answer": body, "created_at": now})


def answer_of(db: Database, claim: Claim) -> tuple[int, str | None] | None:
    """The status and body an earlier request with this key was answered (the body is None when
    its transition committed but its answer was never recorded); None for a key not seen."""
    with query(db) as connection:
        row = connection.execute(ANSWER, {"key": claim.key}).first()
    if row is None:
        return None
    refusal = same_request(claim.key, row.request_hash, claim.digest)
    if refusal is not None:
        raise refusal
    return row.status, row.answer


def record_answer(db: Database, claim: Claim, body: str) -> None:
    """Keep the body a committed transition was answered with, for its retries."""
    with write(db) as connection:
        connection.execute(
            update(TRANSITION_KEY).where(TRANSITION_KEY.c.key == claim.key).values(answer=body)
        )


def record_refusal(
    db: Database, claim: Claim, case_id: int, status: int, body: str, now: datetime
) -> tuple[int, str | None] | None:
    """Keep a refused transition's answer for its retries: None when kept, else the answer
    that stands (another request with the key was answered first)."""
    try:
        with write(db) as connection:
            _insert(connection, claim, case_id, status, body, now)
    except IntegrityError:
        return answer_of(db, claim)
    return None


# -- retention ------------------------------------------------------------------------


def forget(connection: Connection, before: datetime, most: int) -> dict[str, int]:
    """Forget up to `most` reports' keys and `most` transitions' keys taken before `before` (the
    sweep's retention, core/retention.py): a report keeps its row without its key, a
    transition's answer goes. Returns how many of each were forgotten."""
    return {
        "report_key": connection.execute(FORGET_REPORT_KEYS, {"before": before, "n": most}).rowcount,
        "transition_key": connection.execute(FORGET_TRANSITION_KEYS, {"before": before, "n": most}).rowcount,
    }
