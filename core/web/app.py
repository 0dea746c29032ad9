"""The Starlette app: health and readiness, the JSON API, plugin routes and admin pages, signed
session cookies (for sessions held in the database), security headers, JSON errors, structured
access logs, and the time-limit sweep in the background.

    app = create_app(settings)          # from the deployment's settings (what `gridcase serve` does)
    app = create_app(engine=engine)     # around an engine you already have (tests)

Every worker sweeps; the sweep's atomic claim keeps each time-limit event exactly once however
many workers (and machines) run.
"""

import asyncio
import contextlib
import logging
import re
import secrets
import time
import uuid
from functools import partial
from typing import Any

import anyio.to_thread
import pluggy
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gridcase.core.intake.quota import limits
from gridcase.core.ops.retention import Retention
from gridcase.core.people.accounts import Lifetimes
from gridcase.core.plugins import collect
from gridcase.core.settings import Settings, SettingsError, tile_origin
from gridcase.core.web import api, open311
from gridcase.core.web.coalesce import Coalescer
from gridcase.core.web.errors import HANDLERS
from gridcase.core.web.headers import SecurityHeaders
from gridcase.core.web.identity import Recent, lookup_many

access_log = logging.getLogger("gridcase.access")
log = logging.getLogger("gridcase.web")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """Ready when the database answers and is migrated; says how far ahead each calendar's
    working days are confirmed, with a warning near the end."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return JSONResponse({"status": "ok"})

    def probe() -> str | None:
        with engine.db.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    try:
        revision = await run_in_threadpool(probe)
    except Exception as exc:  # any database failure means: not ready
        detail = str(exc).splitlines()[0]
        return JSONResponse({"status": "unavailable", "reason": detail}, status_code=503)
    calendars = [
        {
            "calendar": item.calendar,
            "last_confirmed": item.last_confirmed.isoformat(),
            "days_left": item.days_left,
            "warning": item.message() if item.warning else None,
        }
        for item in engine.limits.deadlines.readiness(engine.time.now())
    ]
    # a calendar near its last confirmed day is a warning, not unreadiness: intake goes on,
    # its deadlines provisional
    return JSONResponse({"status": "ready", "revision": revision, "calendars": calendars})


def admin_pages(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    return collect(pm, "register_admin_pages")


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class AccessLog:
    """One line per request on `gridcase.access`: time, method, path, status, duration, client,
    who (person id and username) and the request id, which the answer carries in `X-Request-ID`
    (a caller's own, when it sent a sane one, so its logs and ours meet)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                actor = scope.get("state", {}).get("actor")
                fields = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 2),
                    "client": (scope.get("client") or ("", 0))[0],
                    "person": getattr(actor, "id", None),
                    "username": getattr(actor, "username", None) or None,
                    "request_id": request_id,
                }
                access_log.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": fields})


async def _sweep_forever(engine, seconds: float, retention: Retention) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(engine.limits.refresh_calendars)
            await run_in_threadpool(engine.places.refresh_grids)
            await run_in_threadpool(engine.catalogue.refresh_taxonomy)
            await run_in_threadpool(engine.refresh_settings)
            await run_in_threadpool(engine.sweep, None, retention)
        except Exception:  # a bad sweep must not stop the next one
            log.exception("time-limit sweep failed; trying again in %s s", seconds)


def create_app(
    settings: Settings | None = None,
    engine: Any = None,
    pm: pluggy.PluginManager | None = None,
    profile: dict[str, Any] | None = None,
) -> Starlette:
    if engine is None and settings is not None:
        from gridcase.core.engine import Engine

        if not settings.profile:
            raise SettingsError(
                "the settings name no profile (profile = … in gridcase.toml, or GRIDCASE_PROFILE)"
            )
        engine = Engine.open(settings.profile, settings.database_url)
    pm = pm or (engine.pm if engine is not None else None)
    secret = (settings.secret_key if settings else None) or secrets.token_urlsafe(32)
    sweep_seconds = settings.sweep_seconds if settings else 0

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if settings is not None:
            # Few threads: the work is CPU-bound under one GIL (and serial for SQLite writes), so
            # Starlette's default 40 only made threads fight for the GIL and the writer lock.
            anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads()
        task = None
        if engine is not None and sweep_seconds > 0:
            task = asyncio.create_task(_sweep_forever(engine, sweep_seconds, Retention.of(settings)))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    routes: list[Any] = [Route("/healthz", health), Route("/readyz", ready)]
    if engine is not None:
        routes += api.routes() + open311.routes()
    if pm is not None:
        # admin pages first: the UI's own /ui mount would otherwise swallow their paths
        routes += [Route(page["path"], page["endpoint"]) for page in admin_pages(pm)]
        routes += collect(pm, "register_routes")
    tls = settings.tls if settings else False
    lifetimes = Lifetimes.of(settings) if settings else Lifetimes()
    middleware = [
        Middleware(AccessLog),
        Middleware(SecurityHeaders, tls=tls, tiles=tile_origin(settings.map_tiles if settings else None)),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie="gridcase_session",
            same_site="lax",
            https_only=tls,  # Secure: never sent over plain HTTP, where it could be read off the wire
            # the cookie outlives no session; the session itself ends in the database (accounts.py)
            max_age=int(lifetimes.absolute.total_seconds()),
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=HANDLERS, lifespan=lifespan)
    app.state.engine = engine
    # reports that arrive together are written together (group commit, see web/coalesce.py); one
    # batch at a time per worker: two made smaller batches and fewer intakes a second (measured)
    app.state.intake = Coalescer(engine.intake_many) if engine is not None else None
    # and so is who asks: one statement's round trip for the requests that arrive together
    app.state.identities = (
        Coalescer(partial(lookup_many, engine, lifetimes=lifetimes)) if engine is not None else None
    )
    # and a worker remembers tokens for a moment (identity_seconds; none without settings, as in
    # tests); never sessions, so that a session ended is refused at once
    app.state.recent_identities = Recent(settings.identity_seconds if settings else 0)
    app.state.tls = tls  # the UI's own cookies are Secure too
    app.state.public_url = settings.public_url if settings else None  # Open311's discovery
    # the maps' basemap (none: the grids on a plain ground) and its credit
    app.state.map_tiles = (settings.map_tiles, settings.map_attribution) if settings else (None, "")
    app.state.plugin_manager = pm
    app.state.profile = profile or (engine.profile if engine is not None else {})
    app.state.admin_pages = admin_pages(pm) if pm is not None else []
    app.state.assessor = None
    app.state.retention = Retention.of(settings) if settings else Retention()
    app.state.limits = limits(settings or Settings())
    app.state.ui_cache = {}  # the admin UI's short-lived results (rankings); cleared on its changes
    return app
