"""12345待处理工单: the 12345 orders that wait for an operator (core/hotline/orders.py), because
no class of the city's answers their category or they cannot be placed. The centre's roles of
the hotline channel list them, file one with a class (and a point, picked on the intake's map,
when it had none), or return it to the platform with a reason. The bridge's own functions
decide, so the page and the JSON API (`/api/v1/hotline/…`) cannot disagree."""

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.names import class_names
from gridcase.admin_ui.operations import _number
from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import N_, text_form_of, ui
from gridcase.core.errors import GridcaseError
from gridcase.core.hotline import orders
from gridcase.core.people.actor import Actor

# what an order waits for, and where an order went, as the pages name them
WAITS_FOR = {"class": N_("待指定类别"), "place": N_("待指定位置")}
STATUSES = {
    "new": N_("正在立案"),
    "waiting": N_("待处理"),
    "open": N_("已立案"),
    "done": N_("已办结"),
    "returned": N_("已退单"),
}
KINDS = {"component": N_("部件"), "event": N_("事件")}
MAX_REASON = 1000
NO_PLACE = "这张工单没有位置：请在地图上点选位置，或填写经度和纬度"


def _order_no(request: Request) -> str:
    """The path's order number; one that no order can have is no order (not a form's mistake)."""
    order_no = request.path_params["order_no"]
    try:
        orders.check_order_no(order_no)
    except GridcaseError:
        raise GridcaseError("not_found", "没有这张12345工单") from None
    return order_no


@ui()
async def waiting(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    rows = await run_in_threadpool(orders.waiting, engine, actor)
    return page(request, "hotline.html", {"orders": rows, "waits_for": WAITS_FOR})


@ui()
async def order(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    context = await run_in_threadpool(_context, engine, actor, _order_no(request))
    return page(request, "hotline_order.html", context)


def _context(engine: Any, actor: Actor, order_no: str, **outcome: Any) -> dict[str, Any]:
    """The order's page: its facts, the city's classes by kind, the one its category maps to."""
    found = _found(engine, actor, order_no)
    classes: dict[str, dict[str, Any]] = {}
    for key, name in class_names(engine).items():
        classes.setdefault(key.split(":", 1)[0], {})[key] = name
    mapped = orders.settings_of(engine).categories.get(str(found["category"])) or {}
    return {
        "order": found,
        "classes": classes,
        "kinds": KINDS,
        "mapped": f"{mapped.get('kind')}:{mapped.get('class')}",
        "waits_for": WAITS_FOR,
        "statuses": STATUSES,
        **outcome,
    }


def _found(engine: Any, actor: Actor, order_no: str) -> dict[str, Any]:
    try:
        return orders.for_the_centre(engine, actor, order_no)
    except GridcaseError as exc:
        if exc.code == "not_found" and "order_no" in exc.details:
            raise GridcaseError("not_found", f"没有12345工单{order_no}") from None
        raise


def _stale(engine: Any, actor: Actor, order_no: str, exc: GridcaseError) -> GridcaseError:
    """A conflict said as what became of the order: someone else filed or returned it first."""
    if exc.code != "conflict":
        return exc
    status = _found(engine, actor, order_no)["status"]
    return GridcaseError(
        "conflict",
        f"12345工单{order_no}已被他人处理（{STATUSES.get(status, status)}），请回到待处理工单列表刷新",
        {"order_no": order_no},
    )


@ui()
async def file(request: Request, actor: Actor) -> Response:
    """File the order with the class chosen (and the point, when it waits for one); the page
    then says which case it became."""
    engine = request.app.state.engine
    order_no = _order_no(request)
    fields = await text_form_of(request)
    kind, _, code = str(fields.get("category") or "").partition(":")
    if not code:
        raise GridcaseError("invalid_report", "请选择问题类别", {"field": "category"})
    placed: dict[str, Any] = {"category": code, "kind": kind or None}
    if fields.get("lon") or fields.get("lat"):
        lon, lat = _number(fields.get("lon"), "lon", "经度"), _number(fields.get("lat"), "lat", "纬度")
        placed["point"] = [lon, lat]

    def file_it() -> dict[str, Any]:
        try:
            orders.file_waiting(engine, actor, order_no, placed)
        except GridcaseError as exc:
            if exc.code == "invalid_report" and exc.details.get("field") == "point":
                raise GridcaseError("invalid_report", NO_PLACE, {"field": "point"}) from None
            raise _stale(engine, actor, order_no, exc) from None
        return _context(engine, actor, order_no, filed=True)

    context = await run_in_threadpool(file_it)
    request.app.state.ui_cache.clear()
    return page(request, "hotline_order.html", context, block="handling")


@ui()
async def return_order(request: Request, actor: Actor) -> Response:
    """退单: the order goes back to the platform with the reason (its answer through the outbox)."""
    engine = request.app.state.engine
    order_no = _order_no(request)
    reason = str((await text_form_of(request)).get("reason") or "").strip()
    if not reason:
        raise GridcaseError("invalid_request", "请填写退单理由", {"field": "reason"})
    if len(reason) > MAX_REASON:
        raise GridcaseError(
            "invalid_request", f"退单理由最多{MAX_REASON}字，现在是{len(reason)}字", {"field": "reason"}
        )

    def return_it() -> dict[str, Any]:
        try:
            orders.return_waiting(engine, actor, order_no, reason)
        except GridcaseError as exc:
            raise _stale(engine, actor, order_no, exc) from None
        return _context(engine, actor, order_no, returned=True)

    context = await run_in_threadpool(return_it)
    return page(request, "hotline_order.html", context, block="handling")
