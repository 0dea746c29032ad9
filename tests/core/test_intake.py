"""Intake: validation before anything is written, idempotency, duplicates, coordinates,
classification, components and case numbers."""

import prcoords
import pytest
from sqlalchemy import func, select

from gridcase.core.cases.evidence import Upload
from gridcase.core.db.models import Case, CaseEvent, Evidence, Report
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.submit import Submission
from gridcase.core.people.actor import Actor
from gridcase.core.places import components
from gridcase.core.places.units import add_person

JPEG = b"\xff\xd8\xff\xe0" + bytes(100)
POINT = [120.61, 31.337]
supervisor = Actor.of("supervisor")
citizen = Actor.of("citizen", id=None)


def counts(engine):
    with engine.db.connect() as connection:
        return tuple(
            connection.execute(select(func.count()).select_from(t.__table__)).scalar_one()
            for t in (Case, Report, CaseEvent, Evidence)
        )


def cover(**extra):
    return {"channel": "patrol", "point": POINT, "category": "0101", "kind": "component", **extra}


@pytest.mark.parametrize(
    ("report", "uploads", "code"),
    [
        (cover(category="9999"), [], "unknown_category"),
        (cover(category="0502", kind="event"), [], "category_disabled"),
        (cover(kind=None), [], "ambiguous_category"),
        (cover(point=[116.4, 39.9]), [], "out_of_area"),
        (cover(point=[200, 31]), [], "invalid_report"),
        (cover(point="here"), [], "invalid_report"),
        (cover(crs="utm"), [], "invalid_report"),
        (cover(channel="carrier_pigeon"), [], "unknown_channel"),
        (cover(category=None, description="今天天气很好"), [], "unclassifiable"),
        (cover(component="3205080101999999"), [], "unknown_component"),
        (cover(), [Upload("big.jpg", JPEG + bytes(300_000))], "evidence_too_large"),
        (cover(), [Upload("photo.jpg", b"<html><script>alert(1)</script></html>")], "evidence_type"),
        (cover(), [Upload("../../etc/passwd.jpg", b"%PDF-1.4 ...")], "evidence_type"),
        (cover(), [Upload("empty.jpg", b"")], "evidence_empty"),
    ],
)
def test_bad_reports_get_a_clear_error_and_write_nothing(engine, report, uploads, code):
    before = counts(engine)
    with pytest.raises(GridcaseError) as info:
        engine.intake(report, supervisor, uploads)
    assert info.value.code == code and info.value.message
    assert counts(engine) == before
    assert not [p for p in engine.evidence.root.rglob("*") if p.is_file()]


def test_a_channel_takes_reports_only_from_its_roles(engine):
    with pytest.raises(GridcaseError) as info:
        engine.intake(cover(), citizen)
    assert info.value.code == "forbidden" and "patrol" in info.value.message


def test_the_same_idempotency_key_returns_the_same_case(engine):
    first = engine.intake(cover(), supervisor, idempotency_key="handset-42-0001")
    again = engine.intake(cover(), supervisor, idempotency_key="handset-42-0001")
    assert again == {**first, "replay": True}
    assert counts(engine)[:3] == (1, 1, 1)


def test_keys_are_each_callers_own_and_bound_to_their_body_within_a_batch_too(engine):
    a, b = (Actor.of("supervisor", id=add_person(engine.db, n, n, ["supervisor"])) for n in ("a", "b"))
    far = [120.62, 31.338]
    out = engine.intake_many(
        [
            Submission(cover(), a, key="k"),
            Submission(cover(point=far), b, key="k"),  # another caller's key
            Submission(cover(description="别的"), a, key="k"),  # the same caller's, another body
            Submission(cover(), a, key="k"),  # a retry arriving with its first try
        ]
    )
    assert [o["replay"] for o in (out[0], out[1], out[3])] == [False, False, True]
    assert out[1]["case_id"] != out[0]["case_id"] and out[3]["case_id"] == out[0]["case_id"]
    assert isinstance(out[2], GridcaseError) and out[2].code == "idempotency_key_reused"
    with pytest.raises(GridcaseError, match="idempotency_key|Idempotency-Key"):
        engine.intake(cover(point=far), a, idempotency_key="k")  # after the commit
    assert engine.intake(cover(point=far), b, idempotency_key="k")["replay"] is True
    assert counts(engine)[:2] == (2, 2)


def test_a_nearby_report_of_the_same_class_joins_the_open_case(engine):
    first = engine.intake(cover(), supervisor)
    near = engine.intake({**cover(point=[120.6101, 31.3371]), "channel": "app"}, citizen)
    assert (near["duplicate"], near["case_id"]) == (True, first["case_id"])
    case = engine.case(first["case_id"])
    assert case["report_count"] == 2 and [r["duplicate"] for r in case["reports"]] == [False, True]
    assert case["events"][-1]["transition"] == "duplicate_report" and case["state"] == "reported"
    # farther than the radius, another class, or after the window: a new case
    far = engine.intake(cover(point=[120.612, 31.337]), supervisor)
    other = engine.intake(cover(category="0102"), supervisor)
    engine.time.advance(hours=25)
    late = engine.intake(cover(), supervisor)
    assert not any(r["duplicate"] for r in (far, other, late))
    assert len({first["case_id"], far["case_id"], other["case_id"], late["case_id"]}) == 4


def test_a_class_can_have_its_own_duplicate_rule(engine):
    vendor = {"channel": "patrol", "category": "0501", "kind": "event"}
    first = engine.intake({**vendor, "point": [120.61, 31.305]}, supervisor)
    near = engine.intake({**vendor, "point": [120.6108, 31.305]}, supervisor)  # ~76 m: within 0501's 100 m
    assert near["case_id"] == first["case_id"]
    engine.time.advance(hours=3)  # 0501's window is 2 hours
    assert engine.intake({**vendor, "point": [120.61, 31.305]}, supervisor)["duplicate"] is False


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_app_coordinates_are_stored_as_wgs84(engine, crs):
    wgs = prcoords.Coords(31.337, 120.61)
    sent = prcoords.wgs_gcj(wgs) if crs == "gcj02" else prcoords.wgs_bd(wgs)
    result = engine.intake(cover(point=[sent.lon, sent.lat], crs=crs), supervisor)
    case = engine.case(result["case_id"])
    assert abs(case["lon"] - 120.61) < 1e-6 and abs(case["lat"] - 31.337) < 1e-6
    assert case["grid"] == "320508001001001" and case["reports"][0]["crs"] == crs


def test_a_report_without_a_category_is_classified_from_its_text(engine):
    result = engine.intake({"channel": "patrol", "point": POINT, "description": "路边有暴露垃圾"}, supervisor)
    case = engine.case(result["case_id"])
    assert (case["kind"], case["class_code"]) == ("event", "0102")
    assert "暴露垃圾" in case["events"][0]["payload"]["classified"]


def test_routing_falls_back_to_the_territorial_unit(engine):
    case = engine.case(engine.intake(cover(category="0102", kind="event"), supervisor)["case_id"])
    assert (case["routing_rule"], [u["unit"] for u in case["units"]]) == ("territorial", ["street1"])
    assert "属地兜底" in case["routing_explanation"]


def test_a_class_with_shares_has_several_responsible_units(engine):
    case = engine.case(engine.intake(cover(category="0103"), supervisor)["case_id"])
    assert sorted((u["unit"], u["share"]) for u in case["units"]) == [("street1", 0.7), ("water", 0.3)]


def test_components_route_to_their_maintainer_and_are_found_nearby(engine):
    rows = [
        {
            "code": "3205080101000001",
            "class_code": "0101",
            "lon": 120.6100,
            "lat": 31.3370,
            "maintainer_unit": "water_north",
            "grid": "320508001001001",
        },
        {
            "code": "3205080101000002",
            "class_code": "0101",
            "lon": 120.6300,
            "lat": 31.3370,
            "owner_unit": "water",
        },
    ]
    report = components.import_rows(engine.db, iter(enumerate(rows, start=2)), engine.profile)
    assert (report.imported, report.rejected) == (2, 0)
    named = engine.case(engine.intake(cover(component="3205080101000001"), supervisor)["case_id"])
    assert (named["component"], named["routing_rule"], named["units"][0]["unit"]) == (
        "3205080101000001",
        "component",
        "water_north",
    )
    nearby = engine.case(engine.intake(cover(point=[120.6302, 31.3371]), supervisor)["case_id"])
    assert (nearby["component"], nearby["units"][0]["unit"]) == ("3205080101000002", "water")
    with pytest.raises(GridcaseError) as info:
        engine.intake(cover(category="0102", component="3205080101000001"), supervisor)
    assert info.value.code == "invalid_report"


def test_case_numbers_follow_the_profile_format_and_count_per_day(engine):
    numbers = [
        engine.intake(cover(point=[120.601 + 0.003 * n, 31.337]), supervisor)["number"] for n in range(3)
    ]
    assert numbers == ["C2026101300001", "C2026101300002", "C2026101300003"]
    event = engine.intake(
        {"channel": "patrol", "point": POINT, "category": "0501", "kind": "event"}, supervisor
    )
    assert event["number"] == "E2026101300001"
    engine.time.advance(days=1)
    assert engine.intake(cover(point=[120.62, 31.337]), supervisor)["number"] == "C2026101400001"


def test_photos_are_stored_once_by_content_with_safe_names(engine):
    uploads = [Upload("../../现场 照片.jpg", JPEG), Upload("again.jpg", JPEG)]
    case = engine.case(engine.intake(cover(), supervisor, uploads)["case_id"])
    assert [e["filename"] for e in case["evidence"]] == ["现场 照片.jpg", "again.jpg"]
    assert len({e["sha256"] for e in case["evidence"]}) == 1
    stored = [p for p in engine.evidence.root.rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == JPEG
    assert engine.evidence.read(case["evidence"][0]["sha256"]) == JPEG
    stored[0].unlink()  # a row whose file is gone is "not found", never a 500
    with pytest.raises(GridcaseError) as info:
        engine.evidence.read(case["evidence"][0]["sha256"])
    assert info.value.code == "not_found"
