"""Work orders from the 12345 platform: filed as cases, or kept waiting for an operator.

An order's number is its idempotency key, and it is kept as long as the order (`hotline_order`,
unique), not for the day that intake keeps a report's key: the platform may send an order again
weeks later and is answered with the same case. Filing is two steps, the number taken first and
the report written next (intake's own transaction, under the intake key `hotline:<number>`);
an order whose filing was cut between them is filed when it is sent again, and intake answers
that retry with the case it made, if it made one.

An order waits (`status` waiting) when its category maps to no class (`waiting_for` class) or
it cannot be placed (`waiting_for` place); an operator names the class or the point, and it is
filed as the platform's report, or returns it (退单) within the platform's time limit. The
centre is told in its inbox (a notice to `role:centre`) when an order starts waiting.

Every change of an order's status is conditional on the status it was read in: a resend, the
operator and the platform's answers may act on one order at once, and the one that finds the
order changed under it leaves it alone. A filing always files the order as stored, the
operator's class with it, never a resend's body.

The platform's extension answers and 回访 results are applied once: each answers one answer
gridcase sent (the latest 延期 or 办结, by its `seq`), and a resend of it is answered as the first
time, without a second timeline entry or a second reopening.

A 回访 result is also a satisfaction answer, as the reporter's survey is (`satisfaction`
satisfied or unsatisfied on the `hotline_visit` event, which assessment facts count with the
survey's): one answer counts per closing, whichever of the two comes first.
"""

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from gridcase.core.cases.events import record_action
from gridcase.core.cases.idempotency import digest
from gridcase.core.cases.scope import mask, reads_contacts
from gridcase.core.cases.transitions import fire
from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Case, CaseEvent, Evidence, HotlineOrder, Outbox
from gridcase.core.errors import GridcaseError
from gridcase.core.hotline.answers import check_return, queue_answer
from gridcase.core.hotline.settings import HotlineSettings
from gridcase.core.intake.submit import intake
from gridcase.core.notify.inbox import CENTRE
from gridcase.core.notify.outbox import notice_channel, outbox_row
from gridcase.core.people.accounts import person_by_id
from gridcase.core.people.actor import Actor

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment

ORDER, CASE, EVIDENCE, OUTBOX = HotlineOrder.__table__, Case.__table__, Evidence.__table__, Outbox.__table__
EVENT = CaseEvent.__table__
WAITING, OPEN, RETURNED, DONE = "waiting", "open", "returned", "done"
NEW = "new"  # the number is taken and the report not written yet (or its writing was cut)
# an order number is part of the paths the platform is sent (photos) and calls (its order's):
# it starts with a letter or digit, so that it is never "." or "..", which a path loses
ORDER_NO_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ORDER_NO = re.compile(ORDER_NO_PATTERN)
WAITS_FOR = {
    "class": "平台类别未对应本市案件类别，请指定类别后立案",
    "place": "无法确定位置，请指定位置后立案",
}
VISIT = "hotline_visit"
# what answers a closing's satisfaction survey (回访满意度): the reporter's survey or the
# platform's 回访, whichever comes first (plugins/builtin/citizens.py refuses a survey after it)
SURVEY_ANSWERS = ("survey", VISIT)
SATISFACTION = {True: "satisfied", False: "unsatisfied"}  # a 回访 result as the survey's answer


def settings_of(engine: "Deployment") -> HotlineSettings:
    found = engine.city.section(HotlineSettings.of)
    if found is None:
        raise GridcaseError("not_found", "this city has no 12345 bridge (no hotline: section in its profile)")
    return found


def _platform(engine: "Deployment", actor: Actor, settings: HotlineSettings) -> None:
    channel = engine.catalogue.channels.get(settings.channel) or {}
    if not set(channel.get("roles") or ()) & actor.roles:
        raise GridcaseError(
            "forbidden", f"orders come from an account with a role of channel {settings.channel!r}"
        )


def check_order_no(order_no: Any) -> None:
    if not isinstance(order_no, str) or not _ORDER_NO.match(order_no):
        raise GridcaseError(
            "invalid_request",
            "order_no: an order number is 1 to 64 letters, digits, '_', '.' or '-'",
            {"field": "order_no", "pointer": "/order_no"},
        )


def _order(connection: Connection, order_no: str, lock: bool = False) -> dict[str, Any]:
    """The order, its row locked to the transaction when `lock` (PostgreSQL; a SQLite writer is
    alone anyway)."""
    query = select(ORDER).where(ORDER.c.order_no == order_no)
    row = connection.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise GridcaseError("not_found", f"no order {order_no}", {"order_no": order_no})
    return dict(row)


def _own(row: dict[str, Any], actor: Actor) -> None:
    """The platform reads and answers its own orders only."""
    if row["person_id"] != actor.id:
        raise GridcaseError("not_found", f"no order {row['order_no']}", {"order_no": row["order_no"]})


def receive(engine: "Deployment", actor: Actor, order: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """File an order; (what it became, whether this request made it). A resend of an order is
    answered with what it became; another order under a number already taken is refused."""
    settings = settings_of(engine)
    _platform(engine, actor, settings)
    check_order_no(order.get("order_no"))
    now, request_hash = engine.time.now(), digest(order)
    row = {
        "order_no": order["order_no"], "person_id": actor.id, "request_hash": request_hash, "status": NEW,
        "category": order.get("category"), "received_at": now, "return_by": now + settings.return_within,
        "answers": 0, "sent": order,
    }  # fmt: skip
    try:
        with write(engine.db) as connection:
            connection.execute(insert(ORDER), row)
        made = True
    except IntegrityError:
        with read(engine.db) as connection:
            row = _order(connection, order["order_no"])
        if row["person_id"] != actor.id or row["request_hash"] != request_hash:
            raise GridcaseError(
                "idempotency_key_reused",
                f"order {order['order_no']} was sent before with other contents; "
                "a new order needs a new number",
                {"order_no": order["order_no"]},
            ) from None
        made = False
    if row["status"] == NEW:
        _file(engine, settings, row["order_no"], actor)
    return status(engine, actor, order["order_no"]), made


def _report(settings: HotlineSettings, order: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The intake report an order makes, or (None, what it waits for)."""
    mapped = settings.categories.get(str(order.get("category")))
    if order.get("class"):  # named by an operator
        mapped = {"class": order["class"], "kind": order.get("kind")}
    if mapped is None:
        return None, "class"
    if not order.get("point"):
        return None, "place"
    caller = order.get("caller") or {}
    contact = {"last_name": caller.get("name"), "phone": caller.get("phone")}
    return {
        "channel": settings.channel,
        "point": order["point"],
        "category": mapped["class"],
        "kind": mapped.get("kind"),
        "description": order.get("description"),
        "address": order.get("address"),
        "media_url": order.get("photo_url"),
        "contact": contact if any(contact.values()) else None,
    }, None


def _file(
    engine: "Deployment", settings: HotlineSettings, order_no: str, actor: Actor
) -> GridcaseError | None:
    """Write the order's report as stored, or leave it waiting; the refusal it waits for, if
    intake refused. An order filed meanwhile by another request (a resend, the operator) is left
    as that request made it: the status is written only where it is still the one read, and the
    `waiting_for` read tells the operator's filing (which keeps it) from the first one."""
    with read(engine.db) as connection:
        row = _order(connection, order_no)
    if row["status"] != NEW:
        return None
    report, waiting_for = _report(settings, row["sent"])
    values: dict[str, Any]
    refusal = None
    if report is None:
        values = {"status": WAITING, "waiting_for": waiting_for}
    else:
        try:
            result = intake(engine, report, actor, idempotency_key=f"hotline:{order_no}")
        except GridcaseError as exc:  # a class the city lacks, a point outside it: an operator decides
            refusal = exc
            values = {"status": WAITING, "waiting_for": "place" if exc.code == "out_of_area" else "class"}
        else:
            values = {"status": OPEN, "waiting_for": None, "case_id": result["case_id"]}
    was = row["waiting_for"]
    with write(engine.db) as connection:
        written = connection.execute(
            update(ORDER)
            .where(
                ORDER.c.id == row["id"],
                ORDER.c.status == NEW,
                ORDER.c.waiting_for.is_(None) if was is None else ORDER.c.waiting_for == was,
            )
            .values(**values)
        ).rowcount
        if written and values["status"] == WAITING and was is None:  # an operator's retry: they know
            connection.execute(insert(OUTBOX), _waiting_notice(engine, row, values["waiting_for"]))
    return refusal


def _waiting_notice(engine: "Deployment", row: dict[str, Any], waiting_for: str) -> dict[str, Any]:
    """The centre's notice of an order that started waiting for it, with what it waits for."""
    sent = row["sent"] or {}
    category = " ".join(str(p) for p in (sent.get("category"), sent.get("category_name")) if p)
    until = row["return_by"].astimezone(engine.city.timezone)
    text = (
        f"12345工单{row['order_no']}（{category}）待人工处理：{WAITS_FOR[waiting_for]}，"
        f"或于{until:%Y-%m-%d %H:%M}前退单"
    )
    payload = {
        "order_no": row["order_no"],
        "waiting_for": waiting_for,
        "return_by": row["return_by"].isoformat(),
    }
    now = engine.time.now()
    return outbox_row(now, notice_channel(engine.city), CENTRE, None, "hotline:waiting", text, payload)


def status(engine: "Deployment", actor: Actor, order_no: str) -> dict[str, Any]:
    """An order as the platform reads it: its state, its case's number and state, its answers."""
    with read(engine.db) as connection:
        row = _order(connection, order_no)
        _own(row, actor)
        case = (
            connection.execute(select(CASE.c.number, CASE.c.state).where(CASE.c.id == row["case_id"])).first()
            if row["case_id"]
            else None
        )
    return {
        "order_no": row["order_no"],
        "status": row["status"],
        "waiting_for": row["waiting_for"],
        "case_number": case.number if case else None,
        "case_state": case.state if case else None,
        "received_at": row["received_at"],
        "return_by": row["return_by"],
        "answers": row["answers"],
    }


# -- the centre ------------------------------------------------------------------------


def waiting(engine: "Deployment", actor: Actor, limit: int = 200) -> list[dict[str, Any]]:
    """The orders waiting for an operator, oldest first, as someone of the centre reads them."""
    centre(engine, actor)
    full = reads_contacts(engine, actor)
    with read(engine.db) as connection:
        rows = connection.execute(
            select(ORDER).where(ORDER.c.status == WAITING).order_by(ORDER.c.received_at).limit(limit)
        ).mappings()
        return [_as_the_centre_reads(r, full) for r in rows]


def for_the_centre(engine: "Deployment", actor: Actor, order_no: str) -> dict[str, Any]:
    """One order as someone of the centre reads it, whatever its status: what `waiting` lists,
    with its status and its case's id and number once it is one."""
    centre(engine, actor)
    with read(engine.db) as connection:
        row = _order(connection, order_no)
        case = (
            connection.execute(select(CASE.c.id, CASE.c.number).where(CASE.c.id == row["case_id"])).first()
            if row["case_id"]
            else None
        )
    return {
        **_as_the_centre_reads(row, reads_contacts(engine, actor)),
        "status": row["status"],
        "point": (row["sent"] or {}).get("point"),
        "case_id": case.id if case else None,
        "case_number": case.number if case else None,
    }


def _as_the_centre_reads(row: Any, full_contacts: bool) -> dict[str, Any]:
    """A waiting order's facts for the operator who decides it; its caller masked unless the
    reader's role reads contacts in full (roles.yaml `contacts`)."""
    sent = row["sent"] or {}
    caller = sent.get("caller") or {}
    name, phone = caller.get("name"), caller.get("phone")
    return {
        "order_no": row["order_no"],
        "waiting_for": row["waiting_for"],
        "category": row["category"],
        "category_name": sent.get("category_name"),
        "description": sent.get("description"),
        "address": sent.get("address"),
        "caller": {
            "name": name if full_contacts else mask("last_name", name),
            "phone": phone if full_contacts else mask("phone", phone),
        }
        if name or phone
        else None,
        "received_at": row["received_at"],
        "return_by": row["return_by"],
    }


def centre(engine: "Deployment", actor: Actor) -> HotlineSettings:
    """The bridge's settings, for someone of the centre who may file the platform's orders: a
    role of its channel that sees every case (the platform's own account sees its orders only)."""
    settings = settings_of(engine)
    channel = engine.catalogue.channels.get(settings.channel) or {}
    if not any(engine.city.role(r).scope == "all" for r in set(channel.get("roles") or ()) & actor.roles):
        raise GridcaseError(
            "forbidden", f"only the centre's roles of channel {settings.channel!r} file or return its orders"
        )
    return settings


def file_waiting(engine: "Deployment", actor: Actor, order_no: str, placed: dict[str, Any]) -> dict[str, Any]:
    """An operator names a waiting order's class (and its point, when it had none); it is filed
    as the platform's report. `placed` holds `category`, `kind` and `point`."""
    settings = centre(engine, actor)
    with read(engine.db) as connection:
        row = _order(connection, order_no)
    if row["status"] != WAITING:
        raise GridcaseError("conflict", f"order {order_no} is not waiting (it is {row['status']})")
    order = {**row["sent"], "class": placed["category"], "kind": placed.get("kind")}
    if placed.get("point"):
        order["point"] = placed["point"]
    if not order.get("point"):
        raise GridcaseError(
            "invalid_report", f"order {order_no} has no place: give its point", {"field": "point"}
        )
    platform = _person(engine, row["person_id"])
    with write(engine.db) as connection:  # the operator's choice, kept with the order
        moved = connection.execute(
            update(ORDER)
            .where(ORDER.c.id == row["id"], ORDER.c.status == WAITING)
            .values(sent=order, status=NEW)
        ).rowcount
    if not moved:
        raise GridcaseError("conflict", f"order {order_no} is being filed or returned by someone else")
    refusal = _file(engine, settings, order_no, platform)
    if refusal is not None:
        raise refusal
    return status(engine, platform, order_no)


def return_waiting(engine: "Deployment", actor: Actor, order_no: str, reason: str) -> dict[str, Any]:
    """退单 of an order that never became a case: not the city's, within the time limit."""
    settings = centre(engine, actor)
    now = engine.time.now()
    with write(engine.db) as connection:
        row = _order(connection, order_no)
        if row["status"] != WAITING:
            raise GridcaseError("conflict", f"order {order_no} is not waiting (it is {row['status']})")
        check_return(row, now, engine.city.timezone)
        moved = connection.execute(
            update(ORDER).where(ORDER.c.id == row["id"], ORDER.c.status == WAITING).values(status=RETURNED)
        ).rowcount
        if not moved:
            raise GridcaseError("conflict", f"order {order_no} is being filed by someone else")
        queue_answer(connection, settings, row, "return", {"reason": reason}, f"退单：{reason}", now)
    return {"order_no": order_no, "status": RETURNED}


def _person(engine: "Deployment", person_id: int) -> Actor:
    with read(engine.db) as connection:
        person = person_by_id(connection, person_id)
    if person is None:
        raise GridcaseError("forbidden", "the platform's account is no longer active")
    return Actor(
        id=person["id"], roles=frozenset(person["roles"]), unit=person["unit"], grids=person["grids"],
        username=person["username"],
    )  # fmt: skip


# -- the platform's answers -----------------------------------------------------------


def _answered(connection: Connection, order_no: str, step: str) -> tuple[int, datetime | None]:
    """The seq of the latest answer of `step` the order was sent, and when (0 and None when
    none): the one the platform's answer answers."""
    sent = connection.execute(
        select(OUTBOX.c.payload, OUTBOX.c.created_at)
        .where(OUTBOX.c.recipient == f"hotline:{order_no}", OUTBOX.c.event == f"hotline:{step}")
        .order_by(OUTBOX.c.id.desc())
        .limit(1)
    ).first()
    return (int(sent.payload["seq"]), sent.created_at) if sent else (0, None)


def _apply_once(
    engine: "Deployment",
    actor: Actor,
    order_no: str,
    step: str,
    column: str,
    sent: dict[str, Any],
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Keep the platform's answer to the order's latest answer of `step` in the order's `column`
    and write it on the case's timeline, once: (the order, the answer kept by a first request when
    this one is its resend, else None). The same answer sent again with other contents is refused."""
    request = digest(sent)
    with write(engine.db) as connection:
        row = _order(connection, order_no, lock=True)
        _own(row, actor)
        if row["case_id"] is None:
            raise GridcaseError("conflict", f"order {order_no} has no case")
        about, answered_at = _answered(connection, order_no, step)
        kept = row[column] or {}
        if kept.get("about") == about and "request" in kept:
            if kept["request"] != request:
                raise GridcaseError(
                    "idempotency_key_reused",
                    f"order {order_no} was answered before with other contents (answer {about}); "
                    "it is applied once",
                    {"order_no": order_no, "seq": about},
                )
            return row, kept
        values = {**sent, "at": now.isoformat(), "about": about, "request": request}
        connection.execute(update(ORDER).where(ORDER.c.id == row["id"]).values({column: values}))
        if column == "extension":
            record_action(
                connection, row["case_id"], "hotline_extension", actor, {"order_no": order_no, **sent}, now
            )
        else:
            _record_visit(connection, row, actor, sent, answered_at or row["received_at"], now)
    return row, None


def _record_visit(
    connection: Connection, row: dict[str, Any], actor: Actor, visit: dict[str, Any], since: datetime, now
) -> None:
    """The 回访 on the case's timeline as a satisfaction answer (`satisfaction`) of the closing
    its 办结 (sent `since`) reported, counted against the unit the case's last step was; with no
    `satisfaction` where the reporter's survey answered that closing first."""
    case_id = row["case_id"]
    answered = connection.execute(
        select(EVENT.c.id)
        .where(EVENT.c.case_id == case_id, EVENT.c.transition.in_(SURVEY_ANSWERS), EVENT.c.at >= since)
        .limit(1)
    ).first()
    payload = {"order_no": row["order_no"], **visit}
    if answered is None:
        payload["satisfaction"] = SATISFACTION[bool(visit["satisfied"])]
    unit = connection.execute(
        select(EVENT.c.unit)
        .where(EVENT.c.case_id == case_id, EVENT.c.unit.is_not(None))
        .order_by(EVENT.c.seq.desc())
        .limit(1)
    ).scalar()
    record_action(connection, case_id, VISIT, actor, payload, now, unit=unit)


def extension_answered(engine: "Deployment", actor: Actor, order_no: str, answer: dict[str, Any]) -> dict:
    """The platform's answer to an extension asked (`approved`, `note`, `until`): kept with the
    order and written on the case's timeline for the dispatcher who decides it inside."""
    _apply_once(engine, actor, order_no, "extension", "extension", answer, engine.time.now())
    return {"order_no": order_no, "recorded": True}


def visited(engine: "Deployment", actor: Actor, order_no: str, visit: dict[str, Any]) -> dict[str, Any]:
    """The platform's 回访 result (`satisfied`, `note`) of the order's latest 办结: kept and written
    on the timeline; a caller not satisfied reopens the case (the profile's `hotline.reopen`
    transition, fired as the platform's account, within the city's reopening rules). A resend is
    answered as the first request was."""
    settings = settings_of(engine)
    row, kept = _apply_once(engine, actor, order_no, "done", "visit", visit, engine.time.now())
    if kept is not None:
        # the first request's answer, or (had it stopped before keeping it) what it came to
        reopened = not visit["satisfied"] and row["status"] == OPEN
        return kept.get("answer") or {"order_no": order_no, "recorded": True, "reopened": reopened}
    answer: dict[str, Any] = {"order_no": order_no, "recorded": True, "reopened": False}
    if not visit["satisfied"]:
        note = visit.get("note") or ""
        try:
            fire(
                engine, row["case_id"], settings.reopen, actor, reason=f"12345回访不满意：{note}".rstrip("：")
            )
        except GridcaseError as exc:  # recorded all the same; the centre reads why it stayed closed
            answer["refused"] = exc.message
        else:
            answer["reopened"] = True
    with write(engine.db) as connection:
        stored = _order(connection, order_no, lock=True)["visit"]
        connection.execute(
            update(ORDER).where(ORDER.c.id == row["id"]).values(visit={**stored, "answer": answer})
        )
        if answer["reopened"]:
            connection.execute(
                update(ORDER).where(ORDER.c.id == row["id"], ORDER.c.status == DONE).values(status=OPEN)
            )
    return answer


def photo(engine: "Deployment", actor: Actor, order_no: str, evidence_id: int) -> tuple[bytes, str]:
    """A photo an answer named, for the platform that received the answer."""
    with read(engine.db) as connection:
        row = _order(connection, order_no)
        _own(row, actor)
        found = connection.execute(
            select(EVIDENCE.c.sha256, EVIDENCE.c.content_type).where(
                EVIDENCE.c.id == evidence_id, EVIDENCE.c.case_id == row["case_id"]
            )
        ).first()
    if found is None or row["case_id"] is None:
        raise GridcaseError("not_found", f"no photo {evidence_id} of order {order_no}")
    return engine.evidence.read(found.sha256), found.content_type
