"""What gridcase tells the 12345 platform and the citizens as a case moves, queued in the outbox
inside the transition's own transaction (the built-in plugin gridcase.plugins.builtin.hotline
calls `on_transition` from `during_transition`): a transition that rolls back answers nothing,
and one that commits has its answers queued, to be delivered with the outbox's retries.

Each answer carries its order's `seq` (1, 2, 3 … per order), so the platform can apply them in
order whatever order the retries deliver them in, and each outbox row's idempotency key, which
a retry sends again, so the platform never applies one answer twice.
"""

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from gridcase.core.db.models import CaseEvent, Evidence, HotlineOrder, Outbox, Report, ReportContact
from gridcase.core.errors import GridcaseError
from gridcase.core.hotline.settings import STEP_NAMES, CitizenNotices, HotlineSettings
from gridcase.core.notify.outbox import outbox_row
from gridcase.core.profile.taxonomy import label_zh

ORDER, OUTBOX, EVENT, EVIDENCE = (t.__table__ for t in (HotlineOrder, Outbox, CaseEvent, Evidence))
REPORT, CONTACT = Report.__table__, ReportContact.__table__
NEXT_SEQ = (
    update(ORDER)
    .where(ORDER.c.id == bindparam("id_"))
    .values(answers=ORDER.c.answers + 1)
    .returning(ORDER.c.answers)
)
# the step that ends an order's answers, and the order's status after it
ENDS = {"return": "returned", "done": "done"}


def queue_answer(
    connection: Connection,
    settings: HotlineSettings,
    order: dict[str, Any],
    step: str,
    body: dict[str, Any],
    text: str,
    now: datetime,
) -> None:
    """Queue one answer to an order, numbered after the order's last."""
    seq = connection.execute(NEXT_SEQ, {"id_": order["id"]}).scalar_one()
    payload = {"order_no": order["order_no"], "step": step, "seq": seq, "at": now.isoformat(), **body}
    connection.execute(
        insert(OUTBOX),
        outbox_row(
            now,
            settings.sender,
            f"hotline:{order['order_no']}",
            order["case_id"],
            f"hotline:{step}",
            f"12345工单{order['order_no']} {STEP_NAMES[step]}：{text}",
            payload,
        ),  # fmt: skip
    )


def on_transition(
    connection: Connection,
    profile: dict[str, Any],
    case: Any,
    transition: Any,
    now: datetime,
    zone: tzinfo,
) -> None:
    """Answer the platform's orders of the case, and tell its reporters, as the transition says.
    `case` and `transition` are the hook's CaseView and TransitionView."""
    settings = HotlineSettings.of(profile)
    if settings is not None and transition.code in settings.steps:
        _answer_orders(connection, settings, case, transition, now, zone)
    notices = CitizenNotices.of(profile)
    if notices is not None and transition.from_state != transition.to_state:
        _tell_citizens(connection, notices, settings, profile, case, transition, now)


def _answer_orders(
    connection: Connection, settings: HotlineSettings, case, transition, now: datetime, zone: tzinfo
) -> None:
    orders = [
        dict(r)
        for r in connection.execute(
            select(ORDER).where(ORDER.c.case_id == case.id, ORDER.c.status == "open").order_by(ORDER.c.id)
        ).mappings()
    ]
    if not orders:
        return
    step = settings.steps[transition.code]
    body: dict[str, Any] = {"transition": transition.code, "name": transition.name}
    if transition.reason:
        body["reason"] = transition.reason
    text = transition.name + (f"（{transition.reason}）" if transition.reason else "")
    if step == "return":
        for order in orders:
            check_return(order, now, zone)
        if not transition.reason:
            raise GridcaseError("missing_requirements", "退单 needs a reason for the 12345 platform")
    elif step == "extension":
        body["amount"] = transition.payload.get("amount")
    elif step == "done":
        body["result"] = transition.reason or _result(connection, case.id, settings)
        body["photos"] = _photos(connection, case.id, settings)
        text = body["result"] or transition.name
    for order in orders:
        photos = [
            {**p, "path": f"/api/v1/hotline/orders/{order['order_no']}/photos/{p['id']}"}
            for p in body.get("photos", ())
        ]
        queue_answer(
            connection, settings, order, step, {**body, **({"photos": photos} if photos else {})}, text, now
        )
        if step in ENDS:
            connection.execute(
                update(ORDER)
                .where(ORDER.c.id == order["id"], ORDER.c.status == "open")
                .values(status=ENDS[step])
            )


def check_return(row: dict[str, Any], now: datetime, zone: tzinfo) -> None:
    """退单 is taken until the order's `return_by`, said in the city's time."""
    if now > row["return_by"]:
        until = row["return_by"].astimezone(zone)
        raise GridcaseError(
            "hotline_return_late",
            f"12345工单{row['order_no']}的退单时限（{until:%Y-%m-%d %H:%M}）已过，不能退单，请按工单办理",
            {"order_no": row["order_no"], "return_by": row["return_by"].isoformat()},
        )


def _result(connection: Connection, case_id: int, settings: HotlineSettings) -> str | None:
    """What the handling said it did: the latest reason of a transition photos are taken from."""
    return connection.execute(
        select(EVENT.c.reason)
        .where(
            EVENT.c.case_id == case_id,
            EVENT.c.transition.in_(settings.photos_from),
            EVENT.c.reason.is_not(None),
        )
        .order_by(EVENT.c.seq.desc())
        .limit(1)
    ).scalar()


def _photos(connection: Connection, case_id: int, settings: HotlineSettings) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(EVIDENCE.c.id, EVIDENCE.c.sha256, EVIDENCE.c.content_type, EVIDENCE.c.filename)
        .join(EVENT, EVENT.c.id == EVIDENCE.c.event_id)
        .where(EVIDENCE.c.case_id == case_id, EVENT.c.transition.in_(settings.photos_from))
        .order_by(EVIDENCE.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def _tell_citizens(
    connection: Connection,
    notices: CitizenNotices,
    hotline: HotlineSettings | None,
    profile: dict[str, Any],
    case,
    transition,
    now: datetime,
) -> None:
    if notices.states is not None and transition.to_state not in notices.states:
        return
    query = (
        select(REPORT.c.id, REPORT.c.token, CONTACT.c.phone)
        .join(CONTACT, CONTACT.c.report_id == REPORT.c.id)
        .where(REPORT.c.case_id == case.id, CONTACT.c.phone.is_not(None))
        .order_by(REPORT.c.id)
    )
    if hotline is not None:  # the platform tells its own callers (and answers for them)
        query = query.where(REPORT.c.channel != hotline.channel)
    reporters = connection.execute(query).all()
    if not reporters:
        return
    state = _state_name(profile, case.workflow, transition.to_state)
    city = label_zh(profile.get("title")) or profile.get("name", "")
    template = notices.template(transition.to_state)
    rows = []
    for reporter in reporters:
        token = reporter.token or f"t{reporter.id}"
        fields = {
            "number": case.number,
            "state": state,
            "reason": transition.reason or "",
            "token": token,
            "city": city,
        }
        rows.append(
            outbox_row(
                now,
                notices.channel,
                f"citizen:{reporter.id}",
                case.id,
                f"citizen:{transition.to_state}",
                _format(template, fields),
                {"phone": reporter.phone, "token": token, "state": transition.to_state},
            )  # fmt: skip
        )
    connection.execute(insert(OUTBOX), rows)


def _state_name(profile: dict[str, Any], workflow: str, state: str) -> str:
    for flow in (profile.get("workflow") or {}).get("workflows", ()):
        if flow.get("code") == workflow:
            for s in flow.get("states", ()):
                if s.get("code") == state:
                    return label_zh(s.get("name")) or state
    return state


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # a field the city misspelt shows as written, never refuses the step


def _format(template: str, fields: dict[str, str]) -> str:
    try:
        return template.format_map(_Fields(fields))
    except (ValueError, IndexError, AttributeError):  # a stray brace: the default says it all the same
        return CitizenNotices.DEFAULT.format_map(_Fields(fields))
