"""Christmas 2026: a case filed when its deadline reaches 2027, whose 调休 is not published yet.
Intake goes on, the deadline is provisional in the API, readiness warns, and once an
administrator enters and confirms 2027 from the command line the sweep counts it again."""

from datetime import datetime
from zoneinfo import ZoneInfo

from gridcase.core.people.actor import Actor

from .conftest import STREET1, _photo

CST = ZoneInfo("Asia/Shanghai")


def handle_clock(world, case_id):
    return next(
        c
        for c in world.get(f"/api/v1/cases/{case_id}", "operator").json()["clocks"]
        if c["stage"] == "handle"
    )


def test_a_case_filed_after_christmas_gets_a_provisional_deadline_then_a_final_one(world, cli, db_url):
    world.engine.time.set(datetime(2026, 12, 30, 10, 0, tzinfo=CST))
    report = {"channel": "app", "point": STREET1, "category": "0101", "kind": "component"}
    filed = world.post("/api/v1/cases", "citizen", json=report)
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["case_id"]
    centre = Actor.of("operator", "shift_leader", "dispatcher")
    world.engine.transition(case_id, "send_verify", centre)
    world.engine.transition(case_id, "verify", Actor.of("supervisor"), uploads=_photo())
    filing = {"category": "0101", "kind": "component", "standard": "loose"}  # two working days
    assert (
        world.post(
            f"/api/v1/cases/{case_id}/transitions/file", "shift_leader", json={"payload": filing}
        ).status_code
        == 200
    )
    dispatched = world.post(
        f"/api/v1/cases/{case_id}/transitions/dispatch", "dispatcher", json={"payload": {"units": ["water"]}}
    )
    assert dispatched.status_code == 200, dispatched.text  # was 422: "no holiday data for 2027"
    # Wednesday 10:00 + two working days, New Year's Day off: Monday 4 January 10:00 (CST)
    handle = handle_clock(world, case_id)
    assert (handle["deadline"], handle["provisional"]) == ("2027-01-04T02:00:00+00:00", True)

    ready = world.client.get("/readyz").json()
    default = next(c for c in ready["calendars"] if c["calendar"] == "")
    assert (default["last_confirmed"], default["days_left"]) == ("2026-12-31", 1)
    assert "gridcase calendar confirm 2027" in default["warning"]

    base = ["--profile", "tests/profiles/testcity", "--db", db_url]
    number = world.get(f"/api/v1/cases/{case_id}", "operator").json()["number"]
    checked = cli("calendar", "check", *base).out  # lists the open provisional deadlines, soonest first
    assert f"  {number:<20} handle       2027-01-04 10:00 (暂定)" in checked
    assert cli("calendar", "set", "2027-01-04", "--off", "--reason", "元旦调休", *base).code == 0
    confirmed = cli("calendar", "confirm", "2027", "--reason", "国务院办公厅通知", "--by", "admin", *base)
    assert confirmed.out == "2027: confirmed in the default calendar\n"
    assert cli("calendar", "recompute", *base).out == "recomputed 2 provisional deadlines\n"
    assert cli("calendar", "recompute", *base).out == "recomputed 0 provisional deadlines\n"

    handle = handle_clock(world, case_id)  # 4 January is a day off now
    assert (handle["deadline"], handle["provisional"]) == ("2027-01-05T02:00:00+00:00", False)
    events = world.get(f"/api/v1/cases/{case_id}", "operator").json()["events"]
    assert events[-1]["transition"] == "recompute_deadlines"


def test_calendar_check_warns_before_the_last_confirmed_day(cli, db_url):
    base = ["--profile", "tests/profiles/testcity", "--db", db_url]
    assert cli("db", "upgrade", *base).code == 0
    checked = cli("calendar", "check", *base)
    # the real date decides: 2027 is unpublished in the pinned holidays package, so this warns
    # from 2 November 2026 and passes once a package (or an administrator) confirms 2027
    today = datetime.now(CST).date()
    last = datetime(2026, 12, 31).date()
    if (last - today).days <= 60:
        assert checked.code == 1 and "WARNING" in checked.out and "calendar confirm 2027" in checked.err
    assert "open deadlines are provisional" in checked.out
    assert cli("calendar", "confirm", "2027", *base).code == 0
    assert "confirmed through 2027-12-31" in cli("calendar", "check", *base).out
    assert cli("calendar", "confirm", "next", *base).err == "error: 'next' is not a year like 2027\n"
