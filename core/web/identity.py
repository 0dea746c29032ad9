"""Who is asking: a bearer token (`Authorization: Bearer gc_…`, or Open311's `api_key`), or the
UI's session cookie, which holds only a session's token (the session is held in the database,
see accounts.py) and a CSRF token.

Cookie-authenticated requests that change state must echo the CSRF token (header
`X-CSRF-Token` or form field `csrf_token`); token-authenticated ones need not, since a browser
never sends a bearer token by itself.
"""

import secrets
import time
from enum import Enum, auto
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from gridcase.core.db.connection import query
from gridcase.core.db.fast import pipelined
from gridcase.core.errors import GridcaseError
from gridcase.core.people import administration
from gridcase.core.people.accounts import (
    TOUCH,
    Lifetimes,
    end_session,
    log_in,
    send_person,
    start_session,
    token_hash,
    touch_sessions,
)
from gridcase.core.people.actor import Actor
from gridcase.core.web.endpoints import body_of

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class _Unset(Enum):
    """The type of UNSET: a request whose caller was not looked up yet."""

    UNSET = auto()


UNSET = _Unset.UNSET
Ask = tuple[str | None, Any]  # (bearer token, session token)
Answer = tuple[Actor | None, str | None]  # (actor, "token" or "session")


def _actor(person: dict) -> Actor:
    return Actor(
        id=person["id"],
        roles=frozenset(person["roles"]),
        unit=person["unit"],
        grids=person["grids"],
        username=person["username"],
    )


def lookup_many(engine, asks: list[Ask], lifetimes: Lifetimes = Lifetimes()) -> list[Answer | Exception]:
    """Who each (token, session) is: (actor, "token" or "session"), (None, None) for a session
    that ended or whose person is gone, or the error of a token that is not valid. One round
    trip for all: the server gathers the lookups of the requests that arrive together
    (web/coalesce.py). Sessions last used over TOUCH ago are noted as used now."""
    now = engine.time.now()
    bounds = lifetimes.bounds(now)
    distinct = list(dict.fromkeys(asks))  # an integration's requests all carry its one token
    with query(engine.db) as connection, pipelined(connection):
        sent = [send_person(connection, token, session, bounds) for token, session in distinct]
    people = {ask: answer() for ask, answer in zip(distinct, sent, strict=True)}
    used = [
        session
        for (token, session), person in people.items()
        if token is None and person is not None and person["session_seen_at"] <= now - TOUCH
    ]
    if used:
        touch_sessions(engine.db, used, now)
    found: list[Answer | Exception] = []
    for token, session in asks:
        person = people[token, session]
        if token is not None and person is None:
            found.append(
                GridcaseError("unauthorized", "the token is not valid (revoked, mistyped or expired)")
            )
        else:
            found.append(
                (None, None) if person is None else (_actor(person), "token" if token else "session")
            )
    return found


class Recent:
    """Who asked with a token in the last `seconds`, in this worker: a token whose person was
    found is known again without the database. An integration sends hundreds of requests a
    second with one token, and looking it up took a thread, a pooled connection and a round trip
    for each batch of them: measured with wrk on PostgreSQL, intake went from 693 to 890 reports
    a second (medians of three, same window), and a worker's CPU a report from 1.47 ms to 1.13.

    The price is that a revoked token, or a person deactivated or given other roles, units or
    grids, is still honoured for up to `seconds` by a worker that saw them just before. What is
    refused (a bad token) is never kept, so a new token works at once. Tokens are kept by their
    hash, as the database keeps them. Sessions are never kept: a session ended (logout,
    deactivation, a new password) must end at once, and people at a desk ask far too seldom
    for a lookup each to matter."""

    def __init__(self, seconds: float, most: int = 10_000) -> None:
        self.seconds, self.most = seconds, most
        self.known: dict[str | None, tuple[Answer, float]] = {}

    @staticmethod
    def _key(ask: Ask) -> str | None:
        token, _ = ask
        return token_hash(token) if isinstance(token, str) else None

    def get(self, ask: Ask) -> Answer | None:
        found = self.known.get(self._key(ask)) if self.seconds else None
        if found is None:
            return None
        answer, until = found
        return answer if time.monotonic() < until else None

    def keep(self, ask: Ask, answer: Answer) -> None:
        if not self.seconds or answer[0] is None or self._key(ask) is None:
            return
        now = time.monotonic()
        if len(self.known) >= self.most:  # many callers at once: forget the stale, else all
            self.known = {k: v for k, v in self.known.items() if v[1] > now}
            if len(self.known) >= self.most:
                self.known.clear()
        self.known[self._key(ask)] = (answer, now + self.seconds)


async def identify(request: Request, api_key: str | None = None) -> Actor | None:
    """The caller, or None for an anonymous request; cached on the request."""
    cached = getattr(request.state, "actor", UNSET)
    if cached is not UNSET:
        return cached
    token = None
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise GridcaseError("unauthorized", "use `Authorization: Bearer <token>`")
        token = value.strip()
    elif api_key is not None:
        token = api_key
    session = request.session.get("session") if token is None and "session" in request.scope else None
    actor, how = (None, None)
    if token is not None or session is not None:
        ask, recent = (token, session), request.app.state.recent_identities
        answer = recent.get(ask)
        if answer is None:
            answer = await request.app.state.identities(ask)
            recent.keep(ask, answer)
        actor, how = answer
    if how == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if not sent or not secrets.compare_digest(sent, request.session.get("csrf", "")):
            raise GridcaseError("csrf", "missing or wrong CSRF token (X-CSRF-Token)")
    request.state.actor = actor
    return actor


async def require(request: Request, api_key: str | None = None) -> Actor:
    actor = await identify(request, api_key)
    if actor is None:
        raise GridcaseError("unauthorized", "log in, or send a token: Authorization: Bearer <token>")
    return actor


async def login(request: Request) -> JSONResponse:
    """POST {"username", "password"}: a session cookie (ids only) and the CSRF token to echo."""
    body, _ = await body_of(request)  # the schema says both are text
    username, password = body["username"], body["password"]
    person_id = await check_password(request, username, password)
    return JSONResponse({"person_id": person_id, "csrf_token": await begin_session(request, person_id)})


async def choose_password(request: Request) -> JSONResponse:
    """POST {"username", "password", "new_password"}: the person's own password in place of the
    current one (a temporary one too); every session of theirs ends and this one begins, as a
    login's does."""
    body, _ = await body_of(request)
    person_id = await change_password(request, body["username"], body["password"], body["new_password"])
    return JSONResponse({"person_id": person_id, "csrf_token": await begin_session(request, person_id)})


async def logout(request: Request) -> JSONResponse:
    await end_request_session(request)
    return JSONResponse({"ok": True})


async def check_password(request: Request, username: str, password: str) -> int:
    """The person's id, or the error of a wrong or throttled login (see accounts.log_in)."""
    engine = request.app.state.engine
    address = request.client.host if request.client else None
    return await run_in_threadpool(log_in, engine.db, username, password, address, engine.time.now())


async def change_password(request: Request, username: str, current: str, new: str) -> int:
    """The person's id once their new password is set, or the error of a wrong or throttled
    current one, or of a new one that will not do (see administration.change_password)."""
    engine = request.app.state.engine
    address = request.client.host if request.client else None
    return await run_in_threadpool(
        administration.change_password, engine.db, username, current, new, address, engine.time.now()
    )


async def begin_session(request: Request, person_id: int) -> str:
    """A new session for the person, in place of the one the request came with (no fixation);
    its CSRF token."""
    engine = request.app.state.engine
    await end_request_session(request)
    session = await run_in_threadpool(start_session, engine.db, person_id, engine.time.now())
    request.session.update({"session": session, "csrf": secrets.token_urlsafe(24)})
    return request.session["csrf"]


async def end_request_session(request: Request) -> None:
    """End the request's session, in the database: a copy of its cookie is worth nothing after."""
    await run_in_threadpool(end_session, request.app.state.engine.db, request.session.get("session"))
    request.session.clear()
