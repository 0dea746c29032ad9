"""The bridge's guards, over real HTTP on SQLite and PostgreSQL (the server and the platform of
test_bridge.py): order numbers that cannot break a path, filing that a resend cannot undo, the
platform's answers applied once however often they are sent, a failed 回访 that reopens a case
the order was merged into, and the centre told of every order that waits for it.
"""

import pytest
from sqlalchemy import select, update

from gridcase.core.cases.evidence import Upload
from gridcase.core.db.models import CaseEvent, HotlineOrder, Outbox, Person
from gridcase.core.errors import GridcaseError
from gridcase.core.hotline import orders
from gridcase.core.notify.inbox import addresses, listing
from gridcase.core.people.actor import Actor
from tests.hotline.test_bridge import (
    CENTRE,
    PHOTO,
    _case_id,
    bridge,
    deliver,
    monkeypatch_module,
    order,
)

__all__ = ["bridge", "monkeypatch_module"]  # the module's fixtures, shared with test_bridge.py
ORDER, OUTBOX, EVENT = HotlineOrder.__table__, Outbox.__table__, CaseEvent.__table__
SUPERVISOR, WATER = Actor.of("supervisor"), Actor.of("department", unit="water")


def test_an_order_number_that_could_break_a_path_is_refused_naming_the_field(bridge):
    _, _, _, clients = bridge
    hotline = clients["h12345"]
    for bad in ("GD/2026/1", "GD 1", "工单1", "GD?1", "", "G" * 65):
        sent = hotline.post("/hotline/orders", json=order(bad))
        assert sent.status_code == 422, (bad, sent.text)
        error = sent.json()["error"]
        assert error["details"]["field"] == "order_no" and "order_no" in error["message"], error
    assert hotline.get("/hotline/orders/GD%2F2026%2F1").status_code == 404
    good = hotline.post("/hotline/orders", json=order("GD-2026.10_13", point=[120.64, 31.335]))
    assert good.status_code == 201, good.text
    with pytest.raises(GridcaseError) as refused:  # an in-process caller is held to the same rule
        orders.receive(bridge[0], _platform(bridge[0]), order("GD/9"))
    assert refused.value.code == "invalid_request" and refused.value.details["field"] == "order_no"


def test_a_resend_while_an_operator_files_an_order_never_sets_it_back_to_waiting(bridge, monkeypatch):
    engine, _, _, clients = bridge
    hotline, operator = clients["h12345"], clients["operator"]
    unmapped = order("GD20261013201", category="990001", point=[120.605, 31.305])
    assert hotline.post("/hotline/orders", json=unmapped).json()["status"] == "waiting"

    # the operator's filing has named the class (the order is `new` with it) when the resend comes
    resent: list[dict] = []
    real_intake = orders.intake

    def resend_first(*args, **kwargs):
        monkeypatch.setattr(orders, "intake", real_intake)  # the resend's own filing goes straight
        resent.append(hotline.post("/hotline/orders", json=unmapped).json())
        return real_intake(*args, **kwargs)

    monkeypatch.setattr(orders, "intake", resend_first)
    filed = operator.post("/hotline/orders/GD20261013201/file", json={"category": "0501", "kind": "event"})
    assert filed.status_code == 200, filed.text
    assert resent[0]["status"] == "open" and resent[0]["case_number"] == filed.json()["case_number"]
    assert hotline.get("/hotline/orders/GD20261013201").json()["status"] == "open"

    # a resend that finds the order `new` with the operator's class files it with that class
    second = order("GD20261013202", category="990001", point=[120.615, 31.305])
    hotline.post("/hotline/orders", json=second)
    with engine.db.begin() as connection:
        connection.execute(
            update(ORDER)
            .where(ORDER.c.order_no == "GD20261013202")
            .values(status="new", sent={**second, "class": "0501", "kind": "event"})
        )
    again = hotline.post("/hotline/orders", json=second)
    assert again.status_code == 200 and again.json()["status"] == "open", again.text
    assert engine.case(_case_id(engine, again.json()["case_number"]))["class_code"] == "0501"
    late = operator.post("/hotline/orders/GD20261013202/file", json={"category": "0501", "kind": "event"})
    assert late.status_code == 409


def test_the_platforms_answers_resent_are_applied_once_and_answered_as_the_first_time(bridge):
    engine, _, _, clients = bridge
    hotline = clients["h12345"]
    made = hotline.post("/hotline/orders", json=order("GD20261013301", point=[120.625, 31.335])).json()
    case_id = _case_id(engine, made["case_number"])
    _walk_to_close(engine, case_id, "0101", "component", "water", WATER)
    deliver(engine, 1)

    for _ in range(2):
        extension = hotline.post("/hotline/orders/GD20261013301/extension", json={"approved": False})
        assert extension.status_code == 200 and extension.json()["recorded"], extension.text
    visits = [
        hotline.post("/hotline/orders/GD20261013301/visit", json={"satisfied": False, "note": "未修好"})
        for _ in range(3)
    ]
    assert [v.status_code for v in visits] == [200] * 3, visits[-1].text
    assert visits[0].json()["reopened"] is True
    assert [v.json() for v in visits[1:]] == [visits[0].json()] * 2
    changed = hotline.post("/hotline/orders/GD20261013301/visit", json={"satisfied": True})
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"
    assert _events(engine, case_id).count("hotline_visit") == 1
    assert _events(engine, case_id).count("hotline_extension") == 1
    assert _events(engine, case_id).count("reopen") == 1

    # the case closed again is a new 办结: its 回访 is a new one
    engine.transition(case_id, "check_pass", SUPERVISOR, uploads=[Upload("c2.jpg", PHOTO + b"c2")])
    engine.transition(case_id, "close", CENTRE)
    deliver(engine, 1)
    second = hotline.post("/hotline/orders/GD20261013301/visit", json={"satisfied": True})
    assert second.status_code == 200 and second.json()["reopened"] is False, second.text
    assert _events(engine, case_id).count("hotline_visit") == 2


def test_a_failed_visit_reopens_the_case_an_order_was_merged_into(bridge):
    engine, _, _, clients = bridge
    hotline = clients["h12345"]
    point = [120.635, 31.305]
    first = engine.intake(
        {"channel": "app", "point": point, "category": "0501", "kind": "event"}, Actor.of("citizen", id=3)
    )
    merged = hotline.post("/hotline/orders", json=order("GD20261013401", category="120301", point=point))
    assert merged.json()["case_number"] == first["number"], merged.text  # deduplicated into it
    _walk_to_close(
        engine, first["case_id"], "0501", "event", "city_admin", Actor.of("department", unit="city_admin")
    )
    visit = hotline.post("/hotline/orders/GD20261013401/visit", json={"satisfied": False, "note": "仍有游商"})
    assert visit.status_code == 200 and visit.json()["reopened"] is True, visit.text
    assert engine.case(first["case_id"])["state"] == "pending_check"


def test_an_order_that_waits_tells_the_centre_in_its_inbox(bridge):
    engine, _, _, clients = bridge
    hotline = clients["h12345"]
    for _ in range(2):  # a resend tells nobody again
        hotline.post(
            "/hotline/orders", json=order("GD20261013501", category="990003", category_name="违章搭建")
        )
    hotline.post("/hotline/orders", json={"order_no": "GD20261013502", "category": "110101"})
    with engine.db.connect() as connection:
        notices = connection.execute(
            select(OUTBOX.c.recipient, OUTBOX.c.text, OUTBOX.c.payload)
            .where(OUTBOX.c.event == "hotline:waiting")
            .order_by(OUTBOX.c.id)
        ).all()
        operator = (
            connection.execute(select(Person.__table__).where(Person.__table__.c.username == "operator"))
            .mappings()
            .one()
        )
    mine = [n for n in notices if n.payload["order_no"] in ("GD20261013501", "GD20261013502")]
    assert [n.recipient for n in mine] == ["role:centre", "role:centre"]
    assert "GD20261013501" in mine[0].text and "类别" in mine[0].text and "违章搭建" in mine[0].text
    assert "GD20261013502" in mine[1].text and "位置" in mine[1].text
    inbox = listing(engine.db, addresses(engine.city, operator["id"], ["operator"], None), operator["id"])
    shown = [r["text"] for r in inbox["rows"] if r["event"] == "hotline:waiting"]
    assert [t for t in shown if "GD20261013501" in t] == [mine[0].text]
    assert [t for t in shown if "GD20261013502" in t] == [mine[1].text]


def _walk_to_close(engine, case_id: int, category: str, kind: str, unit: str, handler: Actor) -> None:
    engine.transition(case_id, "send_verify", CENTRE)
    engine.transition(
        case_id, "verify", SUPERVISOR, uploads=[Upload("v.jpg", PHOTO + bytes([case_id % 256]))]
    )
    filed = {"category": category, "kind": kind, **({"standard": "damaged"} if kind == "component" else {})}
    engine.transition(case_id, "file", CENTRE, payload=filed)
    engine.transition(case_id, "dispatch", CENTRE, payload={"units": [unit]})
    engine.transition(case_id, "sign", handler)
    engine.transition(case_id, "handle", handler, reason="已处理", uploads=[Upload("a.jpg", PHOTO + b"a")])
    engine.transition(case_id, "check_pass", SUPERVISOR, uploads=[Upload("c.jpg", PHOTO + b"c")])
    engine.transition(case_id, "close", CENTRE)


def _events(engine, case_id: int) -> list[str]:
    return [e["transition"] for e in engine.case(case_id)["events"]]


def _platform(engine) -> Actor:
    with engine.db.connect() as connection:
        person = connection.execute(
            select(Person.__table__.c.id).where(Person.__table__.c.username == "h12345")
        ).scalar_one()
    return Actor.of("hotline", id=person)
