"""Every path of the standard workflow, end to end on a real database (SQLite, and PostgreSQL
when configured): states, events, responsible and handling units, clocks."""

import pytest
from sqlalchemy import text

from gridcase.core.cases.evidence import Upload
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.profile.workflow import TransitionError

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)
PHOTO = [Upload("现场.jpg", JPEG)]
STREET1 = [120.61, 31.337]  # unit grid 320508001001001 (street1, area class A)
STREET2 = [120.61, 31.305]  # street2

supervisor = Actor.of("supervisor", id=None, grids={"320508001"})
operator = Actor.of("operator")
leader = Actor.of("shift_leader")
dispatcher = Actor.of("dispatcher")
water = Actor.of("department", unit="water")
water_north = Actor.of("department", unit="water_north")
team = Actor.of("department", unit="water_north_team")
city_admin = Actor.of("department", unit="city_admin")
citizen = Actor.of("citizen")


def report(
    engine, point=STREET1, category="0101", kind="component", channel="patrol", actor=supervisor, **extra
):
    return engine.intake(
        {"channel": channel, "point": point, "category": category, "kind": kind, **extra}, actor
    )["case_id"]


def steps(engine, case_id, *moves):
    """Fire (code, actor, payload, reason, uploads) moves in order; returns the final case."""
    case = None
    for move in moves:
        code, actor, *rest = move
        payload = rest[0] if rest else None
        reason = rest[1] if len(rest) > 1 else None
        uploads = rest[2] if len(rest) > 2 else ()
        case = engine.transition(case_id, code, actor, payload=payload, reason=reason, uploads=uploads)
    return case


def trail(case):
    return [(e["transition"], e["from_state"], e["to_state"]) for e in case["events"]]


def active(case, role):
    return sorted(
        (u["unit"], u["share"], u["depth"]) for u in case["units"] if u["role"] == role and u["active"]
    )


def clocks(case):
    return sorted((c["stage"], c["status"]) for c in case["clocks"])


FILE = ("file", leader, {"category": "0101", "kind": "component", "standard": "missing"})
DISPATCH = ("dispatch", dispatcher, {"units": ["water"]})


def test_filing_a_class_with_standard_rows_needs_one_of_them(engine):
    case_id = report(engine)
    engine.transition(case_id, "accept", operator)
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "file", leader, payload={"category": "0101", "kind": "component"})
    assert info.value.details["choices"] == ["damaged", "loose", "missing", "surround"]
    with pytest.raises(TransitionError) as info:
        engine.transition(
            case_id, "file", leader, payload={"category": "0101", "kind": "component", "standard": "stolen"}
        )
    assert info.value.code == "invalid_field"
    assert engine.transition(case_id, "file", leader, payload=FILE[2])["standard"] == "missing"


def test_main_loop_from_patrol_report_to_callback(engine):
    case_id = report(engine, description="上水井盖缺失", address="人民路12号")
    case = engine.case(case_id)
    assert (case["state"], case["grid"], case["area_class"]) == ("reported", "320508001001001", "A")
    assert active(case, "responsible") == [("water", 1.0, 0)]
    assert case["routing_explanation"] == "小类 上水井盖 的责任单位为 water"
    assert case["number"].startswith("C20261013")
    case = steps(
        engine, case_id,
        ("accept", operator), FILE, DISPATCH, ("sign", water),
        ("handle", water, {}, None, PHOTO), ("check_pass", supervisor, {}, None, PHOTO),
        ("close", leader), ("callback", operator, {"satisfaction": "满意"}),
    )  # fmt: skip
    assert case["state"] == "closed" and case["state_kind"] == "closed" and case["closed_at"] is not None
    assert trail(case) == [
        ("report", None, "reported"),
        ("accept", "reported", "pending_file"),
        ("file", "pending_file", "pending_dispatch"),
        ("dispatch", "pending_dispatch", "dispatched"),
        ("sign", "dispatched", "handling"),
        ("handle", "handling", "pending_check"),
        ("check_pass", "pending_check", "pending_close"),
        ("close", "pending_close", "closed"),
        ("callback", "closed", "closed"),
    ]
    assert [e["seq"] for e in case["events"]] == list(range(1, 10)) and case["version"] == 9
    assert active(case, "handling") == [("water", 1.0, 1)]
    assert case["standard"] == "missing"
    assert {c["status"] for c in case["clocks"]} == {"stopped"}
    assert [c["stage"] for c in case["clocks"]] == [
        "accept",
        "file",
        "dispatch",
        "case",
        "handle",
        "check",
        "close",
    ]
    assert len(case["evidence"]) == 2 and {e["content_type"] for e in case["evidence"]} == {"image/jpeg"}


def test_public_report_is_verified_before_filing(engine):
    case_id = report(engine, channel="hotline_12319", actor=operator, category="0101")
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "accept", operator)
    assert info.value.code == "guard_refused" and "核实" in info.value.message
    case = steps(engine, case_id, ("send_verify", operator), ("verify", supervisor, {}, None, PHOTO), FILE)
    assert case["verified"] is True and case["state"] == "pending_dispatch"
    assert ("verify", "stopped") in clocks(case) and ("file", "stopped") in clocks(case)


def test_report_not_confirmed_on_site_is_not_filed(engine):
    case_id = report(engine, channel="hotline_12345", actor=operator)
    case = steps(engine, case_id, ("send_verify", operator), ("verify_false", supervisor, {}, "现场无此问题"))
    assert (case["state"], case["state_kind"]) == ("not_filed", "closed")
    assert case["events"][-1]["reason"] == "现场无此问题"
    assert all(c["status"] == "stopped" for c in case["clocks"])


def test_reject_not_file_and_void_need_a_reason(engine):
    first, second, third = (report(engine, point=[120.601 + 0.002 * n, 31.337]) for n in range(3))
    with pytest.raises(TransitionError) as info:
        engine.transition(first, "reject", operator)
    assert (info.value.code, info.value.details["missing"]) == (
        "missing_requirements",
        ["a reason is required"],
    )
    assert steps(engine, first, ("reject", operator, {}, "重复上报"))["state"] == "voided"
    assert (
        steps(engine, second, ("accept", operator), ("not_file", leader, {}, "不属于城管范围"))["state"]
        == "not_filed"
    )
    case = steps(
        engine, third, ("accept", operator), FILE, DISPATCH, ("sign", water), ("void", leader, {}, "误报")
    )
    assert case["state"] == "voided" and all(c["status"] == "stopped" for c in case["clocks"])


def test_return_releases_the_unit_and_the_case_is_dispatched_again(engine):
    case_id = report(engine)
    case = steps(engine, case_id, ("accept", operator), FILE, DISPATCH, ("return", water, {}, "不属于本单位"))
    assert case["state"] == "returned" and active(case, "handling") == []
    assert ("dispatch", "running") in clocks(case)
    case = steps(engine, case_id, ("dispatch", dispatcher, {"units": ["city_admin"]}), ("sign", city_admin))
    assert active(case, "handling") == [("city_admin", 1.0, 1)] and case["state"] == "handling"
    # the unit that returned the case can no longer act on it
    with pytest.raises(GridcaseError) as info:
        engine.transition(case_id, "request_shelve", water, reason="x")
    assert info.value.code == "forbidden"


def test_return_to_filing(engine):
    case_id = report(engine)
    case = steps(
        engine, case_id, ("accept", operator), FILE, DISPATCH, ("return", water, {}, "分类错误"),
        ("return_to_filing", dispatcher, {}, "请重新立案"),
    )  # fmt: skip
    assert case["state"] == "pending_file"
    case = steps(engine, case_id, ("file", leader, {"category": "0501", "kind": "event"}))
    assert (case["class_code"], case["kind"], case["routing_rule"]) == ("0501", "event", "class")
    assert active(case, "responsible") == [("city_admin", 1.0, 0)]


def test_extension_approved_and_denied(engine):
    case_id = report(engine)
    steps(engine, case_id, ("accept", operator), FILE, DISPATCH, ("sign", water))
    with pytest.raises(TransitionError) as info:
        engine.transition(
            case_id, "request_extension", water, payload={"amount": "two days"}, reason="需要采购"
        )
    assert info.value.code == "invalid_field"
    case = steps(
        engine, case_id, ("request_extension", water, {"amount": "2 work_day"}, "需要采购"),
        ("deny_extension", dispatcher, {}, "理由不足"),
        ("request_extension", water, {"amount": "1 work_day"}, "需要采购"),
        ("approve_extension", dispatcher, {"amount": "1 work_day"}),
    )  # fmt: skip
    assert case["state"] == "handling"
    assert [e["transition"] for e in case["events"][-4:]] == [
        "request_extension", "deny_extension", "request_extension", "approve_extension",
    ]  # fmt: skip
    assert case["events"][-1]["payload"] == {"amount": "1 work_day"}


def test_shelving_pauses_the_clocks_and_resuming_restarts_them(engine):
    case_id = report(engine)
    steps(engine, case_id, ("accept", operator), FILE, DISPATCH, ("sign", water))
    case = steps(
        engine,
        case_id,
        ("request_shelve", water, {}, "需立项资金"),
        ("deny_shelve", dispatcher, {}, "可先行处置"),
    )
    assert case["state"] == "handling"
    case = steps(engine, case_id, ("request_shelve", water, {}, "需立项资金"), ("approve_shelve", dispatcher))
    assert case["state"] == "shelved"
    assert ("handle", "paused") in clocks(case) and ("case", "paused") in clocks(case)
    case = steps(engine, case_id, ("resume", dispatcher))
    assert case["state"] == "handling" and ("handle", "running") in clocks(case)


def test_failed_check_sends_the_case_back_for_rework(engine):
    case_id = report(engine)
    steps(
        engine,
        case_id,
        ("accept", operator),
        FILE,
        DISPATCH,
        ("sign", water),
        ("handle", water, {}, None, PHOTO),
    )
    with pytest.raises(TransitionError):
        engine.transition(case_id, "rework", supervisor, uploads=PHOTO)  # no reason
    case = steps(engine, case_id, ("rework", supervisor, {}, "井盖仍未恢复", PHOTO))
    assert case["state"] == "handling"
    assert [c for c in clocks(case) if c[0] == "handle"] == [("handle", "running"), ("handle", "stopped")]
    case = steps(
        engine,
        case_id,
        ("handle", water, {}, None, PHOTO),
        ("check_pass", supervisor, {}, None, PHOTO),
        ("close", leader),
    )
    assert case["state"] == "closed" and [e["transition"] for e in case["events"]].count("rework") == 1


def test_supervision_keeps_the_state(engine):
    case_id = report(engine)
    steps(engine, case_id, ("accept", operator), FILE, DISPATCH)
    case = steps(engine, case_id, ("supervise", Actor.of("leader"), {}, "群众反映强烈，限期处置"))
    assert case["state"] == "dispatched" and trail(case)[-1] == ("supervise", "dispatched", "dispatched")


def test_self_handling_approved_or_sent_back(engine):
    first, second = report(engine), report(engine, point=[120.63, 31.337])
    case = steps(engine, first, ("self_handle", supervisor, {}, None, PHOTO), ("self_approve", operator))
    assert case["state"] == "closed" and trail(case)[1] == ("self_handle", "reported", "self_review")
    case = steps(
        engine,
        second,
        ("self_handle", supervisor, {}, None, PHOTO),
        ("self_reject", leader, {}, "需专业处置"),
    )
    assert case["state"] == "pending_file"


def test_departments_dispatch_down_their_own_hierarchy(engine):
    case_id = report(engine)
    steps(engine, case_id, ("accept", operator), FILE, DISPATCH, ("sign", water))
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "redispatch", water, payload={"units": ["city_admin"]})
    assert "not below water" in info.value.message
    case = steps(
        engine,
        case_id,
        ("redispatch", water, {"units": ["water_north"]}),
        ("redispatch", water_north, {"units": ["water_north_team"]}),
    )
    assert active(case, "handling") == [
        ("water", 1.0, 1),
        ("water_north", 1.0, 2),
        ("water_north_team", 1.0, 3),
    ]
    case = steps(engine, case_id, ("sign", team), ("handle", team, {}, None, PHOTO))
    assert case["state"] == "pending_check"


def test_joint_order_subtasks_feed_back_to_the_parent(engine):
    parent = report(engine, category="0501", kind="event", point=STREET2)
    file_event = ("file", leader, {"category": "0501", "kind": "event"})
    steps(
        engine, parent, ("accept", operator), file_event, ("dispatch", dispatcher, {"units": ["city_admin"]})
    )
    children = engine.create_subtasks(parent, ["police", "city_admin"], dispatcher, "联合整治占道经营")
    assert len(children) == 2
    police_task = engine.case(children[0])
    assert (police_task["state"], police_task["number"]) == (
        "dispatched",
        engine.case(parent)["number"] + "-1",
    )
    assert active(police_task, "handling") == [("police", 1.0, 1)]
    steps(
        engine, children[0], ("sign", Actor.of("department", unit="police")),
        ("handle", Actor.of("department", unit="police"), {}, None, PHOTO),
        ("check_pass", Actor.of("supervisor"), {}, None, PHOTO), ("close", leader),
    )  # fmt: skip
    parent_case = engine.case(parent)
    assert [e["transition"] for e in parent_case["events"]][-2:] == ["subtasks_created", "subtask_closed"]
    assert parent_case["events"][-1]["payload"]["subtask"] == children[0]
    assert [s["id"] for s in parent_case["subtasks"]] == children
    # a second order under the same parent numbers on instead of colliding with the first's
    (again,) = engine.create_subtasks(parent, ["police"], dispatcher, "复查")
    assert engine.case(again)["number"] == engine.case(parent)["number"] + "-3"


def test_illegal_forbidden_and_stale_transitions_are_clear_errors(engine):
    case_id = report(engine)
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "close", leader)
    assert info.value.code == "illegal_transition" and "reported" in info.value.message
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "accept", dispatcher)
    assert info.value.code == "forbidden"
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "teleport", operator)
    assert info.value.code == "unknown_transition"
    engine.transition(case_id, "accept", operator, expected_version=1)
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "file", leader, payload=FILE[2], expected_version=1)
    assert info.value.code == "conflict"
    case = engine.case(case_id)
    assert (case["state"], case["version"], len(case["events"])) == ("pending_file", 2, 2)


def test_a_department_acts_only_on_its_own_cases(engine):
    case_id = report(engine)
    steps(engine, case_id, ("accept", operator), FILE, DISPATCH)
    with pytest.raises(GridcaseError) as info:
        engine.transition(case_id, "sign", city_admin)
    assert info.value.code == "forbidden"
    assert engine.case(case_id)["state"] == "dispatched"


def test_events_cannot_be_changed_or_removed(engine):
    case_id = report(engine)
    for statement in (
        "UPDATE case_event SET reason = 'x' WHERE case_id = :id",
        "DELETE FROM case_event WHERE case_id = :id",
    ):
        with pytest.raises(Exception) as info:
            with engine.db.begin() as connection:
                connection.execute(text(statement), {"id": case_id})
        assert "append-only" in str(info.value)
    assert len(engine.case(case_id)["events"]) == 1


def test_allowed_transitions_follow_state_and_role(engine):
    case_id = report(engine)
    assert engine.allowed_transitions(case_id, operator) == [
        "send_verify",
        "accept",
        "reject",
        "public_reply",
    ]
    assert engine.allowed_transitions(case_id, supervisor) == ["self_handle"]
    assert engine.allowed_transitions(case_id, citizen) == []


def test_several_workflows_run_side_by_side(engine):
    """A channel can choose the case type (宜昌: city management, conflicts, emergencies)."""
    conflict = engine.intake(
        {"channel": "mediation", "point": STREET2, "category": "0501", "kind": "event"}, operator
    )
    ordinary = report(engine, category="0501", kind="event", point=[120.63, 31.305])
    case = engine.case(conflict["case_id"])
    assert (case["workflow"], case["state"], clocks(case)) == ("conflict", "received", [("case", "running")])
    assert engine.case(ordinary)["workflow"] == "standard"
    assert engine.allowed_transitions(conflict["case_id"], dispatcher) == ["assign"]
    case = steps(
        engine, conflict["case_id"], ("assign", dispatcher, {"units": ["police"]}),
        ("resolve", Actor.of("department", unit="police"), {}, "双方达成调解协议"),
    )  # fmt: skip
    assert (case["state"], case["state_kind"], clocks(case)) == ("resolved", "closed", [("case", "stopped")])
    with pytest.raises(TransitionError):
        engine.transition(ordinary, "assign", dispatcher, payload={"units": ["police"]})
