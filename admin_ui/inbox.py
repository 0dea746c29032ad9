"""The inbox: a person's notices (a case assigned to them, yellow and red lights, escalations,
digests, bulletins), the unread count the header shows, and marking them read. The notices are
the outbox's (core/notify/inbox.py says who reads which)."""

from typing import Any

from sqlalchemy import ColumnElement
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import N_, hotline_desk, text_form_of, ui
from gridcase.core.cases import scope
from gridcase.core.errors import GridcaseError
from gridcase.core.notify import inbox
from gridcase.core.people.actor import Actor

PAGE = 50
# a notice's kind by its event's first part (sla/sweep.py's escalation actions, intake's
# assignment, digests, bulletins): its name and the light it stands for
KINDS = {
    "assigned": (N_("指派"), ""),
    "notify": (N_("时限通知"), ""),
    "remind": (N_("黄灯提醒"), "yellow"),
    "urge": (N_("红灯催办"), "red"),
    "supervise": (N_("超时督办"), "red"),
    "digest": (N_("每日简报"), ""),
    "bulletin": (N_("考核通报"), ""),
    "out_of_grid": (N_("越界提醒"), "yellow"),
    "hotline": (N_("12345工单"), ""),
}
OTHER = (N_("通知"), "")


def _person(actor: Actor) -> int:
    if actor.id is None:  # the system's own actor: it logs in nowhere and reads no notices
        raise GridcaseError("forbidden", "只有登录的人员才有通知")
    return actor.id


def _addresses(request: Request, actor: Actor) -> list[str]:
    return inbox.addresses(request.app.state.engine.city, _person(actor), actor.roles, actor.unit)


def _cases(request: Request, actor: Actor) -> ColumnElement[bool] | None:
    """The cases whose notices the person reads: those they see (None: every case)."""
    engine = request.app.state.engine
    if engine.places.tenancy.of(actor) is None and "all" in scope.scopes(engine, actor):
        return None
    return scope.case_filter(engine, actor)


def kind_of(event: str) -> tuple[str, str]:
    return KINDS.get(event.split(":", 1)[0], OTHER)


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 0 < int(raw) < 100_000:
        raise GridcaseError("invalid_request", f"页码“{raw[:20]}”不对：请写正整数", {"field": "page"})
    return int(raw)


async def _context(request: Request, actor: Actor, unread_only: bool, number: int) -> dict[str, Any]:
    engine = request.app.state.engine
    found = await run_in_threadpool(
        inbox.listing,
        engine.db,
        _addresses(request, actor),
        _person(actor),
        unread_only,
        number,
        PAGE,
        _cases(request, actor),
    )
    pages = max(1, -(-found["total"] // PAGE))
    return {
        **found, "unread_only": unread_only, "page_number": number, "pages": pages, "kind_of": kind_of,
        "hotline_desk": hotline_desk(engine, actor),  # who may open the page a waiting order's notice names
    }  # fmt: skip


@ui()
async def notices(request: Request, actor: Actor) -> Response:
    unread_only = request.query_params.get("unread") == "1"
    context = await _context(request, actor, unread_only, _page_number(request))
    return page(request, "inbox.html", context, block="notices")


@ui()
async def unread(request: Request, actor: Actor) -> Response:
    """The header's count: polled, so it is only the number (empty when nothing is unread)."""
    engine = request.app.state.engine
    count = await run_in_threadpool(
        inbox.unread_count, engine.db, _addresses(request, actor), _person(actor), _cases(request, actor)
    )
    return page(request, "_unread.html", {"unread": count})


@ui()
async def mark_read(request: Request, actor: Actor) -> Response:
    """Marks the notices the form names read (every unread one with `all`), then shows the list
    again; the header's count follows (HX-Trigger)."""
    engine = request.app.state.engine
    form = await text_form_of(request, max_fields=PAGE + 5)
    ids = (
        None
        if form.get("all")
        else [int(i) for i in form.getlist("notice") if i.isdigit() and int(i) < 2**31]
    )
    if ids == []:
        raise GridcaseError("invalid_request", "没有选中通知", {"field": "notice"})
    await run_in_threadpool(
        inbox.mark_read,
        engine.db,
        _addresses(request, actor),
        _person(actor),
        engine.time.now(),
        ids,
        _cases(request, actor),
    )
    unread_only = form.get("unread") == "1"
    response: HTMLResponse = page(
        request, "inbox.html", await _context(request, actor, unread_only, 1), block="notices"
    )
    response.headers["HX-Trigger"] = "gridcase:read"
    return response
