"""Deadlines through the engine, on real dates: filing before National Day, urgency across a
night, 挂账 in the middle of a stage, approved and denied extensions, a 24h unit, lights."""

from datetime import datetime
from zoneinfo import ZoneInfo

from gridcase.core.cases.evidence import Upload
from gridcase.core.people.actor import Actor
from gridcase.core.sla.deadlines import Deadlines

CST = ZoneInfo("Asia/Shanghai")
PHOTO = [Upload("p.jpg", b"\xff\xd8\xff\xe0" + bytes(64))]
supervisor, operator, leader = Actor.of("supervisor"), Actor.of("operator"), Actor.of("shift_leader")
dispatcher, water = Actor.of("dispatcher"), Actor.of("department", unit="water")


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def clock(case, stage, status="running"):
    return next(c for c in case["clocks"] if c["stage"] == stage and c["status"] == status)


def dispatched_case(engine, standard="damaged", when="2026-09-25T10:00", point=(120.61, 31.337)):
    """A 上水井盖 case filed with `standard` and dispatched to water at `when` (CST)."""
    engine.time.set(at(when))
    case_id = engine.intake(
        {"channel": "patrol", "point": list(point), "category": "0101", "kind": "component"}, supervisor
    )["case_id"]
    engine.transition(case_id, "accept", operator)
    engine.transition(
        case_id, "file", leader, payload={"category": "0101", "kind": "component", "standard": standard}
    )
    return engine.transition(case_id, "dispatch", dispatcher, payload={"units": ["water"]})


def test_intake_and_stage_clocks_get_their_deadlines(engine):
    engine.time.set(at("2026-10-13T09:00"))
    case = engine.case(
        engine.intake(
            {"channel": "patrol", "point": [120.61, 31.337], "category": "0101", "kind": "component"},
            supervisor,
        )["case_id"]
    )
    accept = clock(case, "accept")
    assert (accept["deadline"], accept["rule"], accept["unit"], accept["amount"]) == (
        at("2026-10-13T09:15"),
        "rule:accept",
        "minute",
        15,
    )
    assert accept["yellow_at"] == at("2026-10-13T09:12")
    assert case["events"][0]["effects"]["deadlines"][0] == {
        "stage": "accept",
        "why": "start",
        "deadline": "2026-10-13T01:15:00+00:00",
        "rule": "rule:accept",
    }


def test_a_case_filed_on_the_friday_before_national_day(engine):
    # 4 working hours from Friday 25 September 10:00 (Mid-Autumn holiday): Monday 28 September 12:00
    case = dispatched_case(engine, "damaged", "2026-09-25T10:00")
    handle = clock(case, "handle")
    assert handle["rule"] == "standard:0101/damaged" and handle["deadline"] == at("2026-09-28T12:00")


def test_an_urgent_limit_runs_through_the_night(engine):
    case = dispatched_case(engine, "missing", "2026-10-13T23:00")
    assert clock(case, "handle")["deadline"] == at("2026-10-14T01:00")  # 2 紧急工作时, continuous


def test_shelving_in_the_middle_of_a_stage_keeps_the_remaining_time(engine):
    case = dispatched_case(engine, "damaged", "2026-10-13T09:00")  # due 13:00 (lunch excluded)
    assert clock(case, "handle")["deadline"] == at("2026-10-13T15:00")
    engine.transition(case["id"], "sign", water)
    engine.time.set(at("2026-10-13T10:00"))
    engine.transition(case["id"], "request_shelve", water, reason="需要立项")
    engine.transition(case["id"], "approve_shelve", dispatcher)  # 3 working hours left
    engine.time.set(at("2026-10-16T16:00"))  # Friday afternoon
    case = engine.transition(case["id"], "resume", dispatcher)
    assert clock(case, "handle")["deadline"] == at("2026-10-19T09:00")  # 2 h Friday, 1 h from Monday 08:00
    assert case["events"][-1]["effects"]["deadlines"][0]["why"] == "resume"


def test_an_approved_extension_moves_the_deadline_and_a_denied_one_does_not(engine):
    case = dispatched_case(engine, "damaged", "2026-10-13T09:00")
    engine.transition(case["id"], "sign", water)
    engine.transition(
        case["id"], "request_extension", water, payload={"amount": "1 work_day"}, reason="需要采购"
    )
    case = engine.transition(case["id"], "deny_extension", dispatcher, reason="理由不足")
    assert (
        clock(case, "handle")["deadline"] == at("2026-10-13T15:00") and case["events"][-1]["effects"] is None
    )
    engine.transition(
        case["id"], "request_extension", water, payload={"amount": "1 work_day"}, reason="需要采购"
    )
    case = engine.transition(case["id"], "approve_extension", dispatcher, payload={"amount": "1 work_day"})
    assert clock(case, "handle")["deadline"] == at("2026-10-14T15:00")
    # the yellow light keeps its 80 % of the longer limit (12 working hours: 9.6 h in), so the
    # case is green again until then
    assert clock(case, "handle")["yellow_at"] == at("2026-10-14T10:36")
    assert engine.limits.deadlines.light(clock(case, "handle"), at("2026-10-13T16:00")) == "green"
    assert case["events"][-1]["effects"]["deadlines"] == [
        {
            "stage": "handle",
            "why": "extend",
            "by": "1 work_day",
            "was": "2026-10-13T07:00:00+00:00",
            "deadline": "2026-10-14T07:00:00+00:00",
        }
    ]


def test_a_unit_with_a_round_the_clock_calendar(engine):
    profile = {**engine.profile, "units": [{"code": "team", "calendar": "round_the_clock"}]}
    deadlines = Deadlines(profile)
    case = {"kind": "component", "class_code": "0101", "major_code": "01", "standard": "damaged"}
    start = at("2026-10-13T17:00")
    assert deadlines.compute("handle", case, start).deadline == at("2026-10-14T11:00")
    assert deadlines.compute("handle", case, start, handling_unit="team").deadline == at("2026-10-13T21:00")


def test_rule_precedence(engine):
    deadlines = Deadlines(engine.profile)
    event = {"kind": "event", "class_code": "0501", "major_code": "05", "urgent": False}
    assert deadlines.limit("handle", event).rule == "rule:handle_event"
    assert deadlines.limit("handle", {**event, "urgent": True}).rule == "rule:handle_urgent"
    assert deadlines.limit("file", {**event, "urgent": True}).rule == "rule:file_urgent"
    assert deadlines.limit("case", event).rule == "rule:case"  # the whole case: 5 working days
    assert deadlines.limit("accept_again", event) is None  # a stage no rule names has no limit


def test_lights(engine):
    deadlines = Deadlines(engine.profile)
    running = {"deadline": at("2026-10-13T12:00"), "yellow_at": at("2026-10-13T11:00"), "paused_at": None}
    assert [
        deadlines.light(running, at(t)) for t in ("2026-10-13T10:00", "2026-10-13T11:30", "2026-10-13T12:01")
    ] == ["green", "yellow", "red"]
    assert (
        deadlines.light({**running, "paused_at": at("2026-10-13T10:00")}, at("2026-10-14T10:00")) == "green"
    )


def test_a_plugin_can_adjust_a_deadline(engine):
    from gridcase.core.hookspecs import hookimpl

    class FiveThirty:
        @hookimpl
        def adjust_deadline(self, ctx, clock, deadline):
            if clock.stage != "handle":
                return None
            local = ctx.local(deadline)  # 17:30 in the city, not in UTC
            return local.replace(hour=17, minute=30)

    engine.pm.register(FiveThirty(), name="five_thirty")
    try:
        case = dispatched_case(engine, "damaged", "2026-10-13T09:00")
        assert clock(case, "handle")["deadline"] == at("2026-10-13T17:30")
        assert clock(case, "dispatch", "stopped")["deadline"] == at("2026-10-13T09:15")
    finally:
        engine.pm.unregister(name="five_thirty")


def test_a_taxonomy_edit_applies_only_to_clocks_started_after_it(engine, tmp_path):
    import shutil

    from gridcase.core.engine import Engine

    before = dispatched_case(engine, "damaged", "2026-10-13T09:00")
    edited = tmp_path / "edited"
    shutil.copytree(engine.profile_obj.folder, edited)
    text = (edited / "profile.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "            - {code: '0101', unit: water}",
        "            - {code: '0101', unit: water, standards: [{code: damaged, condition: 破损, time_limit: 1 work_day}]}",
    )
    (edited / "profile.yaml").write_text(text, encoding="utf-8")
    url = engine.db.url.render_as_string(hide_password=False)
    after_edit = Engine.open(edited, url, time=engine.time, evidence=engine.evidence)
    later = dispatched_case(after_edit, "damaged", "2026-10-13T09:00", point=(120.63, 31.337))
    assert clock(later, "handle")["deadline"] == at("2026-10-14T09:00")  # the new limit: 1 working day
    assert clock(after_edit.case(before["id"]), "handle")["deadline"] == at("2026-10-13T15:00")  # unchanged
    after_edit.db.dispose()


def test_elapsed_time_is_measured_in_the_clocks_own_unit(engine):
    case = dispatched_case(engine, "damaged", "2026-10-13T09:00")  # 4 工作时
    deadlines = Deadlines(engine.profile)
    handle = clock(case, "handle")
    assert deadlines.elapsed(handle, at("2026-10-13T14:30")) == 3.5  # lunch does not count
    assert (
        deadlines.elapsed(handle, at("2026-10-14T09:00")) == 8
    )  # 7 h on Tuesday, 1 h on Wednesday: overdue, still counting
    assert deadlines.elapsed(clock(case, "case"), at("2026-10-14T09:00")) == 1  # in working days
    unlimited = {**handle, "deadline": None, "unit": None, "amount": None}
    assert deadlines.elapsed(unlimited, at("2026-10-14T09:00")) is None


def test_yellow_can_be_a_fixed_time_before_the_deadline(engine):
    profile = {
        **engine.profile,
        "time_limits": {**engine.profile["time_limits"], "lights": {"yellow_remaining": "1 work_hour"}},
    }
    due = Deadlines(profile).compute(
        "handle",
        {"kind": "component", "class_code": "0101", "major_code": "01", "standard": "damaged"},
        at("2026-10-13T09:00"),
    )
    # from 12:00 only one working hour is left (14:00–15:00): the light turns yellow at noon
    assert (due.deadline, due.yellow_at) == (at("2026-10-13T15:00"), at("2026-10-13T12:00"))


def test_an_administrators_day_off_moves_only_deadlines_started_after_it(engine):
    from datetime import date

    from gridcase.core.sla.overrides import set_override

    before = dispatched_case(engine, "loose", "2026-10-13T09:00")  # two working days: Thursday 09:00
    assert clock(before, "handle")["deadline"] == at("2026-10-15T09:00")
    set_override(engine.db, date(2026, 10, 14), False, engine.time.now(), reason="停电检修", by="admin")
    engine.limits.refresh_calendars()
    after = dispatched_case(engine, "loose", "2026-10-13T09:00", point=(120.63, 31.337))
    assert clock(after, "handle")["deadline"] == at("2026-10-16T09:00")  # Wednesday no longer counts
    assert clock(engine.case(before["id"]), "handle")["deadline"] == at("2026-10-15T09:00")  # unchanged


def test_a_deadline_past_the_published_schedule_is_provisional_until_the_year_is_confirmed(engine):
    from datetime import date

    from gridcase.core.sla.overrides import confirm_year, set_override

    # two working days from Wednesday 30 December: 2027's 调休 is not published, so New Year's
    # Day counts as the statutory holiday and the deadline is provisional
    case = dispatched_case(engine, "loose", "2026-12-30T09:00")
    handle = clock(case, "handle")
    assert handle["deadline"] == at("2027-01-04T09:00")
    assert handle["provisional_from"] == at("2027-01-01T00:00")
    assert case["events"][-1]["effects"]["deadlines"][-1]["provisional"] is True
    # the year's schedule arrives as an administrator's overrides: 4 January is a day off too
    set_override(engine.db, date(2027, 1, 4), False, engine.time.now(), reason="元旦调休")
    confirm_year(engine.db, 2027, engine.time.now(), reason="国办发明电〔2026〕号", by="admin")
    engine.limits.refresh_calendars()
    engine.sweep()
    case = engine.case(case["id"])
    handle = clock(case, "handle")
    assert handle["deadline"] == at("2027-01-05T09:00") and handle["provisional_from"] is None
    event = case["events"][-1]
    assert event["transition"] == "recompute_deadlines"
    assert event["effects"]["deadlines"] == [  # the whole-case clock (5 working days) moves too
        {
            "stage": stage,
            "why": "recompute",
            "was": f"2027-01-0{was}T01:00:00+00:00",
            "deadline": f"2027-01-0{now}T01:00:00+00:00",
        }
        for stage, was, now in (("case", 7, 8), ("handle", 4, 5))
    ]
    engine.sweep()  # nothing more to recompute, nothing recorded twice
    assert len(engine.case(case["id"])["events"]) == len(case["events"])


def test_a_provisional_deadline_keeps_until_its_days_change(engine):
    from datetime import date

    from gridcase.core.sla.overrides import set_override

    case = dispatched_case(engine, "loose", "2026-12-30T09:00")
    events = len(case["events"])
    # an override on a day the deadline does not cross changes nothing
    set_override(engine.db, date(2027, 3, 1), False, engine.time.now())
    engine.limits.refresh_calendars()
    engine.sweep()
    case = engine.case(case["id"])
    assert clock(case, "handle")["deadline"] == at("2027-01-04T09:00")
    assert clock(case, "handle")["provisional_from"] == at("2027-01-01T00:00")
    assert len(case["events"]) == events


def test_the_calendar_commands(cli, db_url):
    base = ["--profile", "tests/profiles/testcity", "--db", db_url]
    assert cli("calendar", "set", "2027-02-10", "--off", "--reason", "春节", "--by", "admin", *base).code == 0
    assert cli("calendar", "set", "2027-02-20", "--working", "--calendar", "round_the_clock", *base).code == 0
    listed = cli("calendar", "list", *base).out.splitlines()
    assert listed == [
        "default          2027-02-10 off      by admin: 春节",
        "round_the_clock  2027-02-20 working ",
    ]
    assert cli("calendar", "set", "2027-02-10", "--off", "--calendar", "moon", *base).err.startswith(
        "error: no calendar 'moon'"
    )
    assert cli("calendar", "set", "tomorrow", "--off", *base).err.startswith(
        "error: 'tomorrow' is not a date"
    )
    assert cli("calendar", "unset", "2027-02-10", *base).code == 0
    assert cli("calendar", "unset", "2027-02-10", *base).code == 1


def test_the_sweep_counts_provisional_deadlines_again_only_when_the_calendars_changed(engine, monkeypatch):
    from datetime import date

    from gridcase.core.sla.overrides import set_override

    dispatched_case(engine, "loose", "2026-12-30T09:00")
    calls = []
    recompute = engine.limits.clocks.recompute
    monkeypatch.setattr(engine.limits.clocks, "recompute", lambda *a: calls.append(a) or recompute(*a))
    engine.sweep()
    engine.sweep()  # the same calendars: every provisional deadline was counted on them
    assert len(calls) == 1
    set_override(engine.db, date(2027, 1, 4), False, engine.time.now())
    engine.limits.refresh_calendars()
    engine.sweep()
    assert len(calls) == 2
