"""徐州's mechanisms end to end (seed 002). Each test is named after the mechanism it proves."""

import pytest
import shapely

from gridcase.core.assess.assessor import Assessor
from gridcase.core.cases.evidence import Upload
from gridcase.core.people.actor import Actor
from gridcase.core.profile.workflow import TransitionError
from gridcase.plugins.builtin.spot_check import drawn

from ..conftest import unit_grid_centre

PHOTO = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]
CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
SUPERVISOR = Actor.of("supervisor")


@pytest.fixture
def xuzhou(city_engine):
    return city_engine("xuzhou")


def unit_grid_point(engine, n: int) -> list[float]:
    feature = [f for f in engine.profile["grids"]["features"] if f["properties"]["level"] == "unit_grid"][n]
    centre = shapely.geometry.shape(feature["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]


def self_checked(
    engine, n: int, category: str = "0102", kind: str = "event", unit: str = "sanitation"
) -> int:
    """A case the department has handled and checked itself."""
    report = {"channel": "patrol", "category": category, "kind": kind, "point": unit_grid_point(engine, n)}
    case_id = engine.intake(report, SUPERVISOR)["case_id"]
    engine.transition(case_id, "accept", CENTRE)
    standard = {"standard": "missing"} if kind == "component" else {}
    engine.transition(case_id, "file", CENTRE, {"category": category, "kind": kind, **standard})
    engine.transition(case_id, "dispatch", CENTRE, {"units": [unit]})
    department = Actor.of("department", unit=unit)
    engine.transition(case_id, "sign", department)
    engine.transition(case_id, "handle", department, uploads=PHOTO)
    engine.transition(case_id, "self_check", department, uploads=PHOTO)
    return case_id


def one_drawn_and_one_not(engine) -> tuple[int, int]:
    drawn_case = free_case = None
    for n in range(200):
        case_id = self_checked(engine, n)
        if drawn(engine.case(case_id)["number"], 0.1):
            drawn_case = drawn_case or case_id
        else:
            free_case = free_case or case_id
        if drawn_case and free_case:
            return drawn_case, free_case
    raise AssertionError("no case drawn among 200")


def test_the_city_has_the_seeds_structure(xuzhou):
    units = xuzhou.profile["units"]
    counties = {u["code"] for u in units if u.get("kind") == "county"}
    streets = [u for u in units if u.get("kind") == "street" and u["parent"] not in counties]
    departments = [u for u in units if u.get("kind") == "department"]
    assert len([u for u in units if u.get("kind") == "district"]) == 1 + 7 and len(counties) == 5
    assert len(streets) == 54 and {u["class"] for u in streets} == set("ABCDE")
    assert len(departments) == 41 and {u["class"] for u in departments} == {"I", "II", "III"}
    edition = xuzhou.profile["taxonomy"]["editions"][0]
    for kind, majors, minors in (("component", 7, 90), ("event", 6, 81)):
        assert (len(edition[kind]), sum(len(m["minors"]) for m in edition[kind])) == (majors, minors)


def test_shui_chuzhi_shui_hecha_the_department_checks_its_own_work(xuzhou):
    """谁处置谁核查: the department checks its own work; a case not drawn for a spot check closes
    with no supervisor on site, and a drawn one only after the supervisor's re-check."""
    drawn_case, free_case = one_drawn_and_one_not(xuzhou)
    closed = xuzhou.transition(free_case, "close_checked", CENTRE)
    assert closed["state"] == "closed"
    assert "supervisor" not in {r for e in closed["events"][4:] for r in e["actor_roles"]}
    with pytest.raises(TransitionError, match="spot check") as refused:
        xuzhou.transition(drawn_case, "close_checked", CENTRE)
    assert refused.value.code == "guard_refused"
    xuzhou.transition(drawn_case, "check_pass", SUPERVISOR, uploads=PHOTO)
    assert xuzhou.transition(drawn_case, "close", CENTRE)["state"] == "closed"


def test_shui_chuzhi_shui_hecha_switched_off_every_case_closes_unchecked(xuzhou):
    xuzhou.profile["config"]["spot_check"]["share"] = 0
    drawn_case, _ = one_drawn_and_one_not(xuzhou)
    assert xuzhou.transition(drawn_case, "close_checked", CENTRE)["state"] == "closed"


def test_spot_check_share_is_about_the_configured_tenth():
    numbers = [f"E2026101300{n:03d}" for n in range(1, 1000)]
    share = sum(drawn(n, 0.1) for n in numbers) / len(numbers)
    assert 0.07 < share < 0.13


def test_key_problems_count_five_times_in_the_closure_rate(xuzhou):
    """The seven key problems count 2×, 3× or 5×: a closed missing sewer cover (5×) and an open
    street vendor (2×) make a weighted closure rate of 5/7, where counting cases gives 1/2."""
    cover = self_checked(xuzhou, 0, category="0102", kind="component", unit="municipal")
    if drawn(xuzhou.case(cover)["number"], 0.1):
        xuzhou.transition(cover, "check_pass", SUPERVISOR, uploads=PHOTO)
        xuzhou.transition(cover, "close", CENTRE)
    else:
        xuzhou.transition(cover, "close_checked", CENTRE)
    vendor = self_checked(xuzhou, 1, category="0501", kind="event", unit="municipal")
    xuzhou.time.advance(days=20)  # the vendor's case runs out of time, open
    owners = {
        c["owner"] for case in (cover, vendor) for c in xuzhou.case(case)["clocks"] if c["stage"] == "case"
    }
    assert len(owners) == 1  # both count against the street office of their territory
    owner = owners.pop()
    street = next(o for o in Assessor(xuzhou).assess("2026-10")["objects"] if o["code"] == owner)
    assert street["values"]["closed"] == 1 and street["values"]["close_due"] == 2
    assert street["values"]["closure_rate"] == pytest.approx(5 / 7)
    assert xuzhou.case(vendor)["state"] == "self_checked"


def test_units_are_ranked_within_their_class(xuzhou):
    ranking = xuzhou.profile["assessment"]["ranking"]
    assert ranking["within_class"] is True
    classes = {u["code"]: u.get("class") for u in xuzhou.profile["units"]}
    assert classes["street01"] == "A" and classes["municipal"] == "I" and classes["sanitation"] == "II"


def furniture_case(engine, category: str, point: list[float]) -> dict:
    report = {"channel": "patrol", "category": category, "kind": "component", "point": point}
    return engine.case(engine.intake(report, SUPERVISOR)["case_id"])


def test_city_furniture_goes_to_its_owner_or_maintainer(xuzhou):
    """Component-owner routing: a damaged litter bin next to 彭城广场's bin 1 goes to the bin's
    maintainer, a broken railing to the railing's owner, whatever the territory."""
    bin_case = furniture_case(xuzhou, "0305", [117.18521, 34.26121])
    assert (bin_case["component"], bin_case["routing_rule"]) == ("32030200100305001", "component")
    assert [u["unit"] for u in bin_case["units"] if u["role"] == "responsible"] == ["dept11"]
    rail_case = furniture_case(xuzhou, "0211", [117.19031, 34.25841])
    assert [u["unit"] for u in rail_case["units"] if u["role"] == "responsible"] == ["traffic_police"]
    # far from any registered bin: the territory answers, as the standard says
    far_case = furniture_case(xuzhou, "0305", unit_grid_point(xuzhou, 3))
    assert far_case["component"] is None and far_case["routing_rule"] == "territorial"


def county_point(engine, division: str) -> list[float]:
    """A point in a county's territory (its grid codes start with its GB/T 2260 code)."""
    return unit_grid_centre(engine, division)


FENGXIAN = Actor.of("operator", "shift_leader", "dispatcher", unit="fengxian")
PEIXIAN = Actor.of("operator", "shift_leader", "dispatcher", unit="peixian")


def county_case(engine, division: str = "320321") -> int:
    report = {
        "channel": "patrol",
        "category": "0102",
        "kind": "event",
        "point": county_point(engine, division),
    }
    return engine.intake(report, SUPERVISOR)["case_id"]


def test_county_platforms_feed_the_city(xuzhou):
    """市县一体化: 丰县 runs its own platform in the city's deployment. Its people handle the cases
    of its territory with its own units; 沛县's people can neither see nor touch them; the city's
    centre sees them all, and 丰县's work counts in the city's assessment."""
    from gridcase.core.cases import scope
    from gridcase.core.db.connection import read
    from gridcase.core.errors import GridcaseError

    case_id = county_case(xuzhou)
    with pytest.raises(GridcaseError, match="outside the territory of peixian") as refused:
        xuzhou.transition(case_id, "accept", PEIXIAN)
    assert refused.value.code == "forbidden"
    xuzhou.transition(case_id, "accept", FENGXIAN)
    xuzhou.transition(case_id, "file", FENGXIAN, {"category": "0102", "kind": "event"})
    with pytest.raises(TransitionError, match="sanitation is not on the fengxian platform"):
        xuzhou.transition(case_id, "dispatch", FENGXIAN, {"units": ["sanitation"]})  # a city department
    xuzhou.transition(case_id, "dispatch", FENGXIAN, {"units": ["fengxian_town1"]})
    town = Actor.of("department", unit="fengxian_town1")
    xuzhou.transition(case_id, "sign", town)
    xuzhou.transition(case_id, "handle", town, uploads=PHOTO)
    city_case = self_checked(xuzhou, 0)  # a case of the city's own territory
    with read(xuzhou.db) as connection:
        seen = {
            who: (scope.view_of(xuzhou, connection, actor, case_id), scope.view_of(xuzhou, connection, actor, city_case))
            for who, actor in (("fengxian", FENGXIAN), ("peixian", PEIXIAN), ("city", CENTRE))
        }  # fmt: skip
    assert seen == {"fengxian": ("full", None), "peixian": (None, None), "city": ("full", "full")}
    result = {o["code"]: o for o in Assessor(xuzhou).assess("2026-10")["objects"]}
    assert result["fengxian"]["values"]["handled"] == 1 and result["xuzhou"]["values"]["handled"] == 2
    # nor does a county's platform take in reports from another's territory
    other = {
        "channel": "hotline_12319",
        "category": "0102",
        "kind": "event",
        "point": county_point(xuzhou, "320322"),
    }
    with pytest.raises(GridcaseError, match="outside the territory of fengxian"):
        xuzhou.intake(other, FENGXIAN)
    assert xuzhou.intake(other, PEIXIAN)["case_id"]


def test_county_platforms_switched_off_anyone_anywhere(xuzhou):
    from gridcase.core.city import CityProfile
    from gridcase.core.places.tenancy import Tenancy

    xuzhou.places.tenancy = Tenancy(
        CityProfile.of({**xuzhou.profile, "tenancy": {"unit_kinds": []}}),
        xuzhou.catalogue.unit_parents,
        lambda: xuzhou.places.grids,
    )
    case_id = county_case(xuzhou)
    assert xuzhou.transition(case_id, "accept", PEIXIAN)["state"] != "reported"
