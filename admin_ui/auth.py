"""Logging in and out of the UI, and choosing its language. The session cookie holds only a
session's token (the session is held in the database) and a CSRF token, which every page puts
on its forms and its htmx requests."""

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gridcase.admin_ui.render import LANGUAGES, page
from gridcase.admin_ui.views import error_page, text_form_of
from gridcase.core.errors import GridcaseError
from gridcase.core.web.errors import status_of
from gridcase.core.web.identity import begin_session, check_password, end_request_session, identify


def _next(request: Request, raw: str | None) -> str:
    # only a path on this site: never an open redirect
    return raw if raw and raw.startswith("/ui/") and not raw.startswith("//") else "/ui/queue"


async def login_form(request: Request) -> Response:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return page(request, "login.html", {"next": _next(request, request.query_params.get("next"))})


async def login(request: Request) -> Response:
    try:
        form = dict((await text_form_of(request, max_fields=10)).items())
    except GridcaseError as exc:
        return error_page(request, exc)
    sent = form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, request.session.get("csrf", "")):
        return error_page(request, GridcaseError("csrf", "页面已过期，请刷新后重新登录"))
    try:
        person_id = await check_password(request, form.get("username", ""), form.get("password", ""))
    except GridcaseError as exc:
        return page(
            request,
            "login.html",
            {"next": _next(request, form.get("next")), "failed": exc.message},
            status=status_of(exc.code),
        )
    await begin_session(request, person_id)
    return RedirectResponse(_next(request, form.get("next")), status_code=303)


async def logout(request: Request) -> Response:
    try:
        await identify(request)  # a cookie logout needs the CSRF token like any change
    except GridcaseError as exc:
        return error_page(request, exc)
    await end_request_session(request)
    return RedirectResponse("/ui/login", status_code=303)


async def language(request: Request) -> Response:
    chosen = request.path_params["language"]
    response = RedirectResponse(_next(request, request.query_params.get("next")), status_code=303)
    if chosen in LANGUAGES:
        response.set_cookie(
            "gridcase_lang", chosen, max_age=365 * 86400, samesite="lax", secure=request.app.state.tls
        )
    return response


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/queue", status_code=303)
