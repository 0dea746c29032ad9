"""Intake: a report from any channel becomes a case (or joins the open case it duplicates).

Everything that can be checked without the database is checked first (channel, location,
category, evidence, grid, tenancy), so a bad report writes nothing and holds no lock. The rest
happens in one transaction: component, idempotency, duplicate, routing, number, case, report,
first event, clocks. A retry with an idempotency key passes the same checks as its first try,
so it is answered with that try's case.
"""

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from .checklists import item_class
from .db.engine import query, write
from .db.fastinsert import FastInsert
from .db.fastquery import FastQuery
from .db.models import Case, CaseUnit, Outbox, Person, Report
from .db.raw import pipelined
from .dedupe import search_duplicate
from .errors import GridcaseError
from .events import bump, event_row, record_action, send_event
from .evidence import Upload
from .geo import CoordinateError, to_wgs84
from .notify import OUT_OF_GRID, notice_channel, outbox_row
from .numbering import NumberedInsert, case_number, composed, number_fields
from .taxonomy import label_zh
from .units import add_case_units

if TYPE_CHECKING:
    from .cases import Actor, Engine

CASE, CASE_UNIT, REPORT = (t.__table__ for t in (Case, CaseUnit, Report))

# Built once: the inserts go straight to the driver (core/db/fastinsert.py) and the queries are
# constant statements with parameters, which skips SQLAlchemy's per-call construction work.
OUTBOX, PERSON = Outbox.__table__, Person.__table__
PEOPLE_OF_UNIT = (
    select(PERSON.c.id, PERSON.c.name, PERSON.c.attributes)
    .where(PERSON.c.unit == bindparam("unit"), PERSON.c.active)
    .order_by(PERSON.c.id)
)
INSERT_CASE = FastInsert(CASE, returning_id=True)
INSERT_NUMBERED_CASE = NumberedInsert(FastInsert(CASE))
NEXT_CASE_ID = FastQuery(select(func.nextval(func.pg_get_serial_sequence('"case"', "id")).label("id")))
INSERT_REPORT = FastInsert(REPORT)
BY_KEY = FastQuery(
    select(REPORT.c.case_id, REPORT.c.duplicate, CASE.c.number)
    .join(CASE, CASE.c.id == REPORT.c.case_id)
    .where(REPORT.c.idempotency_key == bindparam("key"))
)


def _invalid(message: str, **details: Any) -> GridcaseError:
    return GridcaseError("invalid_report", message, details)


def check_report(engine: "Engine", report: dict[str, Any], actor: "Actor") -> dict[str, Any]:
    """The normalised report, or GridcaseError saying what is wrong with it."""
    if not isinstance(report, dict):
        raise _invalid("a report is a mapping of fields")
    channel = engine.channels.get(report.get("channel"))
    if channel is None or channel.get("enabled") is False:
        raise GridcaseError("unknown_channel", f"no enabled channel {report.get('channel')!r}")
    if channel.get("roles") and not set(channel["roles"]) & actor.roles:
        raise GridcaseError(
            "forbidden", f"channel {channel['code']!r} takes reports from {', '.join(channel['roles'])} only"
        )
    point = report.get("point")
    if not (isinstance(point, (list, tuple)) and len(point) == 2):
        raise _invalid("point must be [longitude, latitude]", field="point")
    try:
        lon, lat = to_wgs84(point[0], point[1], report.get("crs") or "wgs84")
    except CoordinateError as exc:
        raise _invalid(str(exc), field="point") from None
    for key in ("description", "address", "category", "kind", "component", "standard", "item"):
        if report.get(key) is not None and not isinstance(report[key], str):
            raise _invalid(f"{key} must be text", field=key)
    if len(report.get("description") or "") > 5000 or len(report.get("address") or "") > 500:
        raise _invalid("description (5000) or address (500) is too long")
    category, kind = report.get("category"), report.get("kind")
    explanation = None
    if report.get("item"):  # a patrol checklist's item names its class (禅城's 334 items)
        category, kind = item_class(engine.checklist_items, report, channel["code"])
    if not category:
        found = engine.pm.hook.classify_case(report=report, profile=engine.profile)
        if not found:
            raise GridcaseError(
                "unclassifiable", "the report has no category and none could be found in its text; choose one"
            )
        category, kind, explanation = found["class"], found.get("kind"), found.get("explanation")
    info = engine.resolve_class(category, kind)
    return {
        **report,
        "description": report.get("description"),
        "channel": channel["code"],
        "lon": lon,
        "lat": lat,
        "crs": (report.get("crs") or "wgs84").lower(),
        "category": category,
        "classified": explanation,
        "info": info,
        "urgent": bool(report.get("urgent")),
    }


def intake(
    engine: "Engine",
    report: dict[str, Any],
    actor: "Actor",
    uploads: list[Upload] = (),
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    r = check_report(engine, report, actor)
    stored = [engine.evidence.check(u) for u in uploads]
    if idempotency_key is not None and not (
        isinstance(idempotency_key, str) and 0 < len(idempotency_key) <= 200
    ):
        raise _invalid("an idempotency key is 1 to 200 characters", field="idempotency_key")
    try:
        result = _intake(engine, r, actor, uploads, stored, idempotency_key)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # the same key won a race in another transaction: answer as that request did
        result = replay(engine, idempotency_key)
        if result is None:
            raise
        return result
    if not result.get("replay"):
        engine.after_event(result["case_id"], result["event"])
    return result


def replay(engine: "Engine", key: str) -> dict[str, Any] | None:
    """The answer an earlier request with this idempotency key was given, if there was one."""
    with query(engine.db) as connection:
        found = BY_KEY(connection, {"key": key})
    return {**found[0], "replay": True} if found else None


def _intake(engine: "Engine", r, actor, uploads, stored, key) -> dict[str, Any]:
    now = engine.clock.now()
    located = engine.pm.hook.locate_case(
        report={"point": [r["lon"], r["lat"]]}, profile=engine.profile, grids=engine.grids
    )
    if located is None:
        raise GridcaseError(
            "out_of_area",
            f"({r['lon']:.6f}, {r['lat']:.6f}) is outside every grid of this city",
            {"point": [r["lon"], r["lat"]]},
        )
    engine.tenancy.require(actor, located["grids"], f"grid {located['grid']}")
    out_of_grid = _out_of_grid(engine, actor, located)
    with write(engine.db) as connection:
        component = engine.find_component(connection, r)
        # the key's earlier answer with the dedupe lock and search: one round trip, read after it
        with pipelined(connection):
            earlier = BY_KEY.send(connection, {"key": key}) if key is not None else None
            duplicate_of = search_duplicate(connection, engine, r, now)
            # a new case's id, so its number can be claimed with its other rows (numbering.py)
            reserved = NEXT_CASE_ID.send(connection, {}) if connection.dialect.name == "postgresql" else None
        if earlier is not None and (found := earlier()):
            return {**found[0], "replay": True}
        duplicate = duplicate_of()
        case_id = reserved()[0]["id"] if reserved is not None else None
        report_row = {
            "channel": r["channel"],
            "reporter_id": actor.id,
            "idempotency_key": key,
            "description": r.get("description"),
            "lon": r["lon"],
            "lat": r["lat"],
            "crs": r["crs"],
            "received_at": now,
        }
        if duplicate is not None:
            point = [r["lon"], r["lat"]]
            payload = {"channel": r["channel"], "point": point, "description": r["description"]}
            with pipelined(connection):  # the report goes out with the version bump
                INSERT_REPORT.send(connection, {**report_row, "case_id": duplicate["id"], "duplicate": True})
                bumped = bump(connection, duplicate["id"], now, reports=1)
            event = record_action(
                connection, duplicate["id"], "duplicate_report", actor, payload, now, bumped
            )
            result = {
                "case_id": duplicate["id"],
                "number": duplicate["number"],
                "duplicate": True,
                "replay": False,
                "event": event,
            }
        else:
            result = _new_case(
                engine, connection, r, actor, now, located, component, report_row, uploads, stored, case_id
            )
        if out_of_grid:
            _alert_out_of_grid(connection, engine, out_of_grid, actor, located, result, now)
        return result


def _out_of_grid(engine: "Engine", actor: "Actor", located: dict[str, Any]) -> dict[str, Any] | None:
    """越界: the rule to apply when a grid-scoped reporter reports outside their grids."""
    rule = engine.profile.get("intake", {}).get("out_of_grid")
    if not rule or not actor.grids or set(actor.grids) & set(located["grids"]):
        return None
    if rule["action"] == "refuse":
        raise GridcaseError(
            "out_of_grid",
            f"grid {located['grid']} is outside your responsibility grids ({', '.join(sorted(actor.grids))})",
            {"grid": located["grid"]},
        )
    return rule


def _alert_out_of_grid(connection, engine: "Engine", rule, actor: "Actor", located, result, now) -> None:
    reporter = actor.username or f"监督员{actor.id}"
    text = OUT_OF_GRID.format(reporter=reporter, number=result["number"], grid=located["grid"])
    channel = notice_channel(engine.profile, rule)
    payload = {"reporter": actor.id, "grid": located["grid"], "grids": sorted(actor.grids)}
    connection.execute(
        insert(OUTBOX),
        [
            outbox_row(now, channel, f"role:{role}", result["case_id"], "out_of_grid", text, payload)
            for role in rule.get("notify", ["shift_leader"])
        ],
    )


def _new_case(
    engine: "Engine", connection, r, actor, now, located, component, report_row, uploads, stored, case_id
):
    info = r["info"]
    workflow = engine.workflow_for(r)
    routing = engine.pm.hook.route_case(
        case={
            "class": r["category"],
            "kind": info["kind"],  # 0101 is a component class and an event class
            "grid": located["grid"],
            "grids": located["grids"],
            "component": component,
        },
        profile=engine.profile,
    )
    local = now.astimezone(engine.tz)
    fields = number_fields(
        info["kind"], info["major"]["code"], r["category"], local, r["channel"], engine.division_code
    )
    fmt = engine.profile["codes"]["case_number"]
    late = composed(fmt, fields) if case_id is not None else None
    owner = max(routing["units"], key=lambda u: u.get("share", 1.0))["unit"] if routing else None
    assignee = (
        named_person(connection, owner, f"{info['kind']}:{r['category']}")
        if owner and engine.profile.get("routing", {}).get("named_person")
        else None
    )
    explanation = routing["explanation"] if routing else "没有匹配的责任单位，需人工派遣"
    if assignee:
        explanation += f"；责任人：{assignee['name']}"
    case_row = dict(
        workflow=workflow.code,
        state=workflow.initial,
        state_kind=workflow.kind_of(workflow.initial),
        version=1,
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
        reporter_id=actor.id,
        assignee_id=assignee["id"] if assignee else None,
        verified=False,
        report_count=1,
        routing_rule=routing["rule"] if routing else None,
        routing_explanation=explanation,
        taxonomy_version=engine.taxonomy_version,
        reported_at=now,
        updated_at=now,
    )
    if late is None:  # SQLite, or a format the database cannot build: the number first
        number = case_number(connection, fmt, fields)
        case_id = INSERT_CASE(connection, {**case_row, "number": number})
    payload = {"channel": r["channel"], "grid": located["grid"]}
    if r.get("classified"):
        payload["classified"] = r["classified"]
    if r.get("item"):
        payload["item"] = r["item"]
    facts = {
        "class_code": r["category"], "major_code": info["major"]["code"], "kind": info["kind"],
        "standard": r.get("standard"), "area_class": located.get("area_class"), "urgent": r["urgent"],
        "taxonomy_version": engine.taxonomy_version,
    }  # fmt: skip
    channel = engine.channels[r["channel"]]
    with pipelined(connection):  # the case's rows go out together, not one round trip each
        if late is not None:
            numbered = INSERT_NUMBERED_CASE.send(connection, case_row, case_id, late)
        if routing:
            add_case_units(connection, case_id, "responsible", routing["units"], now)
        INSERT_REPORT(connection, {**report_row, "case_id": case_id, "duplicate": False})
        deadlines = engine.clocks.start(
            connection, case_id, workflow.starts, now, facts, fresh=True, owner=owner
        )
        if channel.get("starts"):  # 民生110: the reply clock, owned by the unit first contacted (首问负责)
            deadlines += engine.clocks.start(
                connection, case_id, channel["starts"], now, facts, fresh=True,
                owner=channel.get("first_contact", owner),
            )  # fmt: skip
        event = event_row(
            case_id, 1, "report", None, workflow.initial, actor, now, payload, deadlines=deadlines, unit=owner
        )
        event_id = send_event(connection, event)
    if late is not None:
        number = numbered()
    engine.attach(connection, case_id, event_id(), uploads, stored, now)
    if assignee:  # the task reaches the named person at once (秒级推送)
        message = f"【指派】案件{number}（{label_zh(info['minor'].get('name'))}）由您负责"
        notice = outbox_row(
            now, notice_channel(engine.profile), f"person:{assignee['id']}", case_id, "assigned", message,
            {"unit": owner},
        )  # fmt: skip
        connection.execute(insert(OUTBOX), notice)
    return {"case_id": case_id, "number": number, "duplicate": False, "replay": False, "event": event}


def named_person(connection: Connection, unit: str, key: str) -> dict[str, Any] | None:
    """The first active person of `unit` whose `classes` attribute lists `key` ("event:0501")."""
    for person in connection.execute(PEOPLE_OF_UNIT, {"unit": unit}).mappings():
        classes = (person["attributes"] or {}).get("classes") or []
        if key in ([classes] if isinstance(classes, str) else classes):  # one class may come as text
            return dict(person)
    return None
