"""禅城's mechanisms end to end (seed 004). Each test is named after the mechanism it proves."""

from collections import Counter
from pathlib import Path

import pytest
import shapely

from gridcase.core.cases.evidence import Upload
from gridcase.core.context import HookContext, IncomingReport
from gridcase.core.people.actor import Actor
from gridcase.core.profile import load_validated
from gridcase.plugins.builtin.classify import classify_case

from ...conftest import change_setting

LABELLED = Path(__file__).with_name("labelled.tsv")
ACCURACY_FLOOR = 0.9  # measured 100% when written; the floor leaves room for new aliases' side effects
PHOTO = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]
CENTRE = Actor.of("operator", "dispatcher")


@pytest.fixture
def chancheng(city_engine):
    return city_engine("chancheng")


def micro_grid_centre(engine, n: int = 0) -> list[float]:
    grids = [f for f in engine.profile["grids"]["features"] if f["properties"]["level"] == "micro_grid"]
    centre = shapely.geometry.shape(grids[n]["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]


def labelled() -> list[tuple[str, str, str]]:
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            text, label = line.split("\t")
            kind, code = label.split(":")
            rows.append((text, kind, code))
    return rows


def test_the_city_has_the_seeds_five_level_grid_and_units():
    profile = load_validated("chancheng")[0].plain()
    levels = Counter(f["properties"]["level"] for f in profile["grids"]["features"])
    assert levels == {"district": 1, "street": 4, "area": 16, "village": 96, "micro_grid": 921}
    assert [lvl["code"] for lvl in profile["grid_levels"]] == [
        "district",
        "street",
        "area",
        "village",
        "micro_grid",
    ]
    kinds = Counter(u["kind"] for u in profile["units"])
    assert kinds["department"] == 18 and kinds["street"] == 4 and kinds["area"] == 16
    # about 6 micro-grids a km² over the district
    area_km2 = sum(
        shapely.geometry.shape(f["geometry"]).area for f in profile["grids"]["features"]
        if f["properties"]["level"] == "micro_grid"
    ) * 111.32 * 111.32 * 0.92  # fmt: skip
    assert 5 < 921 / area_km2 < 7


def test_the_item_list_has_17_major_and_133_minor_classes_over_the_18_departments():
    """事项清单: 18 departments' items in 17 major and 133 minor classes, each class naming the
    department that answers for it (or the territory, for a village's own matters)."""
    from gridcase.core.profile.taxonomy import active_minors

    profile = load_validated("chancheng")[0].plain()
    classes = list(active_minors(profile))
    assert len(classes) == 133 and len({(kind, code[:2]) for kind, code, _ in classes}) == 17
    departments = {u["code"] for u in profile["units"] if u["kind"] == "department"}
    answering = Counter(minor.get("unit") for _, _, minor in classes)
    assert set(answering) - {None} == departments and answering[None] == 1


def said(text: str) -> IncomingReport:
    return IncomingReport(description=text, address=None, channel="yimen", lon=None, lat=None)


def test_yimenshi_classifier_accuracy_on_the_labelled_set():
    """一门式: the item list's words find the class of free text. Accuracy on the kept set."""
    profile = load_validated("chancheng")[0].plain()
    rows = labelled()
    right = [
        text for text, kind, code in rows
        if (found := classify_case(ctx=HookContext.offline(profile), report=said(text)))
        and (found["kind"], found["code"]) == (kind, code)
    ]  # fmt: skip
    accuracy = len(right) / len(rows)
    print(f"一门式 classifier: {len(right)}/{len(rows)} = {accuracy:.1%}")
    assert len(rows) >= 40 and accuracy >= ACCURACY_FLOOR


def test_yimenshi_free_text_is_classified_and_routed_to_the_department(chancheng):
    """一门式: a citizen writes what they saw, with no category; the case is classified by the
    item list and its department answers for it."""
    case_id = chancheng.intake(
        {"channel": "yimen", "description": "地铁站出口好多小贩摆摊", "point": micro_grid_centre(chancheng)},
        Actor.of("citizen"),
    )["case_id"]
    case = chancheng.case(case_id)
    assert (case["kind"], case["class_code"]) == ("event", "0501")
    assert {u["unit"] for u in case["units"] if u["role"] == "responsible"} == {"enforcement"}
    assert case["workflow"] == "yimen"
    case = chancheng.transition(case_id, "dispatch", CENTRE, payload={"units": ["enforcement"]})
    assert case["state"] == "handling"
    case = chancheng.transition(case_id, "handle", Actor.of("department", unit="enforcement"), uploads=PHOTO)
    assert chancheng.transition(case_id, "close", CENTRE)["state"] == "closed"


def _vending_report(chancheng) -> int:
    report = {
        "channel": "yimen",
        "description": "地铁站出口好多小贩摆摊",
        "point": micro_grid_centre(chancheng),
    }
    return chancheng.intake(report, Actor.of("citizen"))["case_id"]


def test_yimenshi_the_task_reaches_the_named_person_of_the_department(chancheng):
    """指定具体责任人: the item list's class names the department, and the department's person
    named for that class answers for the case and is sent the task at once; a colleague named
    for other classes is not."""
    from gridcase.core.places.units import add_person

    add_person(chancheng.db, "zf_li", "执法局李", ["department"], unit="enforcement",
               attributes={"classes": ["event:0504"]})  # fmt: skip
    # one class may come as text rather than a list
    named = add_person(chancheng.db, "zf_zhang", "执法局张", ["department"], unit="enforcement",
                       attributes={"classes": "event:0501"})  # fmt: skip
    case = chancheng.case(_vending_report(chancheng))
    assert case["assignee_id"] == named and "责任人：执法局张" in case["routing_explanation"]
    (notice,) = [r for r in outbox(chancheng) if r["event"] == "assigned"]
    assert (notice["recipient"], notice["case_id"]) == (f"person:{named}", case["id"])
    assert case["number"] in notice["text"]


def test_yimenshi_named_person_switched_off_only_the_department(chancheng):
    from gridcase.core.places.units import add_person

    change_setting(chancheng, "routing", named_person=False)
    add_person(chancheng.db, "zf_zhang", "执法局张", ["department"], unit="enforcement",
               attributes={"classes": ["event:0501"]})  # fmt: skip
    case = chancheng.case(_vending_report(chancheng))
    assert case["assignee_id"] is None and "责任人" not in case["routing_explanation"]
    assert not [r for r in outbox(chancheng) if r["event"] == "assigned"]


def outbox(engine) -> list[dict]:
    from sqlalchemy import select

    from gridcase.core.db.connection import read
    from gridcase.core.db.models import Outbox

    with read(engine.db) as connection:
        return [dict(r) for r in connection.execute(select(Outbox.__table__)).mappings()]


def test_yimenshi_switched_off_the_text_alone_cannot_be_filed(chancheng):
    """Without the item list's words the same text matches nothing, and intake asks for a class."""
    from gridcase.core.errors import GridcaseError

    profile = load_validated("standard")[0].plain()
    assert classify_case(ctx=HookContext.offline(profile), report=said("地铁站出口好多小贩摆摊")) is None
    with pytest.raises(GridcaseError, match="no category"):
        chancheng.intake(
            {"channel": "yimen", "description": "一些说不清的事情", "point": micro_grid_centre(chancheng)},
            Actor.of("citizen"),
        )


def test_jiban_a_grid_worker_fixes_a_micro_problem_on_the_spot(chancheng):
    """即办: the grid worker who reports a micro-problem fixes it and closes it with a photo;
    it never reaches a department."""
    worker = Actor.of("supervisor")
    case_id = chancheng.intake(
        {"channel": "patrol", "category": "0201", "kind": "event", "point": micro_grid_centre(chancheng, 5)},
        worker,
    )["case_id"]
    case = chancheng.transition(case_id, "on_the_spot", worker, uploads=PHOTO)
    assert case["state"] == "closed" and case["closed_at"] is not None
    assert not [u for u in case["units"] if u["role"] == "handling"]
    assert [c["status"] for c in case["clocks"]] == ["stopped"]
    # without a photo there is no 即办
    other = chancheng.intake(
        {"channel": "patrol", "category": "0201", "kind": "event", "point": micro_grid_centre(chancheng, 6)},
        worker,
    )["case_id"]
    from gridcase.core.profile.workflow import TransitionError

    with pytest.raises(TransitionError, match="photo"):
        chancheng.transition(other, "on_the_spot", worker)


def test_jiban_share_of_a_simulated_day_is_over_30_percent(tmp_path):
    """The seed's figure: over 30% of problems are fixed on the spot."""
    from datetime import date

    from gridcase.core.simulate import simulate

    result = simulate(
        "chancheng", f"sqlite:///{tmp_path / 's.db'}", days=1, seed=4, start=date(2026, 10, 13),
        reports_per_day=300, evidence=tmp_path / "ev",
    )  # fmt: skip
    figures = result["figures"]
    assert figures["on_the_spot_rate"] > 0.3
    assert result["tally"]["mechanisms"]["即办"] == figures["on_the_spot"]
    # 一门式 reports came as words only, and the classifier found their classes
    classified = result["tally"]["classified"]
    assert sum(classified.values()) > 20 and classified.get("right", 0) / sum(classified.values()) >= 0.9


def test_patrol_checklist_334_items_a_grid_worker_reports_by_item(chancheng):
    """334个事项清单: grid workers patrol a checklist of 334 items; a report names the item it
    found, and is filed in that item's class and goes to its department. An item that is not
    on the list, or on the list of another channel, is refused with a clear error."""
    from gridcase.core.errors import GridcaseError

    (checklist,) = chancheng.profile["checklists"]
    assert len(checklist["items"]) == 334 and checklist["channels"] == ["patrol"]
    vending = next(i for i in checklist["items"] if i["name"] == "无照经营游商：流动商贩")
    worker = Actor.of("supervisor")
    case_id = chancheng.intake(
        {"channel": "patrol", "item": vending["code"], "point": micro_grid_centre(chancheng, 7)}, worker
    )["case_id"]
    case = chancheng.case(case_id)
    assert (case["kind"], case["class_code"]) == ("event", "0501")
    assert {u["unit"] for u in case["units"] if u["role"] == "responsible"} == {"enforcement"}
    assert case["events"][0]["payload"]["item"] == vending["code"]
    for report, problem in (
        ({"channel": "patrol", "item": "P999"}, "no checklist item 'P999'"),
        ({"channel": "yimen", "item": vending["code"]}, "takes reports from patrol only"),
        ({"channel": "patrol", "item": vending["code"], "category": "0102"}, "is event 0501, not 0102"),
    ):
        with pytest.raises(GridcaseError, match=problem) as refused:
            chancheng.intake(
                {**report, "point": micro_grid_centre(chancheng, 8)}, Actor.of("supervisor", "operator")
            )
        assert refused.value.code == "invalid_report"


def test_patrol_checklist_switched_off_an_item_means_nothing(chancheng):
    from gridcase.core.errors import GridcaseError

    chancheng.catalogue.checklist_items = {}
    with pytest.raises(GridcaseError, match="no checklist item"):
        chancheng.intake(
            {"channel": "patrol", "item": "P001", "point": micro_grid_centre(chancheng, 7)},
            Actor.of("supervisor"),
        )


def unclassed_patrol(chancheng, n: int) -> int:
    """A grid worker's report of a class no department answers for: the territory does."""
    report = {
        "channel": "patrol",
        "category": "0106",
        "kind": "event",
        "point": micro_grid_centre(chancheng, n),
    }
    return chancheng.intake(report, Actor.of("supervisor"))["case_id"]


def test_tiered_escalation_grid_to_area_to_street(chancheng):
    """小事不出网格、一般事不出片区、大事不出街道: what the village cannot settle goes up to its area,
    and from the area to the town; the unit below lets go of the case each time."""
    from gridcase.core.errors import GridcaseError

    case_id = unclassed_patrol(chancheng, 0)
    village = [u["unit"] for u in chancheng.case(case_id)["units"] if u["role"] == "responsible"][0]
    area = chancheng.catalogue.unit_parents[village]
    town = chancheng.catalogue.unit_parents[area]
    assert (village, area, town) == ("village001", "area01", "town1")
    chancheng.transition(case_id, "dispatch", CENTRE, {"units": [village]})
    chancheng.transition(
        case_id, "raise", Actor.of("department", unit=village), reason="涉及多个村居，需片区协调"
    )
    case = chancheng.transition(case_id, "raise", Actor.of("department", unit=area), reason="需街道统筹")
    assert [u["unit"] for u in case["units"] if u["role"] == "handling" and u["active"]] == [town]
    handle = [c for c in case["clocks"] if c["stage"] == "handle" and c["status"] == "running"]
    assert [c["owner"] for c in handle] == [town]
    with pytest.raises(GridcaseError, match="not dispatched to village001"):
        chancheng.transition(case_id, "handle", Actor.of("department", unit=village), uploads=PHOTO)
    assert (
        chancheng.transition(case_id, "handle", Actor.of("department", unit=town), uploads=PHOTO)["state"]
        == "pending_close"
    )


def test_tiered_escalation_stops_at_the_top(chancheng):
    case_id = unclassed_patrol(chancheng, 1)
    chancheng.transition(case_id, "dispatch", CENTRE, {"units": ["chancheng"]})
    from gridcase.core.profile.workflow import TransitionError

    with pytest.raises(TransitionError, match="no unit above chancheng"):
        chancheng.transition(case_id, "raise", Actor.of("department", unit="chancheng"), reason="x")


def test_tiered_escalation_switched_off_the_village_keeps_the_case(chancheng, switch_off):
    switch_off(chancheng, "yimen", "raise", moves=())
    case_id = unclassed_patrol(chancheng, 0)
    chancheng.transition(case_id, "dispatch", CENTRE, {"units": ["village001"]})
    case = chancheng.transition(
        case_id, "raise", Actor.of("department", unit="village001"), reason="需片区协调"
    )
    assert [u["unit"] for u in case["units"] if u["role"] == "handling" and u["active"]] == ["village001"]


def joint_request(chancheng) -> int:
    report = {
        "channel": "yimen",
        "category": "0504",
        "kind": "event",
        "point": micro_grid_centre(chancheng, 9),
    }
    return chancheng.intake(report, Actor.of("citizen"))["case_id"]


def test_joint_enforcement_one_order_becomes_tasks_to_several_departments(chancheng):
    """联合执法: one approved request becomes simultaneous orders to three departments; each
    feeds its result back, and the request closes only when all have."""
    from gridcase.core.profile.workflow import TransitionError

    case_id = joint_request(chancheng)
    units = ["enforcement", "market", "police"]
    case = chancheng.transition(case_id, "joint_order", CENTRE, {"units": units}, reason="占道经营联合整治")
    assert case["state"] == "joint"
    tasks = case["subtasks"]
    assert [t["number"] for t in tasks] == [f"{case['number']}-{n}" for n in (1, 2, 3)]
    assert not [u for u in case["units"] if u["role"] == "handling"]  # the request itself is not dispatched
    for task, unit in zip(tasks, units, strict=True):
        department = Actor.of("department", unit=unit)
        assert chancheng.case(task["id"])["state"] == "handling"
        chancheng.transition(task["id"], "handle", department, uploads=PHOTO)
        if unit != "police":
            chancheng.transition(task["id"], "close", CENTRE)
    with pytest.raises(TransitionError, match=f"sub-tasks still open: {case['number']}-3"):
        chancheng.transition(case_id, "close_joint", CENTRE)
    chancheng.transition(tasks[2]["id"], "close", CENTRE)
    closed = chancheng.transition(case_id, "close_joint", CENTRE)
    assert closed["state"] == "closed"
    fed_back = [e["payload"]["subtask"] for e in closed["events"] if e["transition"] == "subtask_closed"]
    assert fed_back == [t["id"] for t in tasks]


def test_joint_enforcement_switched_off_no_tasks_are_made(chancheng, switch_off):
    switch_off(chancheng, "yimen", "joint_order", moves=())
    case = chancheng.transition(
        joint_request(chancheng), "joint_order", CENTRE, {"units": ["enforcement", "market"]}, reason="x"
    )
    assert case["subtasks"] == []
