"""The JSON API's endpoint list: each endpoint is declared once, with what the OpenAPI document
says of it, and the routes and the document are both built from this list, so they cannot
drift apart. The endpoints themselves live in `api_cases` and `api_reference`."""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import GridcaseError

PREFIX = "/api/v1"


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Callable[[Request], Awaitable[Response]]
    summary: str
    params: list[tuple[str, str, dict, bool]] = field(default_factory=list)  # name, in, schema, required
    body: dict | None = None
    public: bool = False


ENDPOINTS: list[Endpoint] = []
STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}


def endpoint(method: str, path: str, summary: str, params=(), body=None, public=False):
    def register(handler):
        ENDPOINTS.append(Endpoint(method, PREFIX + path, handler, summary, list(params), body, public))
        return handler

    return register


def routes() -> list[Route]:
    by_path: dict[str, dict[str, Callable]] = {}
    for e in ENDPOINTS:
        by_path.setdefault(e.path, {})[e.method] = e.handler

    def dispatch(handlers):
        async def endpoint(request: Request) -> Response:
            values = [v for _, v in request.query_params.multi_items()] + list(request.path_params.values())
            if any("\x00" in str(v) for v in values):  # PostgreSQL cannot store or compare NUL
                raise GridcaseError("bad_request", "a query or path value holds a NUL character")
            return await handlers[request.method](request)

        return endpoint

    return [Route(path, dispatch(h), methods=list(h)) for path, h in by_path.items()]


def _engine(request: Request):
    return request.app.state.engine


MAX_ID = 2**31 - 1  # the database's integer keys: a larger number names nothing


def _int(request: Request, name: str) -> int:
    raw = request.path_params.get(name, request.query_params.get(name))
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise GridcaseError("not_found", f"{name} must be a number, not {raw!r}") from None
    if not 0 < value <= MAX_ID:
        raise GridcaseError("not_found", f"no {name} {value}")
    return value


def _default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def dumps(data: Any) -> str:
    """The JSON text of an answer's body."""
    return json.dumps(data, ensure_ascii=False, default=_default, separators=(",", ":"))


def ok(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json")
