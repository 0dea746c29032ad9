"""The work queues (admin_ui/queues.py) over HTTP, on SQLite and PostgreSQL: what each person's
queue holds and in which order, paging, search, filters, bulk actions and the xlsx export."""

from gridcase.core.people.actor import Actor

from .conftest import STREET1

CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
STANDARD = {"component": {"standard": "missing"}}  # the 立案条件 a component class asks for


def new_case(desk, category: str = "component:0101", **extra) -> int:
    data = {"channel": "leader", "category": category, "lon": STREET1[0], "lat": STREET1[1], **extra}
    done = desk.post("/ui/cases", data=data)
    assert done.status_code == 204, done.text
    return int(done.headers["HX-Redirect"].rsplit("/", 1)[1])


def filed(engine, case_id: int) -> None:
    case = engine.case(case_id)
    engine.transition(case_id, "accept", CENTRE)
    payload = {"category": case["class_code"], "kind": case["kind"]}
    engine.transition(case_id, "file", CENTRE, payload=payload | STANDARD.get(case["kind"], {}))


def active_units(engine, case_id: int) -> set[str]:
    return {u["unit"] for u in engine.case(case_id)["units"] if u["active"] and u["role"] == "handling"}


def test_bulk_dispatch_sends_each_case_to_its_routed_units(ui):
    zhang = ui("zhang")
    water_case, admin_case = new_case(zhang), new_case(zhang, "event:0501")
    for case_id in (water_case, admin_case):
        filed(ui.engine, case_id)
    done = zhang.post("/ui/cases/bulk", data={"cases": [str(water_case), str(admin_case)], "transition": "dispatch"})
    assert done.status_code == 200, done.text
    assert "required" not in done.text
    assert ui.engine.case(water_case)["state"] == "dispatched"
    assert active_units(ui.engine, water_case) == {"water"}
    assert active_units(ui.engine, admin_case) == {"city_admin"}
