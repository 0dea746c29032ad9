"""Open311 GeoReport v2 (`/open311/v2/`), so existing 311 apps and clients work unchanged.

Every resource answers as `.json` or `.xml` (the extension decides; without one, the Accept
header, else JSON). Field names are the specification's. Services are the taxonomy's enabled
minor classes (`c-0101` a 部件 class, `e-0101` an 事件 class); a request's status follows its
workflow state's kind; `expected_datetime` is the deadline of the case's running clock. Posting
needs an `api_key` (an API token of a citizen or system account), and honours an
`Idempotency-Key` header scoped to that account (core/idempotency.py). Requests are read with
no login, so they show what the public view shows (core/cases/scope.py `public_view`, and
`publicly_listed` for the lists; docs/public-site.md). Errors are the specification's list of
`{code, description}`.
"""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridcase.core.cases import scope
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, CaseUnit, Clock, Report, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.submit import CONTACT_FIELDS, Submission
from gridcase.core.profile.taxonomy import active_classes, label_zh
from gridcase.core.text import check_fields, clean_all
from gridcase.core.web.identity import identify

CASE, CASE_UNIT, CLOCK, REPORT, UNIT = (t.__table__ for t in (Case, CaseUnit, Clock, Report, Unit))
SPEC = "http://wiki.open311.org/GeoReport_v2"
KIND_PREFIX = {"component": "c", "event": "e"}
DEFAULT_DAYS, MAX_REQUESTS = 90, 1000
STATUS_CODES = {
    "bad_request": 400,
    "unauthorized": 403,
    "forbidden": 403,
    "not_found": 404,
    "rate_limited": 429,
    "idempotency_key_reused": 422,
}
# the element each list's items get in XML
ITEM = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        self.status, self.description = status, description


def service_code(kind: str, code: str) -> str:
    return f"{KIND_PREFIX[kind]}-{code}"


def _class_of(engine, code: str) -> dict[str, Any]:
    prefix, _, minor = code.partition("-")
    kind = {v: k for k, v in KIND_PREFIX.items()}.get(prefix)
    info = engine.catalogue.classes.get((kind, minor)) if kind else None
    if info is None or not _published(info):
        raise Open311Error(404, f"service_code {code} not found")
    return info


def _published(info: dict[str, Any]) -> bool:
    """A service the public may see: enabled, and named (not a class the city has yet to name)."""
    minor, major = info["minor"], info["major"]
    return (
        minor.get("enabled") is not False
        and major.get("enabled") is not False
        and minor.get("published") is not False
    )


# -- rendering ------------------------------------------------------------------------


def _xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value, root)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(
        element, encoding="utf-8", xml_declaration=False
    )


def _fill(element: ET.Element, value: Any, name: str) -> None:
    if isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM.get(name, "item")), item, ITEM.get(name, "item"))
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item, key)
    elif value is not None:
        element.text = "true" if value is True else "false" if value is False else str(value)


def _render(
    data: Any, root: str, fmt: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # rows stored before intake refused control characters must not make XML clients cannot
    # read, nor JSON other than the XML
    data = clean_all(data)
    if fmt == "xml":
        body, media_type = _xml(root, data), "text/xml; charset=utf-8"
    else:
        body, media_type = json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8"
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


# -- resources ------------------------------------------------------------------------


def discovery(engine, request: Request) -> tuple[str, Any]:
    # the deployment's own address (public_url), never the request's Host header, which anyone
    # may set and a cache would keep; without one, the path alone
    base = (request.app.state.public_url or "").rstrip("/") + "/open311/v2/"
    return "discovery", {
        "changeset": _iso(engine.time.now().replace(hour=0, minute=0, second=0, microsecond=0)),
        "contact": engine.city.title_zh
        if isinstance(engine.profile.get("title"), dict)
        else engine.profile.get("title") or engine.profile.get("name"),
        "key_service": "gridcase token create (ask the city's platform administrators)",
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": _iso(engine.time.now()),
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def services(engine) -> tuple[str, Any]:
    out = []
    for info in active_classes(engine.profile):
        if not _published(info):
            continue
        out.append(
            {
                "service_code": service_code(info["kind"], info["minor"]["code"]),
                "service_name": label_zh(info["minor"]["name"]),
                "description": label_zh(info["major"]["name"]),
                "metadata": bool(info["minor"].get("standards")),
                "type": "realtime",
                "keywords": ",".join(info["minor"].get("keywords", []) + info["minor"].get("aliases", [])),
                "group": label_zh(info["major"]["name"]),
            }
        )
    return "services", out


def definition(engine, code: str) -> tuple[str, Any]:
    info = _class_of(engine, code)
    attributes = []
    standards = info["minor"].get("standards", [])
    if standards:
        attributes.append(
            {
                "variable": True,
                "code": "standard",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "立案条件 (filing condition)",
                "order": 1,
                "description": "问题情形",
                "values": [{"key": row["code"], "name": row["condition"]} for row in standards],
            }
        )
    return "service_definition", {"service_code": code, "attributes": attributes}


def _request_rows(engine, where: list, limit: int) -> list[dict[str, Any]]:
    with read(engine.db) as connection:
        cases = [
            dict(r)
            for r in connection.execute(
                select(CASE).where(*where).order_by(CASE.c.reported_at.desc()).limit(limit)
            ).mappings()
        ]
        ids = [c["id"] for c in cases]
        agencies: dict[int, str] = {}
        expected: dict[int, datetime] = {}
        media: dict[int, str] = {}
        if ids:
            for row in connection.execute(
                select(CASE_UNIT.c.case_id, UNIT.c.name)
                .join(UNIT, UNIT.c.code == CASE_UNIT.c.unit)
                .where(CASE_UNIT.c.case_id.in_(ids), CASE_UNIT.c.role == "responsible", CASE_UNIT.c.active)
                .order_by(CASE_UNIT.c.share.desc())
            ):
                agencies.setdefault(row.case_id, row.name)
            for clock in connection.execute(
                select(CLOCK.c.case_id, CLOCK.c.stage, CLOCK.c.deadline).where(
                    CLOCK.c.case_id.in_(ids), CLOCK.c.status != "stopped", CLOCK.c.deadline.is_not(None)
                )
            ):
                # the whole case's deadline when it runs, else the latest of its stages'
                if clock.stage == "case" or clock.case_id not in expected:
                    expected[clock.case_id] = clock.deadline
            for row in connection.execute(  # the first photo a report of the case linked
                select(REPORT.c.case_id, REPORT.c.media_url)
                .where(REPORT.c.case_id.in_(ids), REPORT.c.media_url.is_not(None))
                .order_by(REPORT.c.id)
            ):
                media.setdefault(row.case_id, row.media_url)
    out = []
    for case in cases:
        info = engine.catalogue.classes.get((case["kind"], case["class_code"]))
        shown = scope.public_view(engine, case)  # no login: what anyone may read of it
        out.append(
            {
                "service_request_id": case["number"],
                "status": "closed" if case["state_kind"] == "closed" else "open",
                "status_notes": engine.catalogue.workflows[case["workflow"]].states[case["state"]].name,
                "service_name": label_zh(info["minor"]["name"]) if info else case["class_code"],
                "service_code": service_code(case["kind"], case["class_code"]),
                "description": shown["description"],
                "agency_responsible": agencies.get(case["id"]),
                "service_notice": None,
                "requested_datetime": _iso(case["reported_at"]),
                "updated_datetime": _iso(case["updated_at"]),
                "expected_datetime": _iso(expected.get(case["id"])),
                "address": shown["address"],
                "address_id": None,
                "zipcode": None,
                "lat": shown["lat"],
                "long": shown["lon"],
                "media_url": None if shown["sensitive"] else media.get(case["id"]),
            }
        )
    return out


def _dates(q, engine) -> tuple[datetime, datetime]:
    def parse(name):
        raw = q.get(name)
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise Open311Error(400, f"{name} is a W3C datetime, e.g. 2026-10-01T00:00:00Z") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=engine.city.timezone)

    end = parse("end_date") or engine.time.now()
    start = parse("start_date") or end - timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    return start, end


def list_requests(engine, q) -> tuple[str, Any]:
    where: list[ColumnElement[bool]] = []
    if q.get("service_request_id"):
        where.append(
            CASE.c.number.in_([i.strip() for i in q["service_request_id"].split(",")][:MAX_REQUESTS])
        )
    else:
        start, end = _dates(q, engine)
        where += [CASE.c.reported_at >= start, CASE.c.reported_at <= end, scope.publicly_listed(engine)]
        if q.get("service_code"):
            # each code names a (kind, class) pair: c-0101 is not e-0101
            codes = [_class_of(engine, c.strip()) for c in q["service_code"].split(",")]
            where.append(
                or_(*(and_(CASE.c.kind == i["kind"], CASE.c.class_code == i["minor"]["code"]) for i in codes))
            )
        if q.get("status"):
            statuses = {s.strip() for s in q["status"].split(",")}
            if not statuses <= {"open", "closed"}:
                raise Open311Error(400, "status is open or closed")
            if len(statuses) == 1:
                where.append(CASE.c.state_kind == statuses.pop())
    return "service_requests", _request_rows(engine, where, MAX_REQUESTS)


def one_request(engine, number: str) -> tuple[str, Any]:
    rows = _request_rows(engine, [CASE.c.number == number], 1)
    if not rows:
        raise Open311Error(404, f"service_request_id {number} not found")
    return "service_requests", rows


def token(engine, value: str) -> tuple[str, Any]:
    # a report stored before tokens were random has none, and answers to the one it was given
    old = value[:1] == "t" and value[1:].isdigit() and int(value[1:]) < 2**31
    found = and_(REPORT.c.id == int(value[1:]), REPORT.c.token.is_(None)) if old else REPORT.c.token == value
    with read(engine.db) as connection:
        row = connection.execute(
            select(CASE.c.number).join(REPORT, REPORT.c.case_id == CASE.c.id).where(found)
        ).first()
    if row is None:
        raise Open311Error(404, f"token {value} not found")
    return "service_requests", [{"service_request_id": row.number, "token": value}]


def report_of(engine, form: dict[str, str]) -> dict[str, Any]:
    """The intake report a POSTed service request makes, or Open311Error saying what is missing."""
    if not form.get("service_code"):
        raise Open311Error(400, "service_code is required")
    info = _class_of(engine, form["service_code"])
    try:
        lat, lon = float(form["lat"]), float(form["long"])
    except (KeyError, ValueError):
        if form.get("address_string") or form.get("address_id"):
            raise Open311Error(
                400, "this server needs lat and long; an address alone cannot be placed"
            ) from None
        raise Open311Error(400, "lat and long are required (WGS-84 decimal degrees)") from None
    attributes = {
        key[len("attribute[") : -1]: value for key, value in form.items() if key.startswith("attribute[")
    }
    unknown = set(attributes) - {"standard"}  # the only attribute a service definition publishes
    if unknown:
        name = sorted(unknown)[0]
        raise Open311Error(400, f"attribute[{name}] is not an attribute of {form['service_code']}")
    contact = {name: form.get(name) or None for name in CONTACT_FIELDS}
    return {
        "channel": "open311",
        "point": [lon, lat],
        "category": info["minor"]["code"],
        "kind": info["kind"],
        "description": form.get("description"),
        "address": form.get("address_string"),
        "standard": attributes.get("standard") or None,
        "media_url": form.get("media_url") or None,
        # kept for staff, never shown in Open311's answers (db/models/cases.py ReportContact)
        "contact": contact if any(contact.values()) else None,
    }


def created(result: dict[str, Any]) -> tuple[str, Any]:
    """The answer to a POSTed request: its case's number, and its own report as the token."""
    notice = "与已有案件合并" if result.get("duplicate") else None
    return "service_requests", [
        {
            "service_request_id": result["number"],
            "token": result["token"] or f"t{result['report_id']}",  # a report's from before 0019
            "service_notice": notice,
            "account_id": None,
        }
    ]


# -- the route ------------------------------------------------------------------------


def _split(resource: str, request: Request) -> tuple[list[str], str]:
    parts = [p for p in resource.split("/") if p]
    fmt = None
    if parts and "." in parts[-1]:
        parts[-1], _, fmt = parts[-1].rpartition(".")
    if fmt is None:
        fmt = "xml" if "xml" in request.headers.get("accept", "") else "json"
    if fmt not in ("json", "xml"):
        raise Open311Error(400, f"format {fmt} is not served; use .json or .xml")
    return parts, fmt


async def dispatch(request: Request) -> Response:
    fmt = "json"
    try:
        parts, fmt = _split(request.path_params["resource"], request)
        return await _answer(request, parts, fmt)
    except Open311Error as exc:
        return _render([{"code": exc.status, "description": exc.description}], "errors", fmt, exc.status)
    except GridcaseError as exc:
        status = STATUS_CODES.get(exc.code, 400)
        retry = (exc.details or {}).get("retry_after")
        headers = {"Retry-After": str(retry)} if status == 429 and retry is not None else None
        return _render([{"code": status, "description": exc.message}], "errors", fmt, status, headers)


async def _answer(request: Request, parts: list[str], fmt: str) -> Response:
    engine = request.app.state.engine
    q = dict(request.query_params)
    if request.method == "POST":
        try:
            posted = await request.form(max_files=0, max_fields=60)
        except Exception:  # Starlette and python-multipart raise several kinds for a bad body
            raise Open311Error(
                400, "send form fields (application/x-www-form-urlencoded), no files"
            ) from None
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        q = {**q, **form}
    check_fields(q, decoded=True)  # core/text.py's rule, as for the JSON API: a 400 naming the field
    jurisdiction = q.get("jurisdiction_id")
    if jurisdiction and jurisdiction not in {
        engine.profile.get("name"),
        engine.city.division_code,
    }:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction} not found")
    head, rest = (parts[0] if parts else ""), parts[1:]
    if request.method == "POST":
        if head != "requests" or rest:
            raise Open311Error(404, "only requests can be posted")
        actor = await identify(request, api_key=q.get("api_key") or "")
        if actor is None or not actor.roles & {"citizen", "system"}:
            raise Open311Error(403, "a valid api_key of a citizen or system account is required")
        # written with the JSON API's reports that arrive together (group commit, web/coalesce.py),
        # counted against the limit in the same transaction (core/quota.py)
        key = request.headers.get("idempotency-key")
        quota = request.app.state.limits["open311"].of(f"person:{actor.id}")
        result = await request.app.state.intake(Submission(report_of(engine, q), actor, key=key, quota=quota))
        root, data = created(result)
        return _render(data, root, fmt, 200 if result.get("replay") else 201)
    if head == "discovery" and not rest:
        root, data = discovery(engine, request)
    elif head == "services" and not rest:
        root, data = services(engine)
    elif head == "services" and len(rest) == 1:
        root, data = definition(engine, rest[0])
    elif head == "requests" and not rest:
        root, data = await run_in_threadpool(list_requests, engine, q)
    elif head == "requests" and len(rest) == 1:
        root, data = await run_in_threadpool(one_request, engine, rest[0])
    elif head == "tokens" and len(rest) == 1:
        root, data = await run_in_threadpool(token, engine, rest[0])
    else:
        raise Open311Error(404, f"no resource {'/'.join(parts) or '(none)'}")
    return _render(data, root, fmt)


def routes() -> list[Route]:
    return [Route("/open311/v2/{resource:path}", dispatch, methods=["GET", "POST"])]
