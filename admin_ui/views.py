"""What every page shares: who is logged in, the navigation their roles see, and errors as
pages (or as an htmx fragment) instead of JSON."""

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.datastructures import FormData, ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gridcase.admin_ui.render import page
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.text import check_fields, check_text
from gridcase.core.web.bodies import check_multipart_text
from gridcase.core.web.errors import status_of
from gridcase.core.web.identity import identify


def N_(message: str) -> str:
    """Marks a message for the catalogue; the template translates it when it is shown."""
    return message


# Who may open which page: the navigation and the pages' own checks both read these.
ADMIN = ("admin",)
INTAKE = ("operator", "supervisor", "dispatcher", "shift_leader", "admin", "citizen", "cadre")
DASHBOARD = ("leader", "admin", "shift_leader", "dispatcher", "operator")
RANKINGS = ("leader", "admin", "shift_leader", "dispatcher")
WEIGHTS = ("admin", "leader")
WORKFLOW = ("admin", "leader", "shift_leader", "dispatcher")

# (path, label, roles that see it); an empty tuple: every logged-in person
NAV = (
    ("/ui/queue", N_("待办"), ()),
    ("/ui/cases/new", N_("受理上报"), INTAKE),
    ("/ui/map", N_("一张图"), ()),
    ("/ui/dashboard", N_("综合态势"), DASHBOARD),
    ("/ui/rankings", N_("考核排名"), RANKINGS),
    ("/ui/taxonomy", N_("分类管理"), ADMIN),
    ("/ui/config/units", N_("单位与人员"), ADMIN),
    ("/ui/config/time-limits", N_("时限与日历"), ADMIN),
    ("/ui/config/assessment", N_("考核权重"), WEIGHTS),
    ("/ui/config/workflow", N_("流程图"), WORKFLOW),
    ("/ui/config/outbox", N_("通知记录"), ADMIN),
)


def allowed(actor: Actor, roles: tuple[str, ...]) -> bool:
    return not roles or bool(actor.roles & set(roles))


def ui(roles: tuple[str, ...] = ()) -> Callable:
    """A page for logged-in people with one of `roles` (any role when empty): 403 otherwise."""

    def decorate(handler: Callable[..., Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            try:
                actor = await identify(request)
                if actor is None:
                    if request.headers.get("hx-request"):
                        return Response(status_code=401, headers={"HX-Redirect": "/ui/login"})
                    return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)
                request.state.nav = [(path, text) for path, text, who in NAV if allowed(actor, who)]
                request.state.nav += [
                    (p["path"], p["title"])
                    for p in request.app.state.admin_pages
                    if allowed(actor, tuple(p.get("roles", ())))
                ]
                if not allowed(actor, roles):
                    raise GridcaseError("forbidden", "你的角色不能使用这个页面")
                return await handler(request, actor)
            except GridcaseError as exc:
                return error_page(request, exc)

        return endpoint

    return decorate


async def form_of(request: Request, max_fields: int = 10, max_files: int = 0) -> FormData:
    """The request's form, every field's name and text value (and every file's name) held to
    core/text.py's rule, as the JSON API's are: a 400 naming the field, shown as any error is.
    Every form of the UI is read here, so that none can forget the rule."""
    await check_multipart_text(request)
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except Exception as exc:  # python-multipart and Starlette raise several kinds
        raise GridcaseError("bad_request", f"表单无法读取: {exc}") from None
    for name, value in form.multi_items():
        if isinstance(value, str):
            check_fields({name: value}, decoded=True)
        else:
            check_text(value.filename, f"{name} (a file's name)")
    return form


async def text_form_of(request: Request, max_fields: int = 10) -> ImmutableMultiDict[str, str]:
    """`form_of` for a form without files: Starlette refuses a file in it (max_files=0), so every
    value is text."""
    form = await form_of(request, max_fields=max_fields)
    return ImmutableMultiDict([(name, value) for name, value in form.multi_items() if isinstance(value, str)])


def error_page(request: Request, exc: GridcaseError) -> Response:
    status = status_of(exc.code)
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx answers by default; the message goes to the page's error area
        response = page(
            request, "error.html", {"error": exc, "status": status}, block="message", status=status
        )
        response.headers["HX-Retarget"] = "#errors"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return page(request, "error.html", {"error": exc, "status": status}, status=status)
