"""Assessment of cases driven through the real engine: pauses across a period's end, extensions,
rework, returns, 一事双责 shares, plugins' splits and adjustments, explanations, bulletins,
published versions and the CLI."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gridcase.core.assess.assessor import Assessor
from gridcase.core.assess.bulletin import render
from gridcase.core.assess.snapshots import publish, versions
from gridcase.core.cases.evidence import Upload
from gridcase.core.db.connection import write
from gridcase.core.engine import Engine
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person

from ...conftest import TESTCITY

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)
PHOTO = [Upload("现场.jpg", JPEG)]
STREET1 = [120.61, 31.337]
supervisor = Actor.of("supervisor", grids={"320508001"})
operator, leader = Actor.of("operator"), Actor.of("shift_leader")
water, city_admin = Actor.of("department", unit="water"), Actor.of("department", unit="city_admin")


def cst(month, day, hour, minute=0):
    return datetime(2026, month, day, hour - 8, minute, tzinfo=UTC)


def new_case(engine, category="0101"):
    case_id = engine.intake(
        {"channel": "patrol", "point": STREET1, "category": category, "kind": "component"}, supervisor
    )["case_id"]
    engine.transition(case_id, "accept", operator)
    engine.transition(
        case_id, "file", leader, payload={"category": category, "kind": "component", "standard": "loose"}
    )
    return case_id


def fire(engine, case_id, *moves):
    for code, actor, *rest in moves:
        payload = rest[0] if rest else None
        engine.transition(case_id, code, actor, payload=payload, reason="理由", uploads=PHOTO)


def dispatched(engine, category="0101", unit="water", dispatcher=None):
    case_id = new_case(engine, category)
    fire(engine, case_id, ("dispatch", dispatcher or Actor.of("dispatcher"), {"units": [unit]}))
    fire(engine, case_id, ("sign", Actor.of("department", unit=unit)))
    return case_id


def values(engine, period, code="water", by="unit"):
    result = Assessor(engine).assess(period, by=by)
    return next(o for o in result["objects"] if o["code"] == code)["values"]


def test_a_case_shelved_across_the_month_end_is_due_in_the_month_it_is_handled(engine):
    dispatcher = Actor.of("dispatcher")
    engine.time.set(cst(10, 28, 9))
    case_id = dispatched(engine)
    fire(engine, case_id, ("request_shelve", water), ("approve_shelve", dispatcher))
    engine.time.set(cst(11, 3, 9))  # shelved over the whole weekend and the month's end
    fire(engine, case_id, ("resume", dispatcher))
    engine.time.set(cst(11, 4, 15))  # past the first deadline, within the one the pause moved
    fire(engine, case_id, ("handle", water))
    engine.time.set(cst(11, 30, 12))
    october, november = values(engine, "2026-10"), values(engine, "2026-11")
    assert (october["handle_due"], october["overdue_unhandled"], october["shelved"]) == (0, 0, 1)
    assert (november["handle_due"], november["handled_on_time"], november["handled_late"]) == (1, 1, 0)


def test_an_approved_extension_moves_what_on_time_means(engine):
    case_id = dispatched(engine)  # Tuesday 09:00: two working days, due Thursday 09:00
    fire(
        engine,
        case_id,
        ("request_extension", water, {"amount": "2 work_day"}),
        ("approve_extension", Actor.of("dispatcher"), {"amount": "2 work_day"}),
    )
    engine.time.set(cst(10, 16, 10))  # Friday: late by the first deadline, on time by the new one
    fire(engine, case_id, ("handle", water))
    october = values(engine, "2026-10")
    assert (october["handled_on_time"], october["extended"]) == (1, 1)


def test_a_case_reworked_twice_is_one_rework_and_one_handling(engine, make_profile):
    case_id = dispatched(engine)
    for _ in range(2):
        fire(engine, case_id, ("handle", water), ("rework", supervisor))
    fire(engine, case_id, ("handle", water), ("check_pass", supervisor), ("close", leader))
    october = values(engine, "2026-10")
    assert (october["reworked"], october["handle_due"], october["handled"]) == (1, 1, 1)
    assert october["rework_rate"] == 1.0 and october["closure_rate"] == 1.0
    folder = make_profile(
        "every",
        {"profile.yaml": f"name: every\nextends: {TESTCITY}\nassessment:\n  counting: {{attempts: every}}\n"},
    )
    every = Engine.open(folder, engine.db.url.render_as_string(hide_password=False), time=engine.time)
    counted = values(every, "2026-10")
    assert (counted["handle_due"], counted["handled"]) == (3, 3)
    every.db.dispose()


def test_a_returned_case_counts_against_the_unit_that_finally_handles_it(engine):
    person = add_person(engine.db, "d1", "派遣员甲", ["dispatcher"])
    dispatcher = Actor.of("dispatcher", id=person)
    case_id = dispatched(engine, dispatcher=dispatcher)
    fire(
        engine,
        case_id,
        ("return", water),
        ("dispatch", dispatcher, {"units": ["city_admin"]}),
        ("sign", city_admin),
        ("handle", city_admin),
    )
    assert (values(engine, "2026-10")["returned"], values(engine, "2026-10")["handle_due"]) == (1, 0)
    assert values(engine, "2026-10", "city_admin")["handled"] == 1
    mine = values(engine, "2026-10", str(person), by="person")
    assert (mine["dispatch_due"], mine["dispatched_accurately"], mine["accurate_dispatch_rate"]) == (
        2,
        1,
        0.5,
    )


def overdue_shared_case(engine):
    """A 0103 case (street1 70%, water 30%) dispatched to water and left overdue."""
    case_id = dispatched(engine, category="0103")
    engine.time.set(cst(11, 5, 9))
    return case_id


def test_one_case_two_responsible_units_share_its_deduction_and_its_money(engine):
    case_id = overdue_shared_case(engine)
    result = Assessor(engine).assess("2026-10")
    by_code = {o["code"]: o for o in result["objects"]}
    assert by_code["water"]["values"]["overdue_unhandled"] == 1  # the handling unit's count …
    assert by_code["street1"]["deductions"] == {"overdue": 0.35}  # … but the points follow the shares
    assert by_code["water"]["deductions"] == {"overdue": 0.15}
    assert (by_code["street1"]["ledgers"]["fines"], by_code["water"]["ledgers"]["fines"]) == (350, 150)
    assert by_code["district"]["deducted"] == 0.35  # a unit carries what its units lost
    why = Assessor(engine).explain("2026-10", "unit:street1")
    (charged,) = why["deduction_cases"]
    assert charged["case_id"] == case_id and charged["share"] == 0.7 and "超期" in charged["reason"]


def test_split_case_consequences_and_adjust_scores_change_the_results(engine, make_profile):
    plugin = Path(__file__).parents[2] / "plugins" / "bureau_pays.py"
    folder = make_profile(
        "hooks", {"profile.yaml": f"name: hooks\nextends: {TESTCITY}\nplugins: [{plugin}]\n"}
    )
    hooked = Engine.open(folder, engine.db.url.render_as_string(hide_password=False), time=engine.time)
    hooked.load_reference_data()
    overdue_shared_case(hooked)
    water_result = next(o for o in Assessor(hooked).assess("2026-10")["objects"] if o["code"] == "water")
    assert water_result["deductions"] == {"overdue": 0.5}
    assert water_result["adjustments"] == [{"points": 3.0, "reason": "表扬加分", "cases": []}]
    assert water_result["final"] == pytest.approx(water_result["composite"]["score"] - 0.5 + 3)
    hooked.db.dispose()


def test_every_count_drills_down_to_its_cases(engine):
    on_time = dispatched(engine)
    fire(engine, on_time, ("handle", water), ("check_pass", supervisor), ("close", leader))
    late = dispatched(engine)
    engine.time.set(cst(10, 30, 9))
    explained = Assessor(engine).explain("2026-10", "unit:water", "on_time_handle_rate")
    assert explained["formula"] == "handled_on_time / handle_due" and explained["value"] == 0.5
    due, handled = explained["inputs"]
    assert [c["case_id"] for c in due["cases"]] == [on_time, late]
    assert [c["case_id"] for c in handled["cases"]] == [on_time]
    assert "按期" in handled["cases"][0]["reason"] and "已超期" in due["cases"][1]["reason"]


def test_bulletins_in_every_format_say_the_same(engine):
    case_id = dispatched(engine)
    fire(engine, case_id, ("handle", water), ("check_pass", supervisor), ("close", leader))
    with write(engine.db) as connection:  # a name that must be escaped in HTML
        connection.execute(text("UPDATE unit SET name = '<b>水务</b>' WHERE code = 'water'"))
    result = Assessor(engine).assess("2026-10")
    rows = list(csv.reader(io.StringIO(render(result, "csv").decode("utf-8-sig"))))
    row = next(r for r in rows if r[1] == "water")
    header = rows[0]
    assert row[header.index("结案率")] == "100.00%" and row[header.index("名称")] == "<b>水务</b>"
    html = render(result, "html").decode()
    assert "&lt;b&gt;水务&lt;/b&gt;" in html and "<b>水务</b>" not in html
    with zipfile.ZipFile(io.BytesIO(render(result, "xlsx"))) as book:
        assert "水务" in book.read("xl/sharedStrings.xml").decode()
    as_json = {o["code"]: o for o in json.loads(render(result, "json"))["objects"]}
    assert as_json["water"]["values"]["closed"] == 1 and as_json["water"]["name"] == "<b>水务</b>"
    table = render(result, "table").decode()
    assert "2026-10 考核通报（按单位）" in table and "100.00%" in table


def test_publishing_again_makes_a_new_version_with_its_differences(engine):
    overdue_shared_case(engine)
    assessor = Assessor(engine)
    first = publish(engine, assessor.assess("2026-10"), by="考核科")
    assert (first["version"], first["changes"]) == (1, [])
    dispatched(engine, category="0103")  # filed on 11-05: November's, so October is unchanged
    assert publish(engine, assessor.assess("2026-10"))["changes"] == []
    with write(engine.db) as connection:  # late evidence: the case was closed in October after all
        connection.execute(
            text(
                "UPDATE clock SET status = 'stopped', stopped_at = :at, stopped_by = 'handle' "
                "WHERE stage = 'handle' AND case_id = 1"
            ),
            {"at": cst(10, 14, 9)},
        )
    third = publish(engine, assessor.assess("2026-10"))
    assert third["version"] == 3
    assert {"object": "unit:water", "field": "overdue_unhandled", "was": 1, "now": 0} in third["changes"]
    assert [v["version"] for v in versions(engine, "2026-10")] == [1, 2, 3]
    with engine.db.connect() as connection:
        # the money posted nets to the latest version: nothing is owed now
        owed = connection.execute(text("SELECT object, SUM(amount) FROM ledger_entry GROUP BY object")).all()
        assert {o: round(a, 2) for o, a in owed} == {"unit:street1": 0, "unit:water": 0, "unit:district": 0}
        for statement in ("UPDATE assessment_snapshot SET version = 9", "DELETE FROM ledger_entry"):
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()


def test_the_assess_command(cli, engine, tmp_path, db_url):
    overdue_shared_case(engine)
    base = ["assess", "--profile", TESTCITY, "--db", db_url, "--period", "2026-10"]
    shown = cli(*base)
    assert shown.code == 0 and "考核通报" in shown.out and "水务局" in shown.out
    assert cli(*base, "--format", "xlsx").err.startswith("error: xlsx is binary")
    out = tmp_path / "b.xlsx"
    assert cli(*base, "--format", "xlsx", "-o", out).code == 0 and zipfile.is_zipfile(out)
    why = cli(*base, "--explain", "unit:street1")
    assert "-0.35 overdue" in why.out and "分担 70%" in why.out
    published = cli(*base, "--format", "json", "--publish")
    assert published.code == 0 and "as version 1" in published.err
    again = cli(*base, "--format", "json", "--publish")
    assert "no differences from the last version" in again.err
    bad = cli("assess", "--profile", TESTCITY, "--db", db_url, "--period", "2026-13")
    assert bad.code == 1 and bad.err.startswith("error: cannot read period '2026-13'")
    unknown = cli(*base, "--explain", "unit:nowhere")
    assert (unknown.code, unknown.err) == (1, "error: no unit 'nowhere' to explain\n")
