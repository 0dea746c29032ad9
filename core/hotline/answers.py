"""What gridcase tells the 12345 platform and the citizens as a case moves, queued in the outbox
inside the transition's own transaction (the built-in plugin gridcase.plugins.builtin.hotline
calls `on_transition` from `during_transition`): a transition that rolls back answers nothing,
and one that commits has its answers queued, to be delivered with the outbox's retries.

A case's closing also sends each reporter who left a phone the satisfaction survey's link (their
follow page, `public.survey.sms`), once per closing: the transition that closes it is its only
sender. A phone that is not one number (words, two numbers, markup) gets no SMS.

Each answer carries its order's `seq` (1, 2, 3 … per order), so the platform can apply them in
order whatever order the retries deliver them in, and each outbox row's idempotency key, which
a retry sends again, so the platform never applies one answer twice.
"""

import re
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from gridcase.core.cases.scope import voided_states
from gridcase.core.city import CityProfile
from gridcase.core.db.models import CaseEvent, Evidence, HotlineOrder, Outbox, Report, ReportContact
from gridcase.core.errors import GridcaseError
from gridcase.core.hotline.settings import STEP_NAMES, CitizenNotices, HotlineSettings
from gridcase.core.notify.outbox import outbox_row
from gridcase.core.profile.workflow import Workflow, workflows

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
SURVEY_EVENT = "citizen:survey"  # the outbox event of the survey's link (a state's notice: citizen:<state>)
SMS_NUMBER = re.compile(r"\+?[0-9]{7,15}")


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
    connection: Connection, city: CityProfile, case: Any, transition: Any, now: datetime
) -> None:
    """Answer the platform's orders of the case, and tell its reporters, as the transition says.
    `case` and `transition` are the hook's CaseView and TransitionView."""
    settings = city.section(HotlineSettings.of)
    if settings is not None and transition.code in settings.steps:
        _answer_orders(connection, settings, case, transition, now, city.timezone)
    notices = city.section(CitizenNotices.of)
    if notices is None or transition.from_state == transition.to_state:
        return
    workflow = city.section(workflows)[case.workflow]
    told = notices.states is None or transition.to_state in notices.states
    surveyed = (
        city.public.survey_sms and city.public.survey_days is not None and _opens_survey(workflow, transition)
    )
    reporters = _reporters(connection, case.id, settings) if told or surveyed else []
    if told:
        _tell_citizens(connection, notices, city, workflow, reporters, case, transition, now)
    if surveyed:
        _send_survey_link(connection, notices, city, reporters, case, now)


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


def sms_number(phone: str | None) -> str | None:
    """The number an SMS may go to: 7 to 15 digits after an optional +, spaces and hyphens
    dropped. Anything else (words, two numbers, markup) is None: no SMS, rather than a guess."""
    number = re.sub(r"[\s-]", "", phone or "")
    return number if SMS_NUMBER.fullmatch(number) else None


def _reporters(connection: Connection, case_id: int, hotline: HotlineSettings | None) -> list[dict[str, Any]]:
    """The case's reports whose reporter left a phone an SMS may go to: id, token and number."""
    query = (
        select(REPORT.c.id, REPORT.c.token, CONTACT.c.phone)
        .join(CONTACT, CONTACT.c.report_id == REPORT.c.id)
        .where(REPORT.c.case_id == case_id, CONTACT.c.phone.is_not(None))
        .order_by(REPORT.c.id)
    )
    if hotline is not None:  # the platform tells its own callers (and calls them back: 回访)
        query = query.where(REPORT.c.channel != hotline.channel)
    found = ((r, sms_number(r.phone)) for r in connection.execute(query))
    return [{"id": r.id, "token": r.token, "phone": number} for r, number in found if number]


def _tell_citizens(
    connection: Connection,
    notices: CitizenNotices,
    city: CityProfile,
    workflow: Workflow,
    reporters: list[dict[str, Any]],
    case,
    transition,
    now: datetime,
) -> None:
    if not reporters:
        return
    template = notices.template(transition.to_state)
    rows = []
    for reporter in reporters:
        token = reporter["token"] or f"t{reporter['id']}"
        fields = {
            "number": case.number,
            "state": workflow.states[transition.to_state].name or transition.to_state,
            "reason": transition.reason or "",
            "token": token,
            "city": _city_name(city),
        }
        text = _format(template, fields, CitizenNotices.DEFAULT)
        extra = {"token": token, "state": transition.to_state}
        event = f"citizen:{transition.to_state}"
        rows.append(_to_reporter(now, notices, reporter, case.id, event, text, extra))
    connection.execute(insert(OUTBOX), rows)


def _to_reporter(
    now: datetime,
    notices: CitizenNotices,
    reporter: dict[str, Any],
    case_id: int,
    event: str,
    text: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The outbox row of a text to a reporter: their phone travels in the payload, never the text."""
    recipient, payload = f"citizen:{reporter['id']}", {"phone": reporter["phone"], **payload}
    return outbox_row(now, notices.channel, recipient, case_id, event, text, payload)


def _opens_survey(workflow: Workflow, transition) -> bool:
    """Whether the transition closes the case into a state the survey is taken from (a closing,
    not a step on a closed case, nor a case turned away: the follow page's rule)."""
    survey = workflow.transitions.get("survey")
    return (
        survey is not None
        and transition.from_state is not None
        and workflow.kind_of(transition.from_state) == "open"
        and workflow.kind_of(transition.to_state) == "closed"
        and transition.to_state in survey.sources
        and transition.to_state not in voided_states(workflow)
    )


def _send_survey_link(
    connection: Connection,
    notices: CitizenNotices,
    city: CityProfile,
    reporters: list[dict[str, Any]],
    case,
    now: datetime,
) -> None:
    """The survey's link (the report's follow page) to each reporter who can follow their report."""
    rows = []
    for reporter in (r for r in reporters if r["token"]):
        link = f"{city.public.address}/public/follow/{reporter['token']}#survey"
        fields = {
            "number": case.number,
            "token": reporter["token"],
            "link": link,
            "days": str(city.public.survey_days),
            "city": _city_name(city),
        }
        text = _format(notices.survey, fields, CitizenNotices.SURVEY)
        extra = {"token": reporter["token"], "link": link}
        rows.append(_to_reporter(now, notices, reporter, case.id, SURVEY_EVENT, text, extra))
    if rows:
        connection.execute(insert(OUTBOX), rows)


def _city_name(city: CityProfile) -> str:
    return city.title_zh or city.name


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # a field the city misspelt shows as written, never refuses the step


def _format(template: str, fields: dict[str, str], default: str) -> str:
    try:
        return template.format_map(_Fields(fields))
    except (ValueError, IndexError, AttributeError):  # a stray brace: the default says it all the same
        return default.format_map(_Fields(fields))
