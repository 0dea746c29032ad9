"""What a report's new case will be, decided before anything of it is written (intake_write.py):
its row, its routing and owner, the named person it goes to, its number's fields; and the
notices it sends once its number is known."""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select

from gridcase.core.context import RoutingRequest
from gridcase.core.db.models import Person
from gridcase.core.db.numbering import Composed, composed, counter_key, number_fields
from gridcase.core.notify.outbox import OUT_OF_GRID, notice_channel, outbox_row
from gridcase.core.profile.taxonomy import label_zh

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.intake.write import Checked

PERSON = Person.__table__
PEOPLE_OF_UNIT = (
    select(PERSON.c.id, PERSON.c.name, PERSON.c.attributes)
    .where(PERSON.c.unit == bindparam("unit"), PERSON.c.active)
    .order_by(PERSON.c.id)
)
NO_ROUTE = "没有匹配的责任单位，需人工派遣"


@dataclass(eq=False)
class NewCase:
    """What a new case will be, decided before anything of it is written."""

    row: dict[str, Any]
    case_id: int | None  # reserved (PostgreSQL), else given by the INSERT
    fields: dict[str, Any]  # the case number's
    late: Composed | None  # the number as the database builds it, claimed inside the INSERT
    routing: dict[str, Any] | None
    owner: str | None
    assignee: dict[str, Any] | None
    counter: str  # the key of the counter its number comes from: the order of the writes


def plan_case(
    engine: "Deployment",
    connection: Connection,
    c: "Checked",
    component: dict[str, Any] | None,
    reports: int,
    now: datetime,
    case_id: int | None,
) -> NewCase:
    """The new case report `c` makes, with `reports` reports in all (the batch's duplicates of
    it are counted as they are on a bump), as `case_id` when one was reserved."""
    r, located, info = c.r, c.located, c.r["info"]
    workflow = engine.catalogue.workflow_for(r)
    request = RoutingRequest(
        class_code=r["category"],
        kind=info["kind"],  # 0101 is a component class and an event class
        grid=located["grid"],
        grids=tuple(located["grids"]),
        grid_units=engine.places.grids.units_of(located["grids"]),
        component=component,
    )
    routing = engine.hooks.call("route_case", connection, now, request=request)
    owner = max(routing["units"], key=lambda u: u.get("share", 1.0))["unit"] if routing else None
    assignee = (
        named_person(connection, owner, f"{info['kind']}:{r['category']}")
        if owner and engine.city.routing.named_person
        else None
    )
    explanation = routing["explanation"] if routing else NO_ROUTE
    if assignee:
        explanation += f"；责任人：{assignee['name']}"
    city = engine.city
    fields = number_fields(
        info["kind"], info["major"]["code"], r["category"], now.astimezone(city.timezone), r["channel"],
        city.division_code,
    )  # fmt: skip
    fmt = engine.city.codes.case_number
    late = composed(fmt, fields) if case_id is not None else None
    row = dict(
        workflow=workflow.code,
        state=workflow.initial,
        state_kind=workflow.kind_of(workflow.initial),
        version=reports,
        kind=info["kind"],
        class_code=r["category"],
        major_code=info["major"]["code"],
        standard=r.get("standard"),
        urgent=r["urgent"],
        channel=r["channel"],
        description=r.get("description"),
        address=r.get("address"),
        lon=r["lon"],
        lat=r["lat"],
        grid=located["grid"],
        grid_path="/" + "/".join(reversed(located["grids"])) + "/",
        area_class=located.get("area_class"),
        component=component["code"] if component else None,
        reporter_id=c.actor.id,
        assignee_id=assignee["id"] if assignee else None,
        verified=False,
        report_count=reports,
        routing_rule=routing["rule"] if routing else None,
        routing_explanation=explanation,
        taxonomy_version=engine.catalogue.taxonomy_version,
        reported_at=now,
        updated_at=now,
    )
    return NewCase(row, case_id, fields, late, routing, owner, assignee, counter_key(fmt, fields))


def case_notices(
    engine: "Deployment", c: "Checked", new: NewCase | None, case_id: int, number: str, now: datetime
) -> list[dict[str, Any]]:
    """The outbox rows of report `c`'s notices (`new` when it made the case): the named person's
    task (秒级推送) and the 越界 alert, made once the case's number is known."""
    rows = []
    if new is not None and new.assignee:
        info = c.r["info"]
        message = f"【指派】案件{number}（{label_zh(info['minor'].get('name'))}）由您负责"
        recipient = f"person:{new.assignee['id']}"
        channel = notice_channel(engine.city)
        rows.append(outbox_row(now, channel, recipient, case_id, "assigned", message, {"unit": new.owner}))
    if rule := c.out_of_grid:
        actor, grid = c.actor, c.located["grid"]
        reporter = actor.username or f"监督员{actor.id}"
        text = OUT_OF_GRID.format(reporter=reporter, number=number, grid=grid)
        payload = {"reporter": actor.id, "grid": grid, "grids": sorted(actor.grids or ())}
        channel = notice_channel(engine.city, rule)
        rows += [
            outbox_row(now, channel, f"role:{role}", case_id, "out_of_grid", text, payload)
            for role in rule.get("notify", ["shift_leader"])
        ]
    return rows


def named_person(connection: Connection, unit: str, key: str) -> dict[str, Any] | None:
    """The first active person of `unit` whose `classes` attribute lists `key` ("event:0501")."""
    for person in connection.execute(PEOPLE_OF_UNIT, {"unit": unit}).mappings():
        classes = (person["attributes"] or {}).get("classes") or []
        if key in ([classes] if isinstance(classes, str) else classes):  # one class may come as text
            return dict(person)
    return None
