"""Every hook in hookspecs.py, exercised through the place that calls it.

The city plugin (tests/plugins/everyhook.py) is loaded the way a deployment loads it: named in
the profile's `plugins:`. The start-up hooks are asked as start-up asks them; the others run in
a real engine on each database, filing, moving and assessing cases.
tests/test_docs.py checks that each hook has a `test_<hook>` here or elsewhere.
"""

from datetime import UTC, datetime
from pathlib import Path

import pluggy
import pytest
from starlette.testclient import TestClient

from gridcase.core.assess.assessor import Assessor
from gridcase.core.cli.main import build_app
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.notify.outbox import outbox_listing
from gridcase.core.people.actor import Actor
from gridcase.core.plugins import PluginLoadError, collect, get_plugin_manager
from gridcase.core.profile import ProfileError, load_validated
from gridcase.core.profile.workflow import TransitionError
from gridcase.core.timesource import ManualTime
from gridcase.core.web.app import create_app

EVERYHOOK = Path(__file__).parents[1] / "plugins" / "everyhook.py"

PROFILE = """
name: testcity
extends: standard
plugins: [PLUGIN]
config:
  everyhook: {quota: 15}
grid_levels:
  - {code: district, name: 区}
  - {code: unit_grid, name: 单元网格}
units:
  - {code: street, name: 一街道, kind: street}
  - {code: bureau, name: 市容局, kind: department}
grids:
  type: FeatureCollection
  features:
    - {type: Feature, properties: {code: '210102', level: district, unit: street},
       geometry: {type: Polygon, coordinates: [[[123.0, 41.0], [123.2, 41.0], [123.2, 41.2], [123.0, 41.2], [123.0, 41.0]]]}}
    - {type: Feature, properties: {code: '210102001001001', level: unit_grid, parent: '210102'},
       geometry: {type: Polygon, coordinates: [[[123.0, 41.0], [123.1, 41.0], [123.1, 41.1], [123.0, 41.1], [123.0, 41.0]]]}}
workflow:
  workflows:
    - code: standard
      transitions:
        - {code: sign, guards: [weekday_only]}
""".replace("PLUGIN", str(EVERYHOOK))


@pytest.fixture
def city(make_profile):
    folder = make_profile("testcity", {"profile.yaml": PROFILE})
    profile, pm = load_validated(folder)
    return profile.plain(), pm, pm.get_plugin(str(EVERYHOOK))


def test_register_profile_schemas(city, make_profile):
    _, pm, _ = city
    assert "everyhook" in {b["block"] for b in collect(pm, "register_profile_schemas")}
    bad = make_profile("bad", {"profile.yaml": PROFILE.replace("quota: 15", "quota: 0")})
    with pytest.raises(ProfileError) as info:
        load_validated(bad)
    assert [(i.pointer, i.mark.line) for i in info.value.issues] == [("/config/everyhook/quota", 5)]


def test_register_guards(city, make_profile):
    profile, pm, _ = city
    guards = {g["name"]: g["check"] for g in collect(pm, "register_guards")}
    ctx = {"case": {}, "transition": {"code": "sign"}, "actor": {}, "payload": {}, "profile": profile}
    assert guards["weekday_only"](ctx) == "weekdays only"
    assert guards["weekday_only"]({**ctx, "payload": {"weekday": True}}) is None
    # the built-in guard: a hotline report needs 核实 before filing
    check = guards["verification_not_required"]
    assert "核实" in check({**ctx, "case": {"channel": "hotline_12319"}})
    assert check({**ctx, "case": {"channel": "hotline_12319", "verified": True}}) is None
    assert check({**ctx, "case": {"channel": "patrol"}}) is None
    # a transition naming a guard no plugin registered is a validation error
    folder = make_profile(
        "noguard",
        {
            "profile.yaml": PROFILE.replace(str(EVERYHOOK), "./none.py").replace(
                "config:\n  everyhook: {quota: 15}\n", ""
            ),
            "none.py": "",
        },
    )
    with pytest.raises(ProfileError) as info:
        load_validated(folder)
    assert "unknown guard 'weekday_only'" in str(info.value)


def test_register_channels(city):
    profile, _, _ = city
    channels = {c["code"]: c for c in profile["channels"]}
    assert channels["cadre"]["kind"] == "cadre"
    assert channels["patrol"]["name"]["zh"] == "监督员上报"  # the profile's own channel wins


def test_register_indicators(city):
    profile, _, _ = city
    indicators = {i["code"]: i for i in profile["assessment"]["indicators"]}
    assert indicators["cadre_share"]["formula"] == "cadre_reports / reported"


def test_register_senders(city):
    _, pm, plugin = city
    senders = {sender.channel: sender for sender in collect(pm, "register_senders")}
    assert set(senders) == {"log", "webhook", "sms"}  # the built-ins and the city's gateway
    senders["sms"].send({"text": "超期提醒"})
    assert plugin.calls[-1] == ("sms", {"text": "超期提醒"})


def test_register_routes(city):
    profile, pm, _ = city
    client = TestClient(create_app(pm=pm, profile=profile))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/city/hello").text == "你好"


def test_register_admin_pages(city):
    profile, pm, _ = city
    app = create_app(pm=pm, profile=profile)
    assert [p["path"] for p in app.state.admin_pages] == ["/admin/city"]
    assert TestClient(app).get("/admin/city").text == "city page"


def test_register_commands(city, capsys):
    _, pm, _ = city
    app = build_app(pm)
    with pytest.raises(SystemExit) as info:
        app(args=["city", "hello"], prog_name="gridcase")
    assert info.value.code == 0
    assert capsys.readouterr().out == "hello from the city\n"


# -- the hooks a deployment runs ---------------------------------------------------------

supervisor = Actor.of("supervisor")
operator = Actor.of("operator")
leader = Actor.of("shift_leader")
dispatcher = Actor.of("dispatcher")
water = Actor.of("department", unit="water")
STREET1 = [120.61, 31.337]  # unit grid 320508001001001, street1's
HOOKED = """
name: hooked
extends: {testcity}
plugins: [{plugin}]
config:
  everyhook: {{route_0501_to: police}}
workflow:
  workflows:
    - code: standard
      transitions:
        - {{code: hand_over, name: 移交, from: [dispatched, handling], to: dispatched, roles: [dispatcher],
           moves: [hand_to_partner]}}
        - {{code: inspect, name: 联合检查, from: [handling], roles: [dispatcher], moves: [inspection],
           requires: {{fields: [inspectors]}}}}
assessment:
  indicators:
    - {{code: notices, name: 城市插件通知数, count: everyhook_notices}}
"""


@pytest.fixture
def hooked(make_profile, db_url, tmp_path):
    """The test city with the everyhook plugin, on each database, on Tuesday 2026-10-13 09:00 CST."""
    from gridcase.core.cases.evidence import EvidenceStore

    from ..conftest import TESTCITY

    folder = make_profile("hooked", {"profile.yaml": HOOKED.format(testcity=TESTCITY, plugin=EVERYHOOK)})
    engine = Engine.open(
        folder,
        db_url,
        time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence"),
    )
    engine.load_reference_data()
    plugin = engine.pm.get_plugin(str(EVERYHOOK))
    plugin.calls.clear()
    yield engine, plugin.calls
    engine.db.dispose()


def report(engine, point=STREET1, **fields):
    fields.setdefault("category", "0101")
    fields.setdefault("kind", "component")
    return engine.intake({"channel": "patrol", "point": point, **fields}, supervisor)


def dispatched(engine, category="0101", kind="component", point=STREET1, **payload):
    case_id = report(engine, category=category, kind=kind, point=point)["case_id"]
    engine.transition(case_id, "accept", operator)
    filing = {"category": category, "kind": kind, "standard": "missing"}
    engine.transition(case_id, "file", leader, payload=filing)
    engine.transition(case_id, "dispatch", dispatcher, payload={"units": ["water"], **payload})
    return case_id


def notices(engine, event="everyhook"):
    rows = reversed(outbox_listing(engine.db, limit=100)["rows"])  # oldest first
    return [(n["recipient"], n["text"]) for n in rows if n["event"] == event]


def test_classify_case(hooked):
    engine, _ = hooked
    # the city plugin decides first…
    case = engine.case(report(engine, category=None, kind=None, description="路边井盖丢了")["case_id"])
    assert (case["class_code"], case["kind"]) == ("0101", "component")
    # …and the built-in keyword classifier answers when the city has nothing to say
    case = engine.case(report(engine, category=None, kind=None, description="小区门口有暴露垃圾")["case_id"])
    assert case["class_code"] == "0102"
    with pytest.raises(GridcaseError) as info:
        report(engine, category=None, kind=None, description="天气不错")
    assert info.value.code == "unclassifiable"


def test_locate_case(hooked):
    engine, _ = hooked
    # the plugin places what the built-in finds outside every grid
    case = engine.case(report(engine, point=[0.0, 0.0])["case_id"])
    assert case["grid"] == "320508001001001"
    # elsewhere the built-in locator answers from the deployment's grids
    case = engine.case(report(engine, point=[120.61, 31.305])["case_id"])
    assert case["grid_path"].startswith("/320508/320508002/")
    with pytest.raises(GridcaseError) as info:
        report(engine, point=[10.0, 10.0])
    assert info.value.code == "out_of_area"


def test_route_case(hooked):
    engine, _ = hooked
    # the plugin's rule, from its own config block: 0501 goes to the police here
    case = engine.case(report(engine, category="0501", kind="event")["case_id"])
    responsible = [(u["unit"], u["share"]) for u in case["units"] if u["role"] == "responsible"]
    assert (case["routing_rule"], responsible) == ("everyhook", [("police", 1.0)])
    # other classes fall through to the built-in router: the class's own shares
    case = engine.case(report(engine, category="0103", kind="component")["case_id"])
    assert case["routing_rule"] == "class_shares"


def test_after_case_created(hooked):
    engine, calls = hooked
    filed = report(engine)
    duplicate = report(engine)  # joins the case: not a new case
    assert duplicate["duplicate"] and duplicate["case_id"] == filed["case_id"]
    created = [c for c in calls if c[0] == "created"]
    assert created == [("created", filed["number"], "320508001001001", ("street1", "district"), ("water",))]
    # the plugin's notice went through the outbox, where the centre sees and delivers it
    assert notices(engine) == [("unit:street1", f"新案件 {filed['number']}")]
    engine.sweep()
    sent = outbox_listing(engine.db, status="sent")["rows"]
    assert [(n["recipient"], n["channel"]) for n in sent if n["event"] == "everyhook"] == [
        ("unit:street1", "log")
    ]


def test_before_transition(hooked):
    engine, _ = hooked
    case_id = report(engine, description="测试一下")["case_id"]
    with pytest.raises(TransitionError) as info:
        engine.transition(case_id, "accept", operator)
    assert (info.value.code, info.value.details["reasons"]) == ("vetoed", ["test reports are not accepted"])
    assert engine.case(case_id)["state"] == "reported"  # nothing was written
    engine.transition(report(engine, point=[120.61, 31.305])["case_id"], "accept", operator)


def test_during_transition(hooked):
    engine, _ = hooked
    case_id = dispatched(engine)
    # inside the transaction: the case as the dispatch leaves it, and the notice in the outbox
    assert notices(engine)[-1][1].endswith("派给 water")
    # a refusal from inside rolls back the transition and what the plugin wrote with it
    other = report(engine, point=[120.61, 31.305])["case_id"]
    engine.transition(other, "accept", operator)
    engine.transition(
        other, "file", leader, payload={"category": "0101", "kind": "component", "standard": "missing"}
    )
    before = len(notices(engine))
    with pytest.raises(GridcaseError) as info:
        engine.transition(other, "dispatch", dispatcher, payload={"units": ["water"], "explode": True})
    assert info.value.code == "refused_by_city"
    assert engine.case(other)["state"] == "pending_dispatch"
    assert len(notices(engine)) == before
    assert engine.case(case_id)["state"] == "dispatched"


def test_register_unit_moves(hooked, make_profile):
    from ..conftest import TESTCITY

    engine, calls = hooked
    case_id = dispatched(engine)
    case = engine.transition(case_id, "hand_over", dispatcher)
    # the move chose the unit; core re-dispatched the case to it, and the water bureau let go
    assert [u["unit"] for u in case["units"] if u["role"] == "handling" and u["active"]] == ["police"]
    number = engine.case(case_id)["number"]
    assert ("move", number, "hand_over", ["water"]) in calls
    engine.transition(case_id, "sign", Actor.of("department", unit="police"))
    parent = engine.transition(
        case_id, "inspect", dispatcher, payload={"inspectors": ["water", "city_admin"]}
    )
    subtasks = engine.case(case_id)["subtasks"]
    assert [(s["number"], s["routing_rule"], s["routing_explanation"]) for s in subtasks] == [
        (f"{number}-1", "inspection", "联合检查子任务：water"),
        (f"{number}-2", "inspection", "联合检查子任务：city_admin"),
    ]
    assert parent["state"] == "handling"  # an action that keeps the state, the case still police's
    # a move's refusal is the transition's, and nothing of it is written
    other = dispatched(engine, point=[120.61, 31.305])
    with pytest.raises(TransitionError) as info:
        engine.transition(other, "hand_over", dispatcher, payload={"hold": True}, reason="督查")
    assert (info.value.code, info.value.message) == (
        "held",
        f"case {engine.case(other)['number']} is held by 督查",
    )
    case = engine.case(other)
    assert (case["state"], case["version"]) == ("dispatched", 4)
    assert [u["unit"] for u in case["units"] if u["role"] == "handling" and u["active"]] == ["water"]
    # a transition naming a move no plugin registered is a profile error, where it is written
    folder = make_profile(
        "nomove",
        {
            "profile.yaml": HOOKED.format(testcity=TESTCITY, plugin=EVERYHOOK).replace(
                "[inspection]", "[oops]"
            )
        },
    )
    with pytest.raises(ProfileError) as info:
        load_validated(folder)
    assert "unknown unit move 'oops'" in str(info.value)


def test_after_transition(hooked):
    engine, calls = hooked
    dispatched(engine)
    after = [c[1:] for c in calls if c[0] == "after"]
    assert after == [
        ("accept", "pending_file", 2, "受理"),
        ("file", "pending_dispatch", 3, "立案"),
        ("dispatch", "dispatched", 4, "派遣"),
    ]


def test_adjust_deadline(hooked):
    engine, _ = hooked
    case = engine.case(dispatched(engine, category="0103"))
    handle = next(c for c in case["clocks"] if c["stage"] == "handle")
    local = handle["deadline"].astimezone(engine.city.timezone)
    assert (local.hour, local.minute) == (17, 30)
    # the plugin leaves other classes' deadlines alone
    case = engine.case(dispatched(engine, point=[120.615, 31.337]))
    handle = next(c for c in case["clocks"] if c["stage"] == "handle")
    assert handle["deadline"].astimezone(engine.city.timezone).time() != local.time()


def test_after_time_limit_event(hooked):
    engine, calls = hooked
    number = engine.case(dispatched(engine))["number"]
    engine.time.advance(days=30)
    engine.sweep()
    seen = {c[1:] for c in calls if c[0] == "time_limit"}
    assert (number, "red", "handle", True, True) in seen and (number, "yellow", "handle", True, True) in seen


def test_register_assessment_facts(hooked, make_profile):
    engine, _ = hooked
    dispatched(engine)
    dispatched(engine, point=[120.615, 31.337])  # another case in street1
    result = Assessor(engine).assess("2026-10", by="unit")
    values = {o["code"]: o["values"].get("notices") for o in result["objects"]}
    assert values["street1"] == 2 and values["water"] == 2  # two new cases, two dispatches
    explained = Assessor(engine).explain("2026-10", "unit:water", "notices")
    assert (explained["value"], explained["fact"]) == (2, "everyhook_notices")
    # a fact no plugin registers is still a validation error
    from ..conftest import TESTCITY

    folder = make_profile(
        "nofact",
        {
            "profile.yaml": HOOKED.format(testcity=TESTCITY, plugin=EVERYHOOK).replace(
                "count: everyhook_notices", "count: nobody_counts_this"
            )
        },
    )
    with pytest.raises(ProfileError) as info:
        load_validated(folder)
    assert "unknown fact 'nobody_counts_this'" in str(info.value)


def test_split_case_consequences(hooked):
    engine, calls = hooked
    case_id = dispatched(engine, category="0103")  # street1 70 %, water 30 %
    engine.time.advance(days=30)
    result = Assessor(engine).assess("2026-10", by="unit")
    splits = [c for c in calls if c[0] == "split"]
    assert splits and splits[0][1] == engine.case(case_id)["number"]
    deducted = {o["code"]: o["deducted"] for o in result["objects"]}
    assert deducted["street1"] > 0 and deducted.get("water", 0) == 0  # all of it on the first unit


def test_adjust_scores(hooked):
    engine, _ = hooked
    dispatched(engine)
    result = Assessor(engine).assess("2026-10", by="unit")
    water_result = next(o for o in result["objects"] if o["code"] == "water")
    assert water_result["adjustments"] == [{"points": -1.0, "reason": "media exposure", "cases": []}]
    quiet = next(o for o in result["objects"] if o["code"] == "city_admin")
    assert quiet["adjustments"] == []


def test_a_misspelt_hook_fails_at_start_up(make_profile):
    folder = make_profile(
        "typo",
        {
            "profile.yaml": "name: typo\nextends: standard\nplugins: [./typo.py]\n",
            "typo.py": "from gridcase.core.hookspecs import hookimpl\n\n@hookimpl\ndef route_cases(case, profile):\n    return None\n",
        },
    )
    with pytest.raises(ProfileError) as info:
        load_validated(folder)
    (issue,) = info.value.issues
    assert issue.pointer == "/plugins/0" and issue.mark.line == 3
    assert (
        issue.message == "implements 'route_cases', which is not a gridcase hook (did you mean 'route_case'?)"
    )


def test_a_hookimpl_with_a_wrong_argument_fails_at_start_up(tmp_path):
    (tmp_path / "bad.py").write_text(
        "from gridcase.core.hookspecs import hookimpl\n\n@hookimpl\ndef route_case(case, profil):\n    return None\n"
    )
    with pytest.raises(PluginLoadError) as info:
        get_plugin_manager(["./bad.py"], tmp_path)
    assert "profil" in info.value.reason


def test_city_plugins_run_before_builtins(city):
    _, pm, _ = city
    order = [name for name, _ in pm.list_name_plugin()]
    assert order.index(str(EVERYHOOK)) > order.index("gridcase.plugins.builtin.routing")
    assert isinstance(pm, pluggy.PluginManager)


def test_the_context_reads_what_a_plugin_needs_and_refuses_an_unknown_recipient(hooked):
    engine, _ = hooked
    case_id = dispatched(engine)
    ctx = engine.hooks.context()
    assert [e.code for e in ctx.cases.events(case_id)] == ["report", "accept", "file", "dispatch"]
    assert ctx.cases.get(case_id).units_in("handling") == ("water",)
    assert [g.code for g in ctx.grids.chain("320508001001001")][-1] == "320508"
    assert ctx.units.get("water").name == "水务局" and ctx.units.get("nosuch") is None
    assert case_id in ctx.cases.open_in_grid("320508001")
    with pytest.raises(GridcaseError) as info:
        ctx.notify("water", "a bare code names no one a sender knows")
    assert info.value.code == "invalid_notice" and "unit:<code>" in info.value.message
    engine.time.advance(days=30)
    engine.sweep()
    assert {(e.kind, e.stage) for e in engine.hooks.context().cases.lights(case_id)} >= {("red", "handle")}


def test_errors_a_plugin_that_failed_to_load_may_cause_say_so(make_profile):
    folder = make_profile(
        "broken",
        {
            "profile.yaml": "name: broken\nextends: standard\nplugins: [./broken.py]\nconfig:\n  broken: {a: 1}\n",
            "broken.py": "import nosuchmodule\n",
        },
    )
    with pytest.raises(ProfileError) as info:
        load_validated(folder)
    first, second = info.value.issues
    assert first.pointer == "/plugins/0" and "nosuchmodule" in first.message
    assert second.pointer.startswith("/config") and "plugin './broken.py' failed to load" in second.message
