"""泰州's mechanisms end to end (seed 001). Each test is named after the mechanism it proves."""

import pytest
import shapely
from sqlalchemy import func, select

from gridcase.core.cases.evidence import Upload
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Outbox
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person

from ...conftest import change_setting

PHOTO = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]
SUPERVISION = Actor.of("operator", "shift_leader")
COMMAND = Actor.of("dispatcher")


@pytest.fixture
def taizhou(city_engine):
    return city_engine("taizhou")


def point_in_street(engine, n: int) -> list[float]:
    feature = [f for f in engine.profile["grids"]["features"] if f["properties"]["level"] == "unit_grid"][
        n * 12
    ]
    centre = shapely.geometry.shape(feature["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]


def filed(engine, n: int = 0) -> int:
    """A supervisor's report, accepted and filed by the supervision hall."""
    report = {"channel": "patrol", "category": "0102", "kind": "event", "point": point_in_street(engine, n)}
    case_id = engine.intake(report, Actor.of("supervisor"))["case_id"]
    engine.transition(case_id, "accept", SUPERVISION)
    engine.transition(case_id, "file", SUPERVISION, {"category": "0102", "kind": "event"})
    return case_id


def handled(engine, case_id: int, dispatcher: Actor, unit: str) -> None:
    engine.transition(case_id, "dispatch", dispatcher, {"units": [unit]})
    worker = Actor.of("department", unit=unit)
    engine.transition(case_id, "sign", worker)
    engine.transition(case_id, "handle", worker, uploads=PHOTO)
    engine.transition(case_id, "check_pass", Actor.of("supervisor"), uploads=PHOTO)


def test_the_city_has_the_seeds_four_levels_of_platforms(taizhou):
    kinds = [u.get("kind") for u in taizhou.profile["units"]]
    assert kinds.count("district") - 1 + kinds.count("department") == 36  # 二级 platforms, the city aside
    assert kinds.count("street") == 23 and kinds.count("community") == 8  # 三级 and 四级
    assert kinds.count("contractor") == 3


def test_jianguan_fenli_no_one_dispatches_and_closes_one_case(taizhou):
    """监管分离: a person on duty in both halls dispatches a case; they may not close it, and a
    colleague of the supervision hall may."""
    both = add_person(taizhou.db, "duty_leader", "值班领导", ["dispatcher", "shift_leader"])
    colleague = add_person(taizhou.db, "shift_li", "值班长李", ["shift_leader"])
    on_duty = Actor.of("dispatcher", "shift_leader", id=both)
    case_id = filed(taizhou)
    handled(taizhou, case_id, on_duty, "street01")
    with pytest.raises(GridcaseError, match="监管分离") as refused:
        taizhou.transition(case_id, "close", on_duty)
    assert refused.value.code == "forbidden" and refused.value.details == {"fired": "dispatch"}
    assert taizhou.case(case_id)["state"] == "pending_close"
    assert taizhou.transition(case_id, "close", Actor.of("shift_leader", id=colleague))["state"] == "closed"


def test_jianguan_fenli_switched_off_one_person_may_do_both(taizhou, switch_off):
    switch_off(taizhou, "standard", separate=())
    both = add_person(taizhou.db, "duty_leader", "值班领导", ["dispatcher", "shift_leader"])
    on_duty = Actor.of("dispatcher", "shift_leader", id=both)
    case_id = filed(taizhou)
    handled(taizhou, case_id, on_duty, "street01")
    assert taizhou.transition(case_id, "close", on_duty)["state"] == "closed"


def test_cascade_dispatch_two_three_four(taizhou):
    """二级指挥、三级考核、四级联动: the centre dispatches to 海陵区's platform, which hands the case
    to a street office, which hands it to a community; the community handles it."""
    case_id = filed(taizhou)
    taizhou.transition(case_id, "dispatch", COMMAND, {"units": ["hailing"]})
    taizhou.transition(case_id, "redispatch", Actor.of("department", unit="hailing"), {"units": ["street01"]})
    taizhou.transition(
        case_id, "redispatch", Actor.of("department", unit="street01"), {"units": ["community1"]}
    )
    community = Actor.of("department", unit="community1")
    taizhou.transition(case_id, "sign", community)
    case = taizhou.transition(case_id, "handle", community, uploads=PHOTO)
    assert case["state"] == "pending_check"
    chain = [u["unit"] for u in case["units"] if u["role"] == "handling"]
    assert chain == ["hailing", "street01", "community1"]
    # the handling clock counts against the platform the centre dispatched to
    handle = next(c for c in case["clocks"] if c["stage"] == "handle")
    assert handle["owner"] == "hailing"


def test_cascade_dispatch_only_down_the_platforms_own_line(taizhou):
    case_id = filed(taizhou)
    taizhou.transition(case_id, "dispatch", COMMAND, {"units": ["hailing"]})
    # street09 is 高港区's: 海陵区's platform cannot hand a case to it
    with pytest.raises(GridcaseError, match="not below hailing"):
        taizhou.transition(
            case_id, "redispatch", Actor.of("department", unit="hailing"), {"units": ["street09"]}
        )
    # and a platform the case was not dispatched to cannot act on it
    with pytest.raises(GridcaseError, match="not dispatched to gaogang"):
        taizhou.transition(case_id, "sign", Actor.of("department", unit="gaogang"))


def test_xiaowenti_self_handling_never_enters_the_big_loop(taizhou):
    """小问题不走大循环: a supervisor fixes a small problem with a photo; the centre approves it
    and the case closes without filing or dispatch, counted to the supervisor."""
    supervisor_id = add_person(taizhou.db, "sup_wang", "监督员王", ["supervisor"])
    supervisor = Actor.of("supervisor", id=supervisor_id)
    report = {"channel": "patrol", "category": "0201", "kind": "event", "point": point_in_street(taizhou, 2)}
    case_id = taizhou.intake(report, supervisor)["case_id"]
    taizhou.transition(case_id, "self_handle", supervisor, uploads=PHOTO)
    case = taizhou.transition(case_id, "self_approve", SUPERVISION)
    assert case["state"] == "closed"
    assert [e["transition"] for e in case["events"]] == ["report", "self_handle", "self_approve"]
    assert not [u for u in case["units"] if u["role"] == "handling"]


def test_overdue_filing_sends_an_sms_alert(taizhou):
    """案件立案超时短信提醒: a case accepted and not filed within 30 minutes turns red, and the
    shift leaders get an SMS; other rungs keep the usual channel."""
    report = {"channel": "patrol", "category": "0102", "kind": "event", "point": point_in_street(taizhou, 1)}
    late = taizhou.intake(report, Actor.of("supervisor"))["case_id"]
    taizhou.transition(late, "accept", SUPERVISION)
    on_time = filed(taizhou, 3)
    taizhou.time.advance(minutes=31)
    taizhou.sweep(taizhou.time.now())
    rows = outbox(taizhou)
    sms = [r for r in rows if r["channel"] == "sms"]
    assert [(r["case_id"], r["recipient"]) for r in sms] == [(late, "role:shift_leader")]
    assert "立案" in sms[0]["text"]
    assert not [r for r in rows if r["case_id"] == on_time]


def _verification_sent(taizhou, supervisor_grids: int) -> tuple[int, int, int]:
    """A hotline report in the first street, sent to the supervisor of its grids for verification;
    another supervisor patrols elsewhere. Returns the case and both supervisors."""
    grids = [
        f["properties"]["code"]
        for f in taizhou.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid"
    ]
    ours = add_person(taizhou.db, "sup_qian", "监督员钱", ["supervisor"], grids=grids[:supervisor_grids])
    theirs = add_person(taizhou.db, "sup_sun", "监督员孙", ["supervisor"], grids=grids[60:72])
    report = {
        "channel": "hotline_88012319",
        "category": "0102",
        "kind": "event",
        "point": point_in_street(taizhou, 0),
    }
    case_id = taizhou.intake(report, Actor.of("operator"))["case_id"]
    taizhou.transition(case_id, "send_verify", SUPERVISION)
    return case_id, ours, theirs


def test_task_timeout_alerts_the_supervisor_who_let_the_task_run_over(taizhou):
    """监督员任务超时提醒: a verification task not done within its 30 minutes turns red; the
    supervisor responsible for the case's grid is told, and the shift leaders, and no one else."""
    case_id, ours, theirs = _verification_sent(taizhou, 12)
    taizhou.time.advance(minutes=20)
    taizhou.sweep(taizhou.time.now())
    assert not [r for r in outbox(taizhou) if r["event"].endswith(":task_timeout")]  # still in time
    taizhou.time.advance(minutes=15)
    taizhou.sweep(taizhou.time.now())
    alerts = [r for r in outbox(taizhou) if r["event"].endswith(":task_timeout")]
    assert sorted(r["recipient"] for r in alerts) == [f"person:{ours}", "role:shift_leader"]
    assert all(r["case_id"] == case_id and "核实" in r["text"] for r in alerts)
    assert f"person:{theirs}" not in {r["recipient"] for r in outbox(taizhou)}


def test_task_timeout_switched_off_no_alert(taizhou):
    change_setting(
        taizhou, escalation=tuple(r for r in taizhou.city.escalation if r["code"] != "task_timeout")
    )
    _verification_sent(taizhou, 12)
    taizhou.time.advance(minutes=35)
    taizhou.sweep(taizhou.time.now())
    assert not [r for r in outbox(taizhou) if r["event"].endswith(":task_timeout")]


def test_repair_team_is_paid_only_after_the_centre_confirms(taizhou):
    """Contracted repair teams: the centre dispatches to a team chosen by tender, and records the
    payment only once the case is checked and closed."""
    case_id = filed(taizhou, 4)
    handled(taizhou, case_id, COMMAND, "repair_roads")
    with pytest.raises(GridcaseError, match="cannot be fired from state 'pending_close'"):
        taizhou.transition(case_id, "confirm_payment", COMMAND, {"payment": "¥1,200"}, "核查合格")
    taizhou.transition(case_id, "close", SUPERVISION)
    case = taizhou.transition(case_id, "confirm_payment", COMMAND, {"payment": "¥1,200"}, "核查合格，付款")
    assert case["state"] == "closed"
    paid = case["events"][-1]
    assert paid["transition"] == "confirm_payment" and paid["payload"] == {"payment": "¥1,200"}
    assert paid["unit"] == "repair_roads"


def outbox(engine) -> list[dict]:
    with read(engine.db) as connection:
        return [dict(r) for r in connection.execute(select(Outbox.__table__)).mappings()]


def test_yuejie_a_supervisor_reporting_outside_their_grids_raises_an_alert(taizhou):
    """监督员越界提醒: a supervisor's report outside their responsibility grid is kept, and the
    shift leaders are told; a report inside it raises nothing."""
    grids = [
        f["properties"]["code"]
        for f in taizhou.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid"
    ]
    supervisor_id = add_person(taizhou.db, "sup_zhao", "监督员赵", ["supervisor"], grids=grids[:12])
    supervisor = Actor(
        supervisor_id, frozenset({"supervisor"}), grids=frozenset(grids[:12]), username="sup_zhao"
    )
    inside = taizhou.intake(
        {"channel": "patrol", "category": "0102", "kind": "event", "point": point_in_street(taizhou, 0)},
        supervisor,
    )
    outside = taizhou.intake(
        {"channel": "patrol", "category": "0102", "kind": "event", "point": point_in_street(taizhou, 5)},
        supervisor,
    )
    alerts = [r for r in outbox(taizhou) if r["event"] == "out_of_grid"]
    assert [(a["case_id"], a["recipient"]) for a in alerts] == [(outside["case_id"], "role:shift_leader")]
    assert "越界" in alerts[0]["text"] and "sup_zhao" in alerts[0]["text"]
    assert taizhou.case(outside["case_id"])["state"] == "reported" and inside["case_id"]


def test_yuejie_switched_off_no_alert(taizhou):
    change_setting(taizhou, "intake", out_of_grid=None)
    grids = [
        f["properties"]["code"]
        for f in taizhou.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid"
    ]
    supervisor = Actor(None, frozenset({"supervisor"}), grids=frozenset(grids[:12]))
    taizhou.intake(
        {"channel": "patrol", "category": "0102", "kind": "event", "point": point_in_street(taizhou, 5)},
        supervisor,
    )
    assert not [r for r in outbox(taizhou) if r["event"] == "out_of_grid"]


def test_yuejie_refused_when_the_city_refuses_out_of_grid_reports(taizhou):
    """`out_of_grid: {action: refuse}`: the report is turned away with a clear error and nothing
    is written."""
    change_setting(taizhou, "intake", out_of_grid={"action": "refuse"})
    grids = [
        f["properties"]["code"]
        for f in taizhou.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid"
    ]
    supervisor = Actor(None, frozenset({"supervisor"}), grids=frozenset(grids[:12]))
    report = {"channel": "patrol", "category": "0102", "kind": "event", "point": point_in_street(taizhou, 5)}
    with pytest.raises(GridcaseError, match="outside your responsibility grids") as refused:
        taizhou.intake(report, supervisor)
    assert refused.value.code == "out_of_grid"
    with read(taizhou.db) as connection:
        assert connection.execute(select(func.count()).select_from(Case.__table__)).scalar_one() == 0
    assert outbox(taizhou) == []


def _snapshots(engine) -> list[dict]:
    from gridcase.core.db.models import AssessmentSnapshot

    with read(engine.db) as connection:
        return [dict(r) for r in connection.execute(select(AssessmentSnapshot.__table__)).mappings()]


def test_mid_month_bulletin_publishes_last_months_ranking_on_the_15th(taizhou):
    """月度通报: on the 15th at 09:00 the first sweep publishes October's assessment, the leaders
    get the top and bottom of the ranking and each department its own rank, by SMS, once
    however many sweeps follow; before the 15th nothing is published."""
    taizhou.profile["assessment"]["ranking"]["min_sample"] = 0  # a few cases: rank every unit with a score
    for n, unit in enumerate(("hailing", "sanitation", "water")):
        handled(taizhou, filed(taizhou, n), COMMAND, unit)
    taizhou.time.advance(days=32)  # 14 November, 09:00
    taizhou.sweep(taizhou.time.now())
    assert _snapshots(taizhou) == []
    taizhou.time.advance(days=1, minutes=5)  # 15 November, 09:05
    taizhou.sweep(taizhou.time.now())
    taizhou.sweep(taizhou.time.now())
    (snapshot,) = _snapshots(taizhou)
    assert (snapshot["period"], snapshot["published_by"]) == ("2026-10", "schedule:mid_month")
    notices = [r for r in outbox(taizhou) if r["event"] == "bulletin:mid_month"]
    assert all(r["channel"] == "sms" for r in notices)
    (summary,) = [r for r in notices if r["recipient"] == "role:leader"]
    assert "2026-10" in summary["text"] and "前三名" in summary["text"]
    ranked = {r["recipient"]: r["text"] for r in notices if r["recipient"].startswith("unit:")}
    assert {"unit:sanitation", "unit:water"} <= set(ranked)
    assert "排名第" in ranked["unit:sanitation"]


def test_mid_month_bulletin_switched_off_nothing_is_published(taizhou):
    change_setting(taizhou, "notifications", bulletins=())
    handled(taizhou, filed(taizhou, 0), COMMAND, "sanitation")
    taizhou.time.advance(days=33, minutes=5)
    taizhou.sweep(taizhou.time.now())
    assert _snapshots(taizhou) == [] and not [r for r in outbox(taizhou) if r["event"].startswith("bulletin")]
