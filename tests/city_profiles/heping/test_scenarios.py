"""和平's mechanisms end to end (seed 000). Each test is named after the mechanism it proves."""

import copy

import pytest

from gridcase.core.assess.assessor import Assessor
from gridcase.core.cases.evidence import Upload
from gridcase.core.context import HookContext, RoutingRequest
from gridcase.core.errors import GridcaseError

from ...conftest import change_setting
from .conftest import CENTRE, point_in_street

PHOTO = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]

GARBAGE = {"channel": "leader", "category": "0102", "kind": "event"}  # 暴露垃圾: the sanitation line


def report(engine, street: int, **extra) -> int:
    return engine.intake({**GARBAGE, "point": point_in_street(engine, street), **extra}, CENTRE)["case_id"]


def responsible(engine, case_id: int) -> dict[str, float]:
    return {u["unit"]: u["share"] for u in engine.case(case_id)["units"] if u["role"] == "responsible"}


def test_wusuo_jinjie_a_stations_case_goes_to_the_street_commanding_it(heping):
    """五所进街: exposed garbage is the sanitation station's work, so the street office of the
    case's territory, which commands its sanitation station, answers for it."""
    in_south_market, in_bajing = report(heping, 2), report(heping, 3)
    assert responsible(heping, in_south_market) == {"street02": 0.7, "sanitation_bureau": 0.3}
    assert responsible(heping, in_bajing) == {"street03": 0.7, "sanitation_bureau": 0.3}
    case = heping.case(in_south_market)
    assert case["routing_rule"] == "command"
    assert "南市场街道办事处指挥本辖区的南市场环卫所" in case["routing_explanation"]
    # a water-line class in the same street goes to the same street, shared with the water bureau
    cover = heping.intake(
        {"channel": "leader", "category": "0404", "kind": "event", "point": point_in_street(heping, 2)},
        CENTRE,
    )["case_id"]
    assert responsible(heping, cover) == {"street02": 0.7, "water_bureau": 0.3}


def test_wusuo_jinjie_switched_off_falls_back_to_the_territory(heping):
    """Without the class's line the built-in router has nothing to command and takes the
    community of the case's grid (属地兜底): the mechanism is what sends it to the street."""
    profile = copy.deepcopy(heping.profile)
    for major in profile["taxonomy"]["editions"][0]["event"]:
        for minor in major.get("minors", []):
            minor.pop("line", None)
    grids = tuple(_grid_chain(heping, 2))
    request = RoutingRequest("0102", "event", grids[0], grids, heping.places.grids.units_of(grids), None)
    routed = heping.pm.hook.route_case(ctx=HookContext.offline(profile), request=request)
    assert routed["rule"] == "territorial" and routed["units"][0]["unit"].startswith("community")


def test_yishi_shuangze_the_deduction_splits_70_30(heping):
    """一事双责: a media exposure costs 10 points (¥10,000 at ¥1,000 a point), 7 to the street
    office and 3 to the bureau, and the money follows the points."""
    case_id = report(heping, 2)
    heping.transition(case_id, "accept", CENTRE)
    heping.transition(case_id, "file", CENTRE, payload={"category": "0102", "kind": "event"})
    heping.transition(case_id, "expose", CENTRE, reason="晚报曝光：南市场暴露垃圾")
    result = {o["code"]: o for o in Assessor(heping).assess("2026-10")["objects"]}
    assert result["street02"]["deductions"] == {"media": 7}
    assert result["sanitation_bureau"]["deductions"] == {"media": 3}
    assert (result["street02"]["ledgers"]["fines"], result["sanitation_bureau"]["ledgers"]["fines"]) == (
        7000,
        3000,
    )
    assert result["street03"]["deducted"] == 0


def test_three_sixty_assessment_of_streets_and_bureaus_from_seven_inputs(heping):
    """360°: a street office and a bureau are scored on platform cases, cadre cases, 一事双责,
    mutual inspection, supervision, media exposure and 代整治; findings lower the inputs they
    belong to, and a station keeps the standard department composite."""
    from gridcase.core.people.actor import Actor

    case_id = report(heping, 2)
    heping.transition(case_id, "accept", CENTRE)
    heping.transition(case_id, "file", CENTRE, payload={"category": "0102", "kind": "event"})
    heping.transition(case_id, "dispatch", CENTRE, payload={"units": ["street02"]})  # 五所进街
    heping.transition(case_id, "sign", Actor.of("department", unit="street02"))
    heping.transition(case_id, "supervise", CENTRE, reason="区领导督办")
    heping.transition(case_id, "inspect", CENTRE, reason="互查：垃圾未清")
    heping.transition(case_id, "expose", CENTRE, reason="晚报曝光")
    heping.transition(case_id, "handle", Actor.of("department", unit="street02"), uploads=PHOTO)
    result = {o["code"]: o for o in Assessor(heping).assess("2026-10")["objects"]}
    street, idle = result["street02"]["composite"], result["street05"]["composite"]
    assert (
        street["code"] == "three_sixty" and result["sanitation_bureau"]["composite"]["code"] == "three_sixty"
    )
    assert [t["code"] for t in street["terms"]] == [
        "platform", "cadre", "shared", "inspection", "supervision", "media", "takeover",
    ]  # fmt: skip
    terms = {t["code"]: t for t in street["terms"]}
    idle_terms = {t["code"]: t for t in idle["terms"]}
    for finding in ("inspection", "supervision", "media"):
        assert (terms[finding]["value"], terms[finding]["score"]) == (1, 80), finding
        assert idle_terms[finding]["score"] == 100
    assert terms["takeover"]["score"] == 100 and terms["cadre"]["score"] is None  # no cadre cases here
    assert result["street02_sanitation"]["composite"]["code"] == "department"


def test_the_city_has_the_seeds_structure(heping):
    kinds = {}
    for unit in heping.profile["units"]:
        kinds[unit["kind"]] = kinds.get(unit["kind"], 0) + 1
    assert (kinds["street"], kinds["community"], kinds["station"]) == (13, 100, 65)
    assert sum(1 for u in heping.profile["units"] if u.get("parent") == "centre") == 9
    levels = {}
    for feature in heping.profile["grids"]["features"]:
        levels[feature["properties"]["level"]] = levels.get(feature["properties"]["level"], 0) + 1
    assert levels == {"district": 1, "street": 13, "community": 100, "unit_grid": 130}
    streets = [u for u in heping.profile["units"] if u["kind"] == "street"]
    assert all(len(s["commands"]) == 5 for s in streets)
    # 民生110 grew the taxonomy to 35 major and 337 minor classes
    edition = heping.profile["taxonomy"]["editions"][0]
    majors = edition["component"] + edition["event"]
    assert (len(majors), sum(len(m["minors"]) for m in majors)) == (35, 337)


def _grid_chain(engine, street: int) -> list[str]:
    located = engine.places.grids.locate(*point_in_street(engine, street))
    return located["grids"]


def test_chumen_jiu_shangban_a_cadres_reports_count_toward_a_monthly_quota_of_15(heping):
    """出门就上班: cadre reports come in on their own channel and each cadre's month is measured
    against the quota of 15; reports that join an earlier case still count."""
    from gridcase.core.people.actor import Actor
    from gridcase.core.places.units import add_person

    busy, idle = (add_person(heping.db, name, name, ["cadre"]) for name in ("cadre_li", "cadre_wang"))
    for n in range(16):
        street = 1 + n % 13
        heping.intake(
            {
                "channel": "cadre",
                "category": "0102",
                "kind": "event",
                "point": point_in_street(heping, street),
            },
            Actor.of("cadre", id=busy),
        )  # the last three land on cases already open: duplicates, still the cadre's reports
    heping.intake(
        {**GARBAGE, "channel": "cadre", "point": point_in_street(heping, 5)}, Actor.of("cadre", id=idle)
    )
    heping.intake(GARBAGE | {"point": point_in_street(heping, 6)}, CENTRE)  # not a cadre's
    people = {o["code"]: o["values"] for o in Assessor(heping).assess("2026-10", by="person")["objects"]}
    assert (people[str(busy)]["cadre_reports"], people[str(busy)]["cadre_quota"]) == (16, 1)
    assert people[str(idle)]["cadre_reports"] == 1
    assert round(people[str(idle)]["cadre_quota"], 4) == round(1 / 15, 4)


def test_minsheng110_every_call_gets_a_reply_within_8_hours_from_the_first_contact(heping):
    """民生110: a call on 96127 starts a reply clock of 8 hours, owned by the centre that took it
    (首问负责) whoever handles the problem; replying stops it; an unanswered call turns red."""
    from datetime import timedelta

    call = {
        "channel": "minsheng110",
        "category": "0102",
        "kind": "event",
        "description": "楼下垃圾三天没人清",
    }
    answered = heping.intake({**call, "point": point_in_street(heping, 4)}, CENTRE)["case_id"]
    forgotten = heping.intake({**call, "point": point_in_street(heping, 7)}, CENTRE)["case_id"]
    (clock,) = [c for c in heping.case(answered)["clocks"] if c["stage"] == "reply"]
    assert clock["owner"] == "centre" and clock["deadline"] - clock["started_at"] == timedelta(hours=8)
    assert responsible(heping, answered) == {
        "street04": 0.7,
        "sanitation_bureau": 0.3,
    }  # handling is another matter
    heping.time.advance(hours=3)
    heping.transition(answered, "reply", CENTRE, reason="已联系环卫所，今日清运")
    heping.time.advance(hours=6)
    lights = {
        case_id: [heping.limits.deadlines.light(c, heping.time.now()) for c in heping.case(case_id)["clocks"]
                  if c["stage"] == "reply"][0]
        for case_id in (answered, forgotten)
    }  # fmt: skip
    stopped = [c for c in heping.case(answered)["clocks"] if c["stage"] == "reply"][0]
    assert stopped["status"] == "stopped" and stopped["stopped_at"] < stopped["deadline"]
    assert lights[forgotten] == "red"
    # other channels owe no reply clock
    patrol = heping.intake({**GARBAGE, "point": point_in_street(heping, 9)}, CENTRE)["case_id"]
    assert not [c for c in heping.case(patrol)["clocks"] if c["stage"] == "reply"]


def overdue_at_the_station(heping, street: int) -> tuple[int, str]:
    """A case dispatched to the street's sanitation station, signed for and left undone."""
    station = f"street{street:02d}_sanitation"
    return signed_for(heping, street, station), station


def signed_for(heping, street: int, unit: str, category: str = "0102") -> int:
    """A report in the street, accepted, filed, dispatched to `unit` and signed for there."""
    from gridcase.core.people.actor import Actor

    case_id = report(heping, street, category=category)
    heping.transition(case_id, "accept", CENTRE)
    heping.transition(case_id, "file", CENTRE, payload={"category": category, "kind": "event"})
    heping.transition(case_id, "dispatch", CENTRE, payload={"units": [unit]})
    heping.transition(case_id, "sign", Actor.of("department", unit=unit))
    return case_id


def test_daizhengzhi_an_overdue_case_is_taken_over_and_the_owner_pays(heping):
    """代整治: while the station still has time the centre cannot take the case away; once its
    handling is overdue, the community fixes it, and the takeover is charged to the station
    (¥1,000 in the takeover ledger), not to the community that did the work."""
    from gridcase.core.errors import GridcaseError

    case_id, station = overdue_at_the_station(heping, 4)
    fix = {"units": ["community031"], "cost": "¥800"}
    with pytest.raises(GridcaseError, match="not overdue") as refused:
        heping.transition(case_id, "take_over", CENTRE, payload=fix, reason="社区代为清理")
    assert refused.value.code == "guard_refused"
    heping.time.advance(days=3)
    case = heping.transition(case_id, "take_over", CENTRE, payload=fix, reason="社区代为清理")
    assert [u["unit"] for u in case["units"] if u["role"] == "handling" and u["active"]] == ["community031"]
    assert case["events"][-1]["unit"] == station and case["events"][-1]["payload"]["cost"] == "¥800"
    result = {o["code"]: o for o in Assessor(heping).assess("2026-10")["objects"]}
    assert result[station]["deductions"].get("takeover") == 1
    assert result[station]["ledgers"]["takeover"] == 1000
    assert result["community031"]["deductions"].get("takeover", 0) == 0


def test_daizhengzhi_switched_off_no_one_can_take_an_overdue_case(heping, switch_off):
    switch_off(heping, "standard", "take_over")
    case_id, _ = overdue_at_the_station(heping, 4)
    heping.time.advance(days=3)
    from gridcase.core.profile.workflow import TransitionError

    with pytest.raises(TransitionError, match="no transition 'take_over'"):
        heping.transition(
            case_id, "take_over", CENTRE, payload={"units": ["community031"], "cost": "¥800"}, reason="x"
        )


def digests(heping) -> list[dict]:
    from sqlalchemy import select

    from gridcase.core.db.connection import read
    from gridcase.core.db.models import Outbox

    with read(heping.db) as connection:
        rows = connection.execute(select(Outbox.__table__).where(Outbox.__table__.c.event.like("digest:%")))
        return [dict(r) for r in rows.mappings()]


def test_daily_digest_at_1730_once_per_unit(heping):
    """The 17:30 SMS: each street office and bureau gets its day's figures once, at 17:30 local
    time, however many sweeps follow."""
    from datetime import timedelta

    report(heping, 2)
    report(heping, 2, point=point_in_street(heping, 2))  # the same problem again: a duplicate, not new
    heping.sweep(heping.time.advance(hours=8))  # 17:00
    assert digests(heping) == []
    heping.sweep(heping.time.advance(minutes=31))  # 17:31
    sent = {r["recipient"]: r for r in digests(heping)}
    assert len(sent) == 13 + 5 and {r["channel"] for r in sent.values()} == {"sms"}
    assert sent["unit:street02"]["payload"]["new"] == 1 and sent["unit:street03"]["payload"]["new"] == 0
    assert sent["unit:sanitation_bureau"]["payload"]["new"] == 1  # 一事双责: the bureau answers too
    assert (
        sent["unit:street02"]["text"]
        == "【每日通报】南市场街道办事处 2026-10-13：新增1件，办结0件，超期未处置0件。"
    )
    heping.sweep(heping.time.advance(minutes=30))
    assert len(digests(heping)) == 18
    heping.sweep(heping.time.now() + timedelta(days=1))  # the next day's goes out once more
    assert len(digests(heping)) == 36


def test_daily_digest_switched_off_sends_nothing(heping):
    change_setting(heping, "notifications", digests=())
    report(heping, 2)
    heping.sweep(heping.time.advance(hours=9))
    assert digests(heping) == []


def _handled_in_street(heping, street: int, findings: bool) -> None:
    """A case of the street's own, handled on time; with `findings`, an inspection and a
    supervision against it (two findings that lower its 360° score)."""
    from gridcase.core.people.actor import Actor

    unit = f"street{street:02d}"
    case_id = signed_for(heping, street, unit)
    if findings:
        heping.transition(case_id, "inspect", CENTRE, reason="互查：垃圾未清")
        heping.transition(case_id, "supervise", CENTRE, reason="区领导督办")
    heping.transition(case_id, "handle", Actor.of("department", unit=unit), uploads=PHOTO)


def _awarded(heping) -> tuple[list[str], dict]:
    assessor = Assessor(heping)
    assessor.scoring.min_sample = 0  # a test city of a few cases: rank every unit that has a score
    result = {o["code"]: o for o in assessor.assess("2026-10")["objects"]}
    streets = sorted(c for c, o in result.items() if o["awards"] and c.startswith("street"))
    return streets, result


def _street03_best_but_unpaid(heping) -> int:
    """Eight streets with a case each, 03 the best of them, and a case of 03's that ran overdue
    and was taken over (代整治) and not paid for; returns that case."""
    for street in (1, 2, 4, 5, 6, 7, 8):
        _handled_in_street(heping, street, findings=True)
    _handled_in_street(heping, 3, findings=False)  # the best score of all
    owed = signed_for(heping, 3, "street03", category="0104")  # another class: not a duplicate
    with pytest.raises(GridcaseError, match="not taken over"):
        heping.transition(owed, "pay_takeover", CENTRE, payload={"payment": "¥1,000"})
    heping.time.advance(days=3)
    heping.transition(
        owed,
        "take_over",
        CENTRE,
        payload={"units": ["community017"], "cost": "¥1,000"},
        reason="社区代为清理",
    )
    return owed


def test_monthly_awards_go_to_the_top_6_and_never_to_an_owner_who_neither_fixes_nor_pays(heping):
    """Awards: ¥40,000 to each of the top 6 streets (and top 6 bureaus) of the 360° ranking. A
    street that let a case run overdue, had it taken over (代整治) and has not paid for that is
    barred, however well it scores, and the next street moves up; once it pays, it is back."""
    owed = _street03_best_but_unpaid(heping)

    streets, result = _awarded(heping)
    assert result["street03"]["rank"] == 1  # it scores best, and gets nothing: 07 moves up
    assert streets == ["street01", "street02", "street04", "street05", "street06", "street07"]
    assert result["street03"]["barred"] == [{"award": "monthly_award", "because": {"takeover_unpaid": 1}}]
    assert result["street07"]["ledgers"]["monthly_award"] == 40000
    assert result["street03"]["ledgers"]["monthly_award"] == 0
    assert len([o for o in result.values() if o["awards"] and o["code"].endswith("_bureau")]) <= 6

    heping.transition(owed, "pay_takeover", CENTRE, payload={"payment": "¥1,000"})
    with pytest.raises(GridcaseError, match="already been paid"):
        heping.transition(owed, "pay_takeover", CENTRE, payload={"payment": "¥1,000"})
    streets, result = _awarded(heping)
    assert streets == ["street01", "street02", "street03", "street04", "street05", "street06"]
    assert result["street03"]["barred"] == [] and result["street07"]["ledgers"]["monthly_award"] == 0


def test_monthly_awards_switched_off_the_bar_an_unpaying_owner_is_rewarded(heping):
    """Without `barred_by`, the street that neither fixed nor paid takes the first award."""
    heping.profile["assessment"]["awards"][0]["barred_by"] = []
    _street03_best_but_unpaid(heping)
    streets, result = _awarded(heping)
    assert "street03" in streets and result["street03"]["barred"] == []


def test_grid_workers_lose_3_yuan_a_problem_capped_at_their_performance_pay(heping):
    """Each worker responsible for a problem's grid, or for a grid above it, loses a point (¥3)
    per problem filed there, and never more than their performance pay; a worker of another
    grid loses nothing."""
    from gridcase.core.places.units import add_person

    grid = heping.places.grids.locate(*point_in_street(heping, 2))["grids"]  # unit grid, community, street …
    unit_grid, community_grid = grid[0], grid[1]
    other = heping.places.grids.locate(*point_in_street(heping, 5))["grids"][0]
    low = add_person(heping.db, "w_low", "网格员甲", ["supervisor"], grids=[unit_grid],
                     attributes={"performance_pay": 5})  # fmt: skip
    above = add_person(heping.db, "w_above", "网格员乙", ["supervisor"], grids=[community_grid],
                       attributes={"performance_pay": 1000})  # fmt: skip
    elsewhere = add_person(heping.db, "w_other", "网格员丙", ["supervisor"], grids=[other])
    for category in ("0102", "0103", "0104"):  # three problems (one class each, so none is a duplicate)
        case_id = report(heping, 2, category=category)
        heping.transition(case_id, "accept", CENTRE)
        heping.transition(case_id, "file", CENTRE, payload={"category": category, "kind": "event"})
    result = {int(o["code"]): o for o in Assessor(heping).assess("2026-10", by="person")["objects"]}
    assert result[low]["deductions"] == {"grid_workers": 3} and result[low]["ledgers"]["worker_pay"] == 5
    assert result[above]["deductions"] == {"grid_workers": 3} and result[above]["ledgers"]["worker_pay"] == 9
    assert result[elsewhere]["deductions"] == {} and result[elsewhere]["ledgers"]["worker_pay"] == 0


def test_grid_workers_deduction_switched_off_no_worker_pays(heping):
    from gridcase.core.places.units import add_person

    heping.profile["assessment"]["deductions"] = [
        d for d in heping.profile["assessment"]["deductions"] if d["code"] != "grid_workers"
    ]
    grid = heping.places.grids.locate(*point_in_street(heping, 2))["grids"][0]
    worker = add_person(heping.db, "w_low", "网格员甲", ["supervisor"], grids=[grid],
                        attributes={"performance_pay": 5})  # fmt: skip
    case_id = report(heping, 2)
    heping.transition(case_id, "accept", CENTRE)
    heping.transition(case_id, "file", CENTRE, payload={"category": "0102", "kind": "event"})
    result = {int(o["code"]): o for o in Assessor(heping).assess("2026-10", by="person")["objects"]}
    assert result[worker]["deductions"] == {} and result[worker]["ledgers"]["worker_pay"] == 0
