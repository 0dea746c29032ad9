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

from gridcase.core.errors import GridcaseError
from gridcase.core.text import check_text
from gridcase.core.web.bodies import Schema, read_body

PREFIX = "/api/v1"


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Callable[[Request], Awaitable[Response]]
    summary: str
    params: list[tuple[str, str, dict, bool]] = field(default_factory=list)  # name, in, schema, required
    body: Schema | None = None  # the request body, read and checked before the handler runs
    multipart: bool = False  # the body may also be multipart: form fields, a JSON field, photos
    response: dict = field(default_factory=dict)  # the schema of a successful answer
    public: bool = False


ENDPOINTS: list[Endpoint] = []


def endpoint(
    method: str,
    path: str,
    summary: str,
    params=(),
    body: Schema | None = None,
    multipart: bool = False,
    response: dict | None = None,
    public: bool = False,
):
    def register(handler):
        ENDPOINTS.append(
            Endpoint(
                method, PREFIX + path, handler, summary, list(params), body, multipart, response or {}, public
            )
        )
        return handler

    return register


def routes() -> list[Route]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for e in ENDPOINTS:
        by_path.setdefault(e.path, {})[e.method] = e

    def dispatch(endpoints: dict[str, Endpoint]):
        async def endpoint(request: Request) -> Response:
            for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
                check_text(value, name)  # NUL, which PostgreSQL cannot compare, among them
            request.state.endpoint = endpoints[request.method]
            return await request.state.endpoint.handler(request)

        return endpoint

    return [Route(path, dispatch(e), methods=list(e)) for path, e in by_path.items()]


async def body_of(request: Request) -> tuple[Any, list]:
    """The request's body, checked against the schema its endpoint publishes, and its files.
    Handlers call it once they know who asks (a stranger's body is never read)."""
    e = request.state.endpoint
    return await read_body(request, e.body, e.multipart)


def _engine(request: Request):
    return request.app.state.engine


MAX_ID = 2**31 - 1  # the database's integer keys: a larger number names nothing


def _int(request: Request, name: str) -> int:
    raw = request.path_params.get(name, request.query_params.get(name))
    try:
        if raw is None:
            raise TypeError
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
