"""宜昌's mechanisms end to end (seed 003). Each test is named after the mechanism it proves."""

from datetime import UTC, datetime, timedelta

import pytest
import shapely

from gridcase.core.cases.evidence import Upload
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.profile.workflow import TransitionError

PHOTO = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]
HOTLINE = Actor.of("operator")
CENTRE = Actor.of("operator", "shift_leader", "dispatcher", "leader")
CST = timedelta(hours=8)


@pytest.fixture
def yichang(city_engine):
    return city_engine("yichang")


def grid_point(engine, n: int = 0) -> list[float]:
    feature = [f for f in engine.profile["grids"]["features"] if f["properties"]["level"] == "unit_grid"][n]
    centre = shapely.geometry.shape(feature["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]


def call(engine, category: str, n: int = 0) -> dict:
    """A call to the one hotline (12345), whatever it is about."""
    report = {
        "channel": "hotline_12345",
        "category": category,
        "kind": "event",
        "point": grid_point(engine, n),
    }
    return engine.case(engine.intake(report, HOTLINE)["case_id"])


def test_the_city_has_the_seeds_structure_and_three_rings(yichang):
    units = yichang.profile["units"]
    kinds = [u.get("kind") for u in units]
    assert kinds.count("centre") == 3
    assert kinds.count("base_unit") == 14  # ring 1
    assert (
        len([u for u in units if u.get("kind") == "district" and u.get("parent") == "yichang"]) == 5
    )  # ring 2
    assert len([u for u in units if u["code"].startswith("member")]) == 48  # ring 3
    assert kinds.count("community") == 33
    grids = [f for f in yichang.profile["grids"]["features"] if f["properties"]["level"] == "unit_grid"]
    assert len(grids) > 1100


def test_the_survey_classes_5_33_components_and_5_45_events_beside_the_two_new_case_types(yichang):
    """The survey (普查) classified the city-managed area's components in 5 major and 33 minor
    classes and its events in 5 and 45; social conflicts and emergencies are case types of their own."""
    from collections import Counter

    surveyed = [key for key, info in yichang.catalogue.classes.items() if "workflow" not in info["minor"]]
    for kind, majors, minors in (("component", 5, 33), ("event", 5, 45)):
        codes = [code for k, code in surveyed if k == kind]
        assert (len({code[:2] for code in codes}), len(codes)) == (majors, minors)
    types = Counter(info["minor"].get("workflow") for info in yichang.catalogue.classes.values())
    assert (types["conflict"], types["emergency"]) == (8, 7)


def test_sanxin_heyi_one_intake_three_case_types(yichang):
    """三心合一: three calls on the one hotline become a city-management case, a social-conflict
    case and an emergency, each in its own workflow."""
    garbage, dispute, burst = call(yichang, "0102"), call(yichang, "0601", 3), call(yichang, "0702", 5)
    assert [c["workflow"] for c in (garbage, dispute, burst)] == ["standard", "conflict", "emergency"]
    assert [c["channel"] for c in (garbage, dispute, burst)] == ["hotline_12345"] * 3
    # each follows its own path: the emergency goes straight to the 24-hour team
    paths = {
        c["workflow"]: {t.code for t in yichang.catalogue.workflows[c["workflow"]].available(c["state"])}
        for c in (garbage, dispute, burst)
    }
    assert paths == {
        "standard": {"send_verify", "accept", "reject", "self_handle", "public_reply"},
        "conflict": {"accept", "reject"},
        "emergency": {"dispatch", "reject"},
    }
    responsible = [u["unit"] for u in burst["units"] if u["role"] == "responsible"]
    assert responsible == ["emergency_team"]


def test_conflict_case_gets_a_leader_a_task_force_and_a_plan(yichang):
    """一包到底: a conflict is assigned only with a leader, a task force (its units) and a plan;
    the task force resolves it, followed up to the end."""
    case_id = call(yichang, "0602", 2)["id"]
    yichang.transition(case_id, "accept", CENTRE)
    with pytest.raises(TransitionError) as refused:
        yichang.transition(case_id, "assign", CENTRE, {"leader": "王副局长", "units": ["community03"]})
    assert refused.value.details == {"missing": ["field 'plan' is required"]}
    plan = {"leader": "王副局长", "units": ["community03", "member07"], "plan": "一周内召开业主协调会"}
    case = yichang.transition(case_id, "assign", CENTRE, plan)
    assert case["state"] == "resolving"
    assert {u["unit"] for u in case["units"] if u["role"] == "handling"} == {"community03", "member07"}
    assign = case["events"][-1]
    assert assign["payload"]["leader"] == "王副局长" and assign["payload"]["plan"] == "一周内召开业主协调会"
    task_force = Actor.of("department", unit="member07")
    yichang.transition(case_id, "follow_up", task_force, reason="已召开第一次协调会")
    with pytest.raises(GridcaseError, match="not dispatched to member08"):
        yichang.transition(case_id, "resolve", Actor.of("department", unit="member08"), reason="无关单位")
    yichang.transition(case_id, "resolve", task_force, reason="双方达成协议")
    assert yichang.transition(case_id, "close", CENTRE)["state"] == "closed"


def test_emergency_team_works_round_the_clock(yichang):
    """The 24-hour emergency team: a pipe burst dispatched on a Saturday at 22:00 is due within
    two hours that night; the same two working hours for a department fall on Monday."""
    saturday_night = datetime(2026, 10, 17, 22, 0) - CST
    yichang.time.set(saturday_night.replace(tzinfo=UTC))
    burst = call(yichang, "0702", 7)["id"]
    case = yichang.transition(burst, "dispatch", CENTRE, {"units": ["emergency_team"]})
    handle = next(c for c in case["clocks"] if c["stage"] == "handle")
    assert handle["deadline"] == (saturday_night + timedelta(hours=2)).replace(tzinfo=UTC)
    team = Actor.of("department", unit="emergency_team")
    assert yichang.transition(burst, "handle", team, uploads=PHOTO)["state"] == "pending_close"
    # switched off: the same rule on an ordinary department's working calendar
    other = call(yichang, "0703", 9)["id"]
    case = yichang.transition(other, "dispatch", CENTRE, {"units": ["member01"]})
    deadline = next(c for c in case["clocks"] if c["stage"] == "handle")["deadline"]
    assert (deadline + CST).weekday() == 0  # Monday, in Beijing time
