"""Logging in and out of the UI, and choosing its language. The session cookie holds only the
person's id and a CSRF token, which every page puts on its forms and its htmx requests."""

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gridcase.core.accounts import log_in
from gridcase.core.errors import GridcaseError
from gridcase.core.web.identity import identify

from .render import LANGUAGES, page
from .views import error_page


def _next(request: Request, raw: str | None) -> str:
    # only a path on this site: never an open redirect
    return raw if raw and raw.startswith("/ui/") and not raw.startswith("//") else "/ui/queue"


async def login_form(request: Request) -> Response:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return page(request, "login.html", {"next": _next(request, request.query_params.get("next"))})


async def login(request: Request) -> Response:
    form = dict((await request.form(max_fields=10)).items())
    sent = form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, request.session.get("csrf", "")):
        return error_page(request, GridcaseError("csrf", "页面已过期，请刷新后重新登录"))
    engine = request.app.state.engine
    address = request.client.host if request.client else None
    try:
        person_id = await run_in_threadpool(
            log_in, engine.db, form.get("username", ""), form.get("password", ""), address, engine.clock.now()
        )
    except GridcaseError as exc:
        return page(
            request,
            "login.html",
            {"next": _next(request, form.get("next")), "failed": exc.message},
            status=401,
        )
    request.session.clear()  # a new session on login: no fixation
    request.session.update({"person_id": person_id, "csrf": secrets.token_urlsafe(24)})
    return RedirectResponse(_next(request, form.get("next")), status_code=303)


async def logout(request: Request) -> Response:
    try:
        await identify(request)  # a cookie logout needs the CSRF token like any change
    except GridcaseError as exc:
        return error_page(request, exc)
    request.session.clear()
    return RedirectResponse("/ui/login", status_code=303)


async def language(request: Request) -> Response:
    chosen = request.path_params["language"]
    response = RedirectResponse(_next(request, request.query_params.get("next")), status_code=303)
    if chosen in LANGUAGES:
        response.set_cookie("gridcase_lang", chosen, max_age=365 * 86400, samesite="lax")
    return response


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/queue", status_code=303)
