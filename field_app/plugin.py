"""The field app, registered like any plugin: the shell at /m/, its manifest, service worker,
static files, and the deployment's settings a handset needs (config.json).

The shell holds no person's data, so the service worker may keep it for offline use; who is
logged in and what they may do come from the JSON API, as for any other client.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gridcase.core.hookspecs import hookimpl

HERE = Path(__file__).parent
STATIC = HERE / "static"
# the files the service worker keeps for offline use: a change to any of them is a new version,
# so a deployment's handsets take up a new release the next time they are online
SHELL = ("/m/", "/m/manifest.webmanifest", "/m/static/app.js", "/m/static/app.css",
         "/m/static/icons/icon-192.png", "/m/static/icons/icon-512.png")  # fmt: skip
NO_STORE = {"Cache-Control": "no-cache"}


def _version() -> str:
    digest = hashlib.sha256()
    for path in sorted([HERE / "shell.html", HERE / "sw.js", *STATIC.rglob("*")]):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


VERSION = _version()


async def shell(request: Request) -> Response:
    return Response(
        (HERE / "shell.html").read_bytes(), media_type="text/html; charset=utf-8", headers=NO_STORE
    )


async def to_shell(request: Request) -> Response:
    return RedirectResponse("/m/", status_code=308)


async def service_worker(request: Request) -> Response:
    """At /m/ itself, so its scope is the whole app; never cached by the browser's HTTP cache,
    so an update is found at once."""
    text = (HERE / "sw.js").read_text(encoding="utf-8")
    text = text.replace("__VERSION__", VERSION).replace("__SHELL__", json.dumps(SHELL))
    return Response(text, media_type="text/javascript; charset=utf-8", headers=NO_STORE)


def _title(request: Request) -> str:
    engine = request.app.state.engine
    return engine.city.title_zh if engine is not None else ""


async def manifest(request: Request) -> Response:
    title = _title(request)
    icons = [
        {"src": "/m/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/m/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {"src": "/m/static/icons/icon-maskable-512.png", "sizes": "512x512", "type": "image/png",
         "purpose": "maskable"},
    ]  # fmt: skip
    body = {
        "name": f"城管通 · {title}" if title else "城管通",
        "short_name": "城管通",
        "description": "数字城管外勤：监督员上报、核实核查，处置人员签收反馈；离线可用",
        "lang": "zh-CN",
        "id": "/m/",
        "start_url": "/m/",
        "scope": "/m/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#1d5fa8",
        "icons": icons,
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json")


def settings(engine: Any) -> dict[str, Any]:
    """What a handset needs from the deployment: the photo size limit, the time zone its times
    are shown in, the offline rule, and the names of states and steps (a conflict says what
    happened in words)."""
    offline = engine.limits.offline
    return {
        "city": engine.city.title_zh,
        "timezone": engine.city.timezone.key,
        "evidence_max_bytes": engine.evidence.max_bytes,
        "offline": {"stops_clock_at": offline.stops_clock_at, "max_age": offline.max_age_text},
        "workflows": {
            code: {
                "states": {s.code: s.name for s in workflow.states.values()},
                "transitions": {t.code: t.name for t in workflow.transitions.values()},
            }
            for code, workflow in engine.catalogue.workflows.items()
        },
        # an extension is asked in the city's own units of time (工作日, 小时…)
        "time_units": [
            {"code": code, "name": unit["name"] if isinstance(unit["name"], str) else unit["name"].get("zh")}
            for code, unit in engine.city.time_units.items()
        ],
    }


async def config(request: Request) -> Response:
    engine = request.app.state.engine
    body = settings(engine) if engine is not None else {}
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json", headers=NO_STORE)


@hookimpl
def register_routes() -> list:
    return [
        Mount("/m/static", app=StaticFiles(directory=STATIC, check_dir=False), name="field_static"),
        Route("/m", to_shell, methods=["GET"]),
        Route("/m/", shell, methods=["GET"]),
        Route("/m/sw.js", service_worker, methods=["GET"]),
        Route("/m/manifest.webmanifest", manifest, methods=["GET"]),
        Route("/m/config.json", config, methods=["GET"]),
    ]
