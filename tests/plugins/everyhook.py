"""A city plugin implementing every hook, for tests/core/test_hooks.py.

It keeps what it saw in `calls`, so a test can tell that a hook ran, with what.
"""

from datetime import datetime
from typing import Any

import typer
from sqlalchemy import Select, func, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gridcase.core.context import (
    CUTOFF,
    PERIOD_START,
    ActorView,
    AssessmentFact,
    CaseView,
    Classification,
    HookContext,
    IncomingReport,
    Location,
    MoveRequest,
    Period,
    Routing,
    RoutingRequest,
    ScoreAdjustment,
    Share,
    StartingClock,
    Tables,
    TimeLimitEvent,
    TransitionView,
    UnitMove,
)
from gridcase.core.errors import GridcaseError
from gridcase.core.hookspecs import hookimpl

BLOCK = "everyhook"
calls: list[tuple[Any, ...]] = []


# -- start-up -----------------------------------------------------------------------------


@hookimpl
def register_profile_schemas() -> list[dict[str, Any]]:
    return [
        {
            "block": BLOCK,
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "quota": {"type": "integer", "minimum": 1},
                    "route_0501_to": {"type": "string"},
                },
            },
        }
    ]


def weekday_only(context: dict[str, Any]) -> str | None:
    return None if context["payload"].get("weekday") else "weekdays only"


@hookimpl
def register_guards() -> list[dict[str, Any]]:
    return [{"name": "weekday_only", "check": weekday_only}]


@hookimpl
def register_channels(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"code": "cadre", "name": "干部上报", "kind": "cadre", "verify": False},
        {"code": "patrol", "name": "被覆盖", "kind": "other"},
    ]


@hookimpl
def register_indicators(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "code": "cadre_reports",
            "name": "干部上报数",
            "count": "reported",
            "where": {"channels": ["cadre"]},
        },
        {"code": "cadre_share", "name": "干部上报占比", "formula": "cadre_reports / reported"},
    ]


class Sms:
    channel = "sms"

    def send(self, message: dict[str, Any]) -> None:
        calls.append(("sms", message))


@hookimpl
def register_senders() -> list[Any]:
    return [Sms()]


def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("你好")


def city_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("city page")


@hookimpl
def register_routes() -> list[Any]:
    return [Route("/city/hello", hello)]


@hookimpl
def register_admin_pages() -> list[dict[str, Any]]:
    return [{"path": "/admin/city", "title": {"zh": "城市页面"}, "roles": ["admin"], "endpoint": city_page}]


city = typer.Typer(name="city", help="City commands")


@city.command("hello")
def say_hello() -> None:
    typer.echo("hello from the city")


@hookimpl
def register_commands() -> list[Any]:
    return [city]


# -- intake -------------------------------------------------------------------------------


@hookimpl
def classify_case(ctx: HookContext, report: IncomingReport) -> Classification | None:
    if "井盖" in report.description:
        return {"code": "0101", "kind": "component", "confidence": 1.0, "explanation": "city rule"}
    return None


@hookimpl
def locate_case(ctx: HookContext, report: IncomingReport, grids: Any) -> Location | None:
    if (report.lon, report.lat) == (0.0, 0.0):  # the city files its null-island reports in street1
        located: Location = grids.locate(120.61, 31.337)
        return located
    return None


@hookimpl
def route_case(ctx: HookContext, request: RoutingRequest) -> Routing | None:
    unit = ctx.config(BLOCK).get("route_0501_to")
    if request.class_code == "0501" and unit:
        return {
            "units": [{"unit": unit, "share": 1.0}],
            "rule": "everyhook",
            "explanation": "the city's rule",
        }
    return None


@hookimpl
def after_case_created(ctx: HookContext, case: CaseView) -> None:
    calls.append(("created", case.number, case.grid, case.territorial_units, case.units_in("responsible")))
    for unit in case.territorial_units[:1]:
        ctx.notify(f"unit:{unit}", f"新案件 {case.number}", case_id=case.id, event=BLOCK)


# -- transitions --------------------------------------------------------------------------


@hookimpl
def before_transition(
    ctx: HookContext, case: CaseView, transition: TransitionView, actor: ActorView
) -> str | None:
    if transition.code == "accept" and "测试" in (case.description or ""):
        return "test reports are not accepted"
    return None


@hookimpl
def during_transition(ctx: HookContext, case: CaseView, transition: TransitionView) -> None:
    if transition.code != "dispatch":
        return
    ctx.notify(
        "unit:water",
        f"{case.number} 派给 {','.join(case.units_in('handling'))}",
        case_id=case.id,
        event=BLOCK,
    )
    if transition.payload.get("explode"):
        raise GridcaseError("refused_by_city", "the city's plugin refuses this dispatch")


@hookimpl
def after_transition(ctx: HookContext, case: CaseView, transition: TransitionView) -> None:
    calls.append(("after", transition.code, case.state, transition.seq, transition.name))


# -- time limits --------------------------------------------------------------------------


@hookimpl
def adjust_deadline(ctx: HookContext, clock: StartingClock, deadline: datetime) -> datetime | None:
    if clock.stage == "handle" and clock.class_code == "0103":
        return ctx.local(deadline).replace(hour=17, minute=30, second=0, microsecond=0)
    return None


@hookimpl
def after_time_limit_event(ctx: HookContext, case: CaseView, event: TimeLimitEvent) -> None:
    # the case's light history has the event, and the event is when the light turned
    history = ctx.cases.lights(case.id)
    calls.append(("time_limit", case.number, event.kind, event.stage, event in history, event.at <= ctx.now))


# -- assessment ---------------------------------------------------------------------------


def notices_by_unit(ctx: HookContext, kind: str) -> Select | None:
    """The notices this plugin queued for each unit in the period."""
    if kind != "unit":
        return None
    outbox = Tables.outbox
    return (
        select(func.substr(outbox.c.recipient, 6), func.count())  # unit:<code> → the code
        .where(outbox.c.event == BLOCK, outbox.c.created_at >= PERIOD_START, outbox.c.created_at <= CUTOFF)
        .group_by(outbox.c.recipient)
    )


@hookimpl
def register_assessment_facts() -> list[AssessmentFact]:
    return [AssessmentFact("everyhook_notices", "notices the city's plugin sent the unit", notices_by_unit)]


def partner_of(ctx: HookContext, request: MoveRequest) -> list[str]:
    """A handover to the partner the city's config names, unless the dispatcher holds it."""
    calls.append(("move", request.case.number, request.transition, [h.unit for h in request.handling]))
    if request.payload.get("hold"):
        raise GridcaseError("held", f"case {request.case.number} is held by {request.reason}")
    return [ctx.config(BLOCK)["route_0501_to"]]


def each_named(ctx: HookContext, request: MoveRequest) -> list[str]:
    return list(request.payload["inspectors"])


@hookimpl
def register_unit_moves() -> list[UnitMove]:
    return [
        UnitMove("hand_to_partner", "移交", handling=partner_of),
        UnitMove("inspection", "联合检查", subtasks=each_named),
    ]


@hookimpl
def split_case_consequences(
    ctx: HookContext, case: CaseView, rule: str, units: list[Share]
) -> list[Share] | None:
    calls.append(("split", case.number, rule))
    return [{"unit": units[0]["unit"], "share": 1.0}]


@hookimpl
def adjust_scores(ctx: HookContext, results: list[dict[str, Any]], period: Period) -> list[ScoreAdjustment]:
    return [
        {"object": r["object"], "points": -1.0, "reason": "media exposure", "cases": []}
        for r in results
        if r["values"].get("notices")
    ]
