"""Every hook in hookspecs.py, exercised through the place that calls it.

A city plugin is loaded the way a deployment loads it: named in the profile's `plugins:`.
tests/test_docs.py checks that each hook has a `test_<hook>` here or elsewhere.
"""

from datetime import UTC

import pluggy
import pytest
from starlette.testclient import TestClient

from gridcase.core.cli.main import build_app
from gridcase.core.places.gridindex import GridIndex
from gridcase.core.plugins import PluginLoadError, collect, get_plugin_manager
from gridcase.core.profile import ProfileError, load_validated
from gridcase.core.web.app import create_app

CITY_PLUGIN = """
import typer
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from gridcase.core.hookspecs import hookimpl

calls = []

@hookimpl
def register_profile_schemas():
    return [{"block": "testcity", "schema": {"type": "object", "additionalProperties": False,
             "properties": {"quota": {"type": "integer", "minimum": 1}}}}]

@hookimpl
def register_guards():
    return [{"name": "weekday_only", "check": lambda ctx: None if ctx["payload"].get("weekday") else "weekdays only"}]

@hookimpl
def register_channels(profile):
    return [{"code": "cadre", "name": "干部上报", "kind": "cadre", "verify": False},
            {"code": "patrol", "name": "被覆盖", "kind": "other"}]

@hookimpl
def register_indicators(profile):
    return [{"code": "cadre_reports", "name": "干部上报数", "count": "reported", "where": {"channels": ["cadre"]}},
            {"code": "cadre_share", "name": "干部上报占比", "formula": "cadre_reports / reported"}]

class Sms:
    channel = "sms"
    def send(self, message):
        calls.append(("sms", message))

@hookimpl
def register_senders():
    return [Sms()]

@hookimpl
def register_routes():
    return [Route("/city/hello", lambda request: PlainTextResponse("你好"))]

@hookimpl
def register_admin_pages():
    return [{"path": "/admin/city", "title": {"zh": "城市页面"}, "roles": ["admin"],
             "endpoint": lambda request: PlainTextResponse("city page")}]

city = typer.Typer(name="city", help="City commands")
@city.command("hello")
def hello():
    typer.echo("hello from the city")

@hookimpl
def register_commands():
    return [city]

@hookimpl
def classify_case(report, profile):
    if "井盖" in report.get("description", ""):
        return {"class": "0102", "confidence": 1.0, "explanation": "city rule"}

@hookimpl
def route_case(case, profile):
    if case.get("class") == "0102":
        return {"units": [{"unit": "street", "share": 0.7}, {"unit": "bureau", "share": 0.3}],
                "rule": "dual", "explanation": "一事双责"}

@hookimpl
def locate_case(report, profile, grids):
    if report.get("point") == [0, 0]:
        return {"grid": "null-island", "grids": ["null-island"], "unit": None}

@hookimpl
def before_transition(case, transition, actor, payload):
    if transition["code"] == "close" and "leader" not in actor["roles"]:
        return "only leaders close here"

@hookimpl
def after_transition(case, event):
    calls.append(("after_transition", event["transition"]))

@hookimpl
def adjust_deadline(case, clock, deadline):
    if clock["stage"] == "handle":
        return deadline.replace(hour=17, minute=30)

@hookimpl
def after_time_limit_event(case, clock, event):
    calls.append(("time_limit", event["kind"]))

@hookimpl
def split_case_consequences(case, units):
    return [{"unit": units[0]["unit"], "share": 1.0}]

@hookimpl
def adjust_scores(results, period):
    return [{"object": r["object"], "points": -1, "reason": "media exposure", "cases": []} for r in results]
"""

PROFILE = """
name: testcity
extends: standard
plugins: [./city.py]
config:
  testcity: {quota: 15}
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
"""


@pytest.fixture
def city(make_profile):
    folder = make_profile("testcity", {"profile.yaml": PROFILE, "city.py": CITY_PLUGIN})
    profile, pm = load_validated(folder)
    return profile.plain(), pm, pm.get_plugin("./city.py")


def test_register_profile_schemas(city, make_profile):
    _, pm, _ = city
    assert "testcity" in {b["block"] for b in collect(pm, "register_profile_schemas")}
    bad = make_profile(
        "bad", {"profile.yaml": PROFILE.replace("quota: 15", "quota: 0"), "city.py": CITY_PLUGIN}
    )
    with pytest.raises(ProfileError) as info:
        load_validated(bad)
    assert [(i.pointer, i.mark.line) for i in info.value.issues] == [("/config/testcity/quota", 5)]


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
            "profile.yaml": PROFILE.replace("./city.py", "./none.py").replace(
                "config:\n  testcity: {quota: 15}\n", ""
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


def test_classify_case(city):
    profile, pm, _ = city
    # the city plugin decides first…
    found = pm.hook.classify_case(report={"description": "路边井盖丢了"}, profile=profile)
    assert (found["class"], found["explanation"]) == ("0102", "city rule")
    # …and the built-in keyword classifier answers when the city has nothing to say:
    # the longest term wins, so 暴露垃圾 (event 0102) beats the shorter 垃圾箱-style matches
    found = pm.hook.classify_case(report={"description": "小区门口有暴露垃圾，很臭"}, profile=profile)
    assert found["class"] == "0102" and "暴露垃圾" in found["explanation"]
    found = pm.hook.classify_case(report={"description": "垃圾箱坏了"}, profile=profile)
    assert found["class"] == "0305"
    assert pm.hook.classify_case(report={"description": "天气不错"}, profile=profile) is None


def test_locate_case(city):
    profile, pm, _ = city
    grids = GridIndex.from_profile(profile)
    found = pm.hook.locate_case(report={"point": [123.05, 41.05]}, profile=profile, grids=grids)
    assert (found["grid"], found["grids"], found["unit"]) == (
        "210102001001001",
        ["210102001001001", "210102"],
        "street",
    )
    assert (
        pm.hook.locate_case(report={"point": [123.15, 41.15]}, profile=profile, grids=grids)["grid"]
        == "210102"
    )
    assert pm.hook.locate_case(report={"point": [10.0, 10.0]}, profile=profile, grids=grids) is None
    assert (
        pm.hook.locate_case(report={"point": [0, 0]}, profile=profile, grids=grids)["grid"] == "null-island"
    )


def test_route_case(city):
    profile, pm, _ = city
    routed = pm.hook.route_case(case={"class": "0102"}, profile=profile)
    assert (routed["rule"], [u["share"] for u in routed["units"]]) == ("dual", [0.7, 0.3])
    # built-in precedence: the component's maintainer, then the territorial fallback (属地兜底)
    routed = pm.hook.route_case(
        case={"class": "0101", "component": {"code": "1", "maintainer_unit": "bureau"}}, profile=profile
    )
    assert (routed["rule"], routed["units"]) == ("component", [{"unit": "bureau", "share": 1.0}])
    routed = pm.hook.route_case(
        case={"class": "0501", "grids": ["210102001001001", "210102"]}, profile=profile
    )
    assert (routed["rule"], routed["units"][0]["unit"]) == ("territorial", "street")
    assert "属地兜底" in routed["explanation"]
    assert pm.hook.route_case(case={"class": "0501"}, profile=profile) is None


def test_before_transition(city):
    _, pm, _ = city
    vetoes = pm.hook.before_transition(
        case={}, transition={"code": "close"}, actor={"roles": ["shift_leader"]}, payload={}
    )
    assert vetoes == ["only leaders close here"]
    assert (
        pm.hook.before_transition(
            case={}, transition={"code": "close"}, actor={"roles": ["leader"]}, payload={}
        )
        == []
    )


def test_after_transition(city):
    _, pm, plugin = city
    pm.hook.after_transition(case={}, event={"transition": "dispatch"})
    assert plugin.calls[-1] == ("after_transition", "dispatch")


def test_adjust_deadline(city):
    from datetime import datetime

    _, pm, _ = city
    deadline = datetime(2026, 10, 9, 10, 0, tzinfo=UTC)
    assert pm.hook.adjust_deadline(case={}, clock={"stage": "handle"}, deadline=deadline).hour == 17
    assert pm.hook.adjust_deadline(case={}, clock={"stage": "check"}, deadline=deadline) is None


def test_after_time_limit_event(city):
    _, pm, plugin = city
    pm.hook.after_time_limit_event(case={}, clock={"stage": "handle"}, event={"kind": "red"})
    assert plugin.calls[-1] == ("time_limit", "red")


def test_split_case_consequences(city):
    _, pm, _ = city
    split = pm.hook.split_case_consequences(
        case={}, units=[{"unit": "street", "share": 0.7}, {"unit": "bureau", "share": 0.3}]
    )
    assert split == [{"unit": "street", "share": 1.0}]


def test_adjust_scores(city):
    _, pm, _ = city
    (adjustments,) = pm.hook.adjust_scores(
        results=[{"object": "street", "composite": "department", "score": 90}], period={}
    )
    assert adjustments[0]["points"] == -1


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
    assert order.index("./city.py") > order.index("gridcase.plugins.builtin.routing")
    assert isinstance(pm, pluggy.PluginManager)
