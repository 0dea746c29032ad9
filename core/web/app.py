"""The Starlette app factory. Later issues add the JSON API, Open311, auth and the admin UI;
plugins add routes and admin pages through `register_routes` and `register_admin_pages`."""

from typing import Any

import pluggy
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..plugins import collect


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def admin_pages(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    return collect(pm, "register_admin_pages")


def create_app(pm: pluggy.PluginManager, profile: dict[str, Any] | None = None) -> Starlette:
    routes: list[Any] = [Route("/healthz", health)]
    routes += collect(pm, "register_routes")
    routes += [Route(page["path"], page["endpoint"]) for page in admin_pages(pm)]
    app = Starlette(routes=routes)
    app.state.plugin_manager = pm
    app.state.profile = profile or {}
    app.state.admin_pages = admin_pages(pm)
    return app
