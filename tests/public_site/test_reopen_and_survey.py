""" "Not fixed" (the reopen transition) and the satisfaction survey on the engine, in the test city:
within the city's days of closing, off where the city says so, the survey once per closing."""

from datetime import timedelta

import pytest

from gridcase.core.cases.evidence import Upload
from gridcase.core.people.actor import SYSTEM, Actor
from gridcase.core.profile.workflow import TransitionError

from ..conftest import change_setting

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)
PHOTO = [Upload("现场.jpg", JPEG)]
STREET1 = [120.61, 31.337]
supervisor = Actor.of("supervisor", grids={"320508001"})
operator, leader, dispatcher = Actor.of("operator"), Actor.of("shift_leader"), Actor.of("dispatcher")
water = Actor.of("department", unit="water")


def closed_case(engine) -> int:
    case_id = engine.intake(
        {"channel": "patrol", "point": STREET1, "category": "0101", "kind": "component"}, supervisor
    )["case_id"]
    for code, actor, payload, uploads in (
        ("accept", operator, None, ()),
        ("file", leader, {"category": "0101", "kind": "component", "standard": "missing"}, ()),
        ("dispatch", dispatcher, {"units": ["water"]}, ()),
        ("sign", water, None, ()),
        ("handle", water, None, PHOTO),
        ("check_pass", supervisor, None, PHOTO),
        ("close", leader, None, ()),
    ):
        engine.transition(case_id, code, actor, payload=payload, uploads=uploads)
    return case_id


def test_not_fixed_reopens_a_closed_case_for_a_check_then_rework(engine):
    case_id = closed_case(engine)
    engine.time.advance(days=6, hours=23)
    case = engine.transition(case_id, "reopen", SYSTEM, reason="井盖还是没有装")
    assert (case["state"], case["state_kind"], case["closed_at"]) == ("pending_check", "open", None)
    assert [c["stage"] for c in case["clocks"] if c["status"] == "running"] == ["check"]
    assert case["events"][-1]["unit"] == "water"  # assessment counts it against the handler
    case = engine.transition(case_id, "rework", supervisor, reason="确未修复", uploads=PHOTO)
    assert case["state"] == "handling"


def test_not_fixed_after_the_citys_days_or_where_it_is_off_is_refused(engine):
    case_id = closed_case(engine)
    engine.time.advance(days=7, minutes=1)
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "reopen", SYSTEM, reason="没修好")
    assert info.value.code == "guard_refused" and "within 7 days" in info.value.message
    change_setting(engine, "public", reopen_days=30)
    assert engine.transition(case_id, "reopen", SYSTEM, reason="没修好")["state"] == "pending_check"
    other = closed_case(engine)
    change_setting(engine, "public", reopen_days=None)
    with pytest.raises(TransitionError) as info:
        engine.transition(other, "reopen", SYSTEM, reason="没修好")
    assert "does not take" in info.value.message
    assert engine.case(other)["state"] == "closed"


def test_the_survey_is_answered_once_per_closing_within_its_days(engine):
    case_id = closed_case(engine)
    case = engine.transition(case_id, "survey", SYSTEM, payload={"satisfaction": "satisfied"})
    assert case["state"] == "closed" and case["events"][-1]["payload"] == {"satisfaction": "satisfied"}
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "survey", SYSTEM, payload={"satisfaction": "unsatisfied"})
    assert "answered already" in info.value.message
    later = closed_case(engine)
    engine.time.advance(days=30, minutes=1)
    with pytest.raises(TransitionError) as info:
        engine.transition(later, "survey", SYSTEM, payload={"satisfaction": "satisfied"})
    assert "within 30 days" in info.value.message
    assert engine.time.now() - engine.case(later)["closed_at"] > timedelta(days=30)
