"""Logging in and out of the UI, choosing one's password, and choosing the UI's language. The
session cookie holds only a session's token (the session is held in the database) and a CSRF
token, which every page puts on its forms and its htmx requests.

A password an administrator set is temporary: the login that finds it right asks for the
person's own password instead of letting them in, on the same form as 修改密码 in the header."""

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gridcase.admin_ui.render import CATALOGUES, LANGUAGES, language_of, page
from gridcase.admin_ui.views import N_, error_page, explain, text_form_of, ui
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.web.errors import status_of
from gridcase.core.web.identity import (
    begin_session,
    change_password,
    check_password,
    end_request_session,
    identify,
)

WRONG_LOGIN = N_("用户名或密码不对")
WRONG_PASSWORD = N_("当前密码不对")


def _next(request: Request, raw: str | None) -> str:
    # only a path on this site: never an open redirect
    return raw if raw and raw.startswith("/ui/") and not raw.startswith("//") else "/ui/queue"


async def login_form(request: Request) -> Response:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return page(request, "login.html", {"next": _next(request, request.query_params.get("next"))})


async def _posted(request: Request) -> dict[str, str]:
    """The form of a login-like post, its CSRF token checked against the cookie's."""
    form = dict((await text_form_of(request, max_fields=10)).items())
    sent = form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, request.session.get("csrf", "")):
        raise GridcaseError("csrf", "页面已过期，请刷新后重新登录")
    return form


def _failed(request: Request, exc: GridcaseError, wrong: str = WRONG_LOGIN) -> str:
    # a wrong name or password is no request to log in first, which is what the code says elsewhere
    if exc.code == "unauthorized":
        return CATALOGUES[language_of(request)].gettext(wrong)
    return explain(request, exc)


async def login(request: Request) -> Response:
    try:
        form = await _posted(request)
    except GridcaseError as exc:
        return error_page(request, exc)
    username, next_path = form.get("username", ""), _next(request, form.get("next"))
    try:
        person_id = await check_password(request, username, form.get("password", ""))
    except GridcaseError as exc:
        if exc.code == "password_change_required":
            context = {"next": next_path, "username": username, "temporary": True}
            return page(request, "password.html", context)
        return page(
            request,
            "login.html",
            {"next": next_path, "failed": _failed(request, exc)},
            status=status_of(exc.code),
        )
    await begin_session(request, person_id)
    return RedirectResponse(next_path, status_code=303)


@ui()
async def password_form(request: Request, actor: Actor) -> Response:
    """修改密码: a logged-in person's own password."""
    context = {"next": _next(request, request.query_params.get("next")), "username": actor.username}
    return page(request, "password.html", context)


async def choose_password(request: Request) -> Response:
    """The person's own password, from 修改密码 or from a login that found a temporary one: the
    current password again, the new one twice. A new session begins; any other ends."""
    try:
        form = await _posted(request)
    except GridcaseError as exc:
        return error_page(request, exc)
    username, next_path = form.get("username", ""), _next(request, form.get("next"))
    new = form.get("new_password", "")
    context = {"next": next_path, "username": username, "temporary": form.get("temporary") == "1"}
    try:
        if new != form.get("repeat", ""):
            raise GridcaseError("invalid_request", "两次输入的新密码不一样", {"field": "repeat"})
        person_id = await change_password(request, username, form.get("password", ""), new)
    except GridcaseError as exc:
        failed = _failed(request, exc, WRONG_PASSWORD)
        return page(request, "password.html", {**context, "failed": failed}, status=status_of(exc.code))
    await begin_session(request, person_id)
    return RedirectResponse(next_path, status_code=303)


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
