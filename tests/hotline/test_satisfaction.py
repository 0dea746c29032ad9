"""Closing the loop outward, in the test city with a 12345 bridge (tests/hotline/city), on SQLite
and PostgreSQL: a closing sends each reporter who left a phone the satisfaction survey's link,
once per closing, where the city says so; the platform's 回访 result counts in the same
satisfaction figures as the reporter's survey, one answer per closing."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gridcase.core.assess.assessor import Assessor
from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.models import Outbox
from gridcase.core.engine import Engine
from gridcase.core.hotline import orders
from gridcase.core.people.actor import SYSTEM, Actor
from gridcase.core.places.units import add_person
from gridcase.core.profile.workflow import TransitionError
from gridcase.core.timesource import ManualTime
from gridcase.public_site.plugin import _followed
from tests.conftest import change_setting
from tests.hotline.test_bridge import CENTRE, CITY, PHOTO, _case_id, order
from tests.hotline.test_bridge_guards import SUPERVISOR, WATER, _walk_to_close

OUTBOX = Outbox.__table__
CITIZEN = Actor.of("citizen")


@pytest.fixture
def city(db_url, tmp_path):
    engine = Engine.open(
        CITY, db_url, time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence", max_bytes=200_000),
    )  # fmt: skip
    engine.load_reference_data()
    platform = Actor.of("hotline", id=add_person(engine.db, "h12345", "12345平台", ["hotline"]))
    yield engine, platform
    engine.db.dispose()


def spot(i: int) -> list[float]:
    """A point of its own for case i: more than the 30 m within which reports make one case."""
    return [120.602 + 0.001 * i, 31.322]


def report(engine, i: int, phone: str | None, channel: str = "app", actor: Actor = CITIZEN) -> dict:
    contact = {"contact": {"phone": phone}} if phone is not None else {}
    sent = {"channel": channel, "point": spot(i), "category": "0101", "kind": "component", **contact}
    return engine.intake(sent, actor)


def close(engine, case_id: int) -> None:
    _walk_to_close(engine, case_id, "0101", "component", "water", WATER)


def survey_links(engine, case_id: int | None = None) -> list[dict]:
    query = select(OUTBOX).where(OUTBOX.c.event == "citizen:survey").order_by(OUTBOX.c.id)
    if case_id is not None:
        query = query.where(OUTBOX.c.case_id == case_id)
    with engine.db.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def test_a_closing_sends_the_survey_link_once_to_the_phone_the_reporter_left(city):
    engine, _ = city
    made = report(engine, 1, "138 0000-2222")
    caller = report(engine, 1, "13900003333", channel="hotline_12345", actor=CENTRE)  # the platform's
    assert caller["case_id"] == made["case_id"]
    close(engine, made["case_id"])

    (link,) = survey_links(engine)
    assert link["recipient"] == f"citizen:{made['report_id']}" and link["channel"] == "sms"
    assert link["payload"]["phone"] == "13800002222"
    path = f"https://12319.example.gov.cn/public/follow/{made['token']}#survey"
    assert link["payload"]["link"] == path and path in link["text"] and made["number"] in link["text"]
    assert "30天内" in link["text"] and "2222" not in link["text"]
    # the phone is nowhere the follow page's holder reads
    assert "2222" not in repr(_followed(engine, made["token"]))

    # a step on the closed case is no closing; the case reopened and closed again is a new one
    engine.transition(made["case_id"], "public_reply", CENTRE, payload={"reply": "已更换井盖"})
    assert len(survey_links(engine)) == 1
    engine.transition(made["case_id"], "reopen", SYSTEM, reason="井盖又松了")
    engine.transition(made["case_id"], "check_pass", SUPERVISOR, uploads=[Upload("c2.jpg", PHOTO + b"2")])
    engine.transition(made["case_id"], "close", CENTRE)
    assert [r["payload"]["phone"] for r in survey_links(engine)] == ["13800002222"] * 2


def test_no_survey_link_where_the_city_sends_none_nor_to_a_case_turned_away(city):
    engine, _ = city
    change_setting(engine, "public", survey_sms=False)
    close(engine, report(engine, 2, "13800002222")["case_id"])
    change_setting(engine, "public", survey_sms=True, survey_days=None)  # no survey at all
    close(engine, report(engine, 3, "13800002222")["case_id"])
    change_setting(engine, "public", survey_days=30)
    turned_away = report(engine, 4, "13800002222")["case_id"]
    engine.transition(turned_away, "reject", CENTRE, reason="不属于城市管理问题")
    assert survey_links(engine) == []
    close(engine, report(engine, 5, "13800002222")["case_id"])
    assert len(survey_links(engine)) == 1


@pytest.mark.parametrize(
    "phone", ["13800001111,13900002222", "13800001111<script>", "请打座机", "+86 138 0000 1111 转 8", "123"]
)
def test_a_hostile_or_missing_phone_gets_no_sms(city, phone):
    engine, _ = city
    hostile, missing = report(engine, 6, phone), report(engine, 7, None)
    for made in (hostile, missing):
        close(engine, made["case_id"])
    with engine.db.connect() as connection:
        texts = connection.execute(select(OUTBOX.c.id).where(OUTBOX.c.recipient.like("citizen:%"))).all()
    assert texts == []


def test_the_platforms_visit_counts_in_the_satisfaction_figures_once_per_closing(city):
    engine, platform = city

    def hotline_case(i: int, number: str) -> int:
        filed = orders.receive(engine, platform, order(number, point=spot(10 + i)))[0]
        case_id = _case_id(engine, filed["case_number"])
        close(engine, case_id)
        return case_id

    satisfied, unsatisfied = hotline_case(1, "GD1"), hotline_case(2, "GD2")
    orders.visited(engine, platform, "GD1", {"satisfied": True})
    assert orders.visited(engine, platform, "GD2", {"satisfied": False, "note": "仍松动"})["reopened"]
    # a case the platform's order was merged into: the reporter's survey, then the 回访
    surveyed = report(engine, 13, "13800002222")
    orders.receive(engine, platform, order("GD3", point=spot(13)))
    close(engine, surveyed["case_id"])
    engine.transition(surveyed["case_id"], "survey", SYSTEM, payload={"satisfaction": "basically"})
    orders.visited(engine, platform, "GD3", {"satisfied": True})
    # and the 回访 first: the reporter's survey of that closing is refused
    visited = report(engine, 14, "13900004444")
    orders.receive(engine, platform, order("GD4", point=spot(14)))
    close(engine, visited["case_id"])
    orders.visited(engine, platform, "GD4", {"satisfied": True})
    with pytest.raises(TransitionError) as refused:
        engine.transition(visited["case_id"], "survey", SYSTEM, payload={"satisfaction": "unsatisfied"})
    assert "answered already" in refused.value.message
    found = _followed(engine, visited["token"])
    assert found is not None and found["visited"] and not found["can_survey"]

    result = Assessor(engine).assess("2026-10", by="unit")
    values = next(o for o in result["objects"] if o["code"] == "water")["values"]
    # by hand: GD1 满意, GD2 不满意, the merged case's survey 基本满意 (its 回访 after it is kept,
    # not counted), GD4's 回访 满意: 4 answers, (2 + 1) / 4
    figures = ("surveyed", "satisfied", "basically_satisfied", "unsatisfied", "reopened")
    assert [values[f] for f in figures] == [4, 2, 1, 1, 1]
    assert values["satisfaction_rate"] == 0.75
    assert [result["totals"][f] for f in figures] == [4, 2, 1, 1, 1]
    visits = [e for e in engine.case(surveyed["case_id"])["events"] if e["transition"] == "hotline_visit"]
    assert [e["payload"].get("satisfaction") for e in visits] == [None]
    assert unsatisfied != satisfied
