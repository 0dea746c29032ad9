"""Errors as JSON `{"error": {"code", "message", "details"}}` with the status the code means.

The engine's error codes are stable; this is the one place that says which HTTP status each
one is. Anything unexpected is logged with its traceback and answered with a plain 500 that
leaks nothing.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount

from gridcase.core.errors import GridcaseError

log = logging.getLogger("gridcase.web")
STATUS = {
    "bad_request": 400,
    "invalid_text": 400,  # core/text.py: a character no field may hold
    "unauthorized": 401,
    "forbidden": 403,
    "csrf": 403,
    "password_change_required": 403,  # a right temporary password: it opens no session
    "not_found": 404,
    "unknown_transition": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "illegal_transition": 409,
    "guard_refused": 409,
    "vetoed": 409,
    "evidence_too_large": 413,
    "too_large": 413,
    "unsupported_media_type": 415,
    "throttled": 429,
    "rate_limited": 429,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def status_of(code: str) -> int:
    """Everything not listed is a request the server understood but will not take: 422."""
    return STATUS.get(code, 422)


def error_response(
    code: str,
    message: str,
    details: dict | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    status = status or status_of(code)
    headers = dict(headers or {})
    if status in (429, 503) and details and "retry_after" in details:
        headers["Retry-After"] = str(details["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="gridcase"'
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


async def on_gridcase_error(request: Request, exc: GridcaseError) -> JSONResponse:
    return error_response(exc.code, exc.message, exc.details)


def allowed_methods(routes: list, scope: dict) -> set[str]:
    """Every method some route of the path takes: Starlette's own `Allow` names only the first
    route that matched the path, and the admin UI declares a path's GET and POST apart."""
    methods: set[str] = set()
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        if isinstance(route, Mount):
            methods |= allowed_methods(route.routes, {**scope, **child})
        else:
            methods |= getattr(route, "methods", None) or set()
    return methods


async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "bad_request")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # matched from the top again: inside a mount the scope's root path is the mount's
        top = {**request.scope, "root_path": request.scope.get("app_root_path", "")}
        headers["Allow"] = ", ".join(sorted(allowed_methods(request.app.routes, top)))
    return error_response(code, str(exc.detail), status=exc.status_code, headers=headers)


async def on_data_error(request: Request, exc: DataError) -> JSONResponse:
    """The database refused a value the checks let through (a NUL character in text, a number out
    of its column's range): the request's fault, said without the SQL."""
    log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
    return error_response(
        "invalid_value",
        "a value in the request cannot be stored (a NUL character in text, or a number out of range)",
        status=400,
    )


async def on_database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
    """The database did not answer: its connection was lost (a restart: the pool reconnects for
    the next request), or it gave up on a lock. The client may try again; an intake retried with
    the same Idempotency-Key is never made twice."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
    return error_response(
        "unavailable",
        "the database did not answer; try again shortly (with the same Idempotency-Key)",
        {"retry_after": 1},
        status=503,
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response("internal", "something went wrong on our side; it has been logged", status=500)


# each handler takes the exception class it is registered for, which Starlette's types cannot say
HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[JSONResponse]]] = {
    GridcaseError: on_gridcase_error,
    HTTPException: on_http_error,
    DataError: on_data_error,
    OperationalError: on_database_unavailable,
    Exception: on_unexpected,
}
