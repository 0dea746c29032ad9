"""The admin UI over HTTP: login, navigation and permissions, CSRF, escaping, the taxonomy
editor (validation, history, revert, new cases only, YAML export), operations and dashboards."""

import html
import io
import json
import re
import zipfile

import pytest
import yaml
from sqlalchemy import update
from starlette.testclient import TestClient

from gridcase.core.db.models import Grid
from gridcase.core.people.actor import Actor
from gridcase.core.profile.loader import load
from gridcase.core.profile.validate import validate

from .conftest import JPEG, PASSWORD, STREET1, csrf_of

CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
FILE = {"category": "0101", "kind": "component", "standard": "missing"}
SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'


def intake_form(desk, **extra):
    data = {"channel": "leader", "category": "component:0101", "lon": STREET1[0], "lat": STREET1[1], **extra}
    return desk.post("/ui/cases", data=data)


def new_case(desk, **extra) -> int:
    done = intake_form(desk, **extra)
    assert done.status_code == 204, done.text
    return int(done.headers["HX-Redirect"].rsplit("/", 1)[1])


def dispatched(engine, case_id: int) -> None:
    engine.transition(case_id, "accept", CENTRE)
    engine.transition(case_id, "file", CENTRE, payload=FILE)
    engine.transition(case_id, "dispatch", CENTRE, payload={"units": ["water"]})


# -- login and navigation ----------------------------------------------------------------


def test_pages_need_a_login_and_a_wrong_password_says_so(ui):
    client = TestClient(ui.app)
    first = client.get("/ui/queue", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/ui/login?next=/ui/queue"
    assert client.get("/ui/queue", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/ui/login"
    token = csrf_of(client.get("/ui/login").text)
    wrong = client.post("/ui/login", data={"username": "admin", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码不对" in wrong.text  # not the engine's English
    assert "wrong name or password" not in wrong.text
    stale = client.post("/ui/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "forged"})
    assert stale.status_code == 403


def test_navigation_follows_the_roles_and_pages_outside_them_are_403(ui):
    admin, water = ui("admin"), ui("water")
    assert "分类管理" in admin.get("/ui/queue").text
    page = water.get("/ui/queue").text
    assert "分类管理" not in page and "考核排名" not in page
    for path in ("/ui/taxonomy", "/ui/config/units", "/ui/rankings", "/ui/dashboard"):
        assert water.get(path).status_code == 403, path
    assert water.post("/ui/taxonomy/component/0101", data={"reason": "x"}).status_code == 403


def test_english_is_one_click_away(ui):
    desk = ui("admin")
    desk.client.get("/ui/lang/en?next=/ui/taxonomy")
    page = desk.get("/ui/taxonomy").text
    assert "Taxonomy" in page and "Export YAML" in page and "分类管理" not in page
    assert 'lang="en"' in page


def test_every_message_has_an_english_translation():
    from babel.messages.extract import extract_from_dir

    from gridcase.admin_ui.render import CATALOGUES, HERE

    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            HERE, method_map=[("templates/**.html", "jinja2"), ("**.py", "python")]
        )
        if isinstance(message, str)
    }
    english = CATALOGUES["en"]
    missing = sorted(m for m in found if english.gettext(m) == m)
    assert not missing, f"no English for: {missing}"
    assert len(found) > 100


# -- CSRF, permissions and escaping --------------------------------------------------------


def test_a_state_change_without_the_csrf_token_is_refused_and_changes_nothing(ui):
    desk = ui("zhang")
    refused = desk.post(
        "/ui/cases", data={"channel": "leader", "lon": STREET1[0], "lat": STREET1[1]}, csrf=False
    )
    assert refused.status_code == 403 and "页面已过期" in refused.text
    assert "没有待办案件" in desk.get("/ui/queue").text


def test_no_button_and_403_on_the_raw_post_without_the_role(ui):
    zhang, water = ui("zhang"), ui("water")
    case_id = new_case(zhang)
    dispatched(ui.engine, case_id)
    page = water.get(f"/ui/cases/{case_id}").text
    assert 'data-transition="sign"' in page and 'data-transition="supervise"' not in page
    assert 'data-transition="supervise"' in zhang.get(f"/ui/cases/{case_id}").text
    raw = water.post(f"/ui/cases/{case_id}/transitions/supervise", data={"reason": "催一下"})
    assert raw.status_code == 403
    assert [e["transition"] for e in ui.engine.case(case_id)["events"]][-1] == "dispatch"
    # a department outside the case's units sees nothing of it
    assert ui("city_admin").get(f"/ui/cases/{case_id}").status_code == 403


@pytest.mark.parametrize("payload", [SCRIPT, IMG, '\'; DROP TABLE "case"; --'])
def test_script_and_sql_in_every_text_field_render_inert(ui, payload):
    zhang, admin = ui("zhang"), ui("admin")
    case_id = new_case(zhang, description=payload, address=payload)
    zhang.post(f"/ui/cases/{case_id}/transitions/reject", data={"reason": payload})
    page = zhang.get(f"/ui/cases/{case_id}").text
    assert payload not in page and page.count("&lt;") >= (3 if "<" in payload else 0)
    saved = admin.post(
        "/ui/taxonomy/component/0101",
        data={
            "name_zh": payload,
            "aliases": payload,
            "reason": payload,
            "enabled": "on",
            "standard_rows": "0",
        },
    )
    assert saved.status_code == 200
    for path in ("/ui/taxonomy", "/ui/taxonomy/component/0101", "/ui/queue", "/ui/map"):
        assert payload not in admin.get(path).text, path
    admin.post("/ui/config/calendar", data={"day": "2026-12-31", "working": "no", "reason": payload})
    assert payload not in admin.get("/ui/config/time-limits").text


# -- the taxonomy editor --------------------------------------------------------------------


def edit_limit(desk, limit: str, reason: str = "上级要求缩短时限", unit: str = "water"):
    page = desk.get("/ui/taxonomy/component/0101").text
    rows = int(re.search(r'name="standard_rows" value="(\d+)"', page).group(1))
    data = {
        "name_zh": "上水井盖",
        "enabled": "on",
        "unit": unit,
        "reason": reason,
        "standard_rows": str(rows),
    }
    for i in range(rows):
        for key in ("code", "condition", "time_limit", "close_condition"):
            value = re.search(rf'name="standards-{i}-{key}" value="([^"]*)"', page).group(1)
            data[f"standards-{i}-{key}"] = value
        if data[f"standards-{i}-code"] == "missing":
            data[f"standards-{i}-time_limit"] = limit
    return desk.post("/ui/taxonomy/component/0101", data=data)


def test_an_edited_time_limit_applies_to_new_cases_only(ui):
    admin, engine = ui("admin"), ui.engine
    before = engine.intake({"channel": "leader", "point": list(STREET1), **FILE}, CENTRE)["case_id"]
    saved = edit_limit(admin, "6 urgent_hour")
    assert saved.status_code == 200 and "已保存" in saved.text
    # the row as saved, by its unit's name (the history reads it so too: test_the_change_history_…)
    assert 'value="6 紧急工作时"' in saved.text and "上级要求缩短时限" in saved.text
    after = engine.intake({"channel": "leader", "point": [120.6105, 31.3372], **FILE}, CENTRE)["case_id"]
    for case_id in (before, after):
        dispatched(engine, case_id)

    def handle_limit(case_id):
        clock = next(c for c in engine.case(case_id)["clocks"] if c["stage"] == "handle")
        return clock["amount"], clock["unit"]

    assert handle_limit(before) == (2, "urgent_hour")
    assert handle_limit(after) == (6, "urgent_hour")


def test_validation_speaks_as_profile_validate_does(ui, tmp_path):
    admin = ui("admin")
    refused = edit_limit(admin, "3 fortnight")
    assert refused.status_code == 422
    assert "没有“fortnight”这个时间单位" in html.unescape(refused.text)  # a Chinese page says it in Chinese
    admin.client.get("/ui/lang/en?next=/ui/taxonomy")
    message = "unknown time-limit unit 'fortnight'"
    assert message in html.unescape(edit_limit(admin, "3 fortnight").text)
    admin.client.get("/ui/lang/zh?next=/ui/taxonomy")
    # the same mistake in a profile file gets the same words from `gridcase profile validate`
    folder = tmp_path / "city"
    folder.mkdir()
    (folder / "profile.yaml").write_text(
        "name: city\nextends: standard\ntaxonomy:\n  editions:\n    - code: cjt214\n      component:\n"
        "        - code: '01'\n          minors:\n            - code: '0101'\n"
        "              standards: [{code: missing, condition: x, time_limit: 3 fortnight}]\n",
        encoding="utf-8",
    )
    assert any(message in issue.message for issue in validate(folder))
    assert (
        admin.post("/ui/taxonomy/component/0101", data={"name_zh": "上水井盖", "reason": ""}).status_code
        == 422
    )
    assert "还没有修改" in admin.get("/ui/taxonomy").text


def test_a_change_can_be_reverted_and_the_revert_is_history_too(ui):
    admin, engine = ui("admin"), ui.engine
    edit_limit(admin, "6 urgent_hour")
    change = engine.catalogue.taxonomy_changes[-1]
    reverted = admin.post(f"/ui/taxonomy/changes/{change['id']}/revert", data={})
    assert reverted.status_code == 200
    rows = {r["code"]: r for r in engine.catalogue.classes[("component", "0101")]["minor"]["standards"]}
    assert rows["missing"]["time_limit"] == "2 urgent_hour"
    assert engine.catalogue.taxonomy_changes[-1]["reverts"] == change["id"]
    assert f"撤销修改 #{change['id']}" in reverted.text


def test_the_exported_profile_validates_and_loads_to_the_same_taxonomy(ui, tmp_path):
    admin, engine = ui("admin"), ui.engine
    edit_limit(admin, "6 urgent_hour")
    exported = admin.get("/ui/taxonomy/export.yaml")
    assert exported.headers["content-disposition"] == 'attachment; filename="profile.yaml"'
    assert "6 urgent_hour" in exported.text
    (tmp_path / "profile.yaml").write_bytes(exported.content)
    assert validate(tmp_path) == []
    assert load(tmp_path).plain()["taxonomy"] == engine.profile["taxonomy"]
    assert yaml.safe_load(exported.text)["name"] == "testcity"


# -- operations ----------------------------------------------------------------------------


def test_bulk_accept_reports_each_case(ui):
    zhang = ui("zhang")
    first, second = new_case(zhang), new_case(zhang, lon="120.63", lat="31.31")
    ui.engine.transition(second, "reject", CENTRE, reason="重复")
    done = zhang.post("/ui/cases/bulk", data={"cases": [str(first), str(second)], "transition": "accept"})
    assert done.status_code == 200
    assert ui.engine.case(first)["state"] == "pending_file"
    assert "成功" in done.text and "案件当前的环节不能办理这个操作" in done.text


def test_photos_are_served_to_those_who_see_the_case_and_never_as_html(ui):
    zhang = ui("zhang")
    done = zhang.post(
        "/ui/cases",
        data={"channel": "leader", "category": "component:0101", "lon": STREET1[0], "lat": STREET1[1]},
        files=[("photo", ("现场.jpg", JPEG, "image/jpeg"))],
    )
    case_id = int(done.headers["HX-Redirect"].rsplit("/", 1)[1])
    evidence_id = ui.engine.case(case_id)["evidence"][0]["id"]
    photo = zhang.get(f"/ui/evidence/{evidence_id}")
    assert photo.content == JPEG and photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    assert ui("city_admin").get(f"/ui/evidence/{evidence_id}").status_code == 404
    fake = zhang.post(
        "/ui/cases",
        data={"channel": "leader", "category": "component:0101", "lon": STREET1[0], "lat": STREET1[1]},
        files=[("photo", ("x.jpg", b"<html><script>1</script></html>", "image/jpeg"))],
    )
    assert fake.status_code == 422 and "#errors" == fake.headers["HX-Retarget"]


def test_a_fragment_for_htmx_and_the_page_otherwise(ui):
    desk = ui("zhang")
    new_case(desk)
    full, part = desk.get("/ui/queue"), desk.get("/ui/queue?light=green", htmx=True)
    assert "HX-Request" in full.headers["vary"] and "HX-Request" in part.headers["vary"]
    assert "<html" in full.text and "<html" not in part.text and "<table" in part.text


def test_the_routing_explanation_names_units_and_grids_as_the_profile_does(ui):
    """The engine keeps the routing's reason with codes (the API's form); the page reads it with
    the profile's names: a unit by its name, a grid by its name, never water or a 15-digit code."""
    zhang, engine = ui("zhang"), ui.engine
    by_class, shared = new_case(zhang), new_case(zhang, category="component:0103")
    territorial = new_case(zhang, category="event:0102")
    assert engine.case(by_class)["routing_explanation"] == "小类 上水井盖 的责任单位为 water"
    said = {
        by_class: "小类 上水井盖 的责任单位为 水务局",
        shared: "由多个单位共同负责：一街道 70%、水务局 30%",
        territorial: "属地兜底：网格 一街道 的属地单位为 一街道",
    }
    for case_id, reason in said.items():
        page = html.unescape(zhang.get(f"/ui/cases/{case_id}").text)
        assert reason in page, case_id
        assert "320508001" not in page.replace(f"/ui/map/grids/{engine.case(case_id)['grid']}", "")
        assert not re.search(r"(为|：) ?(water|street1)\b", page)


@pytest.mark.parametrize(
    ("event", "name"), [("hotline_visit", "12345回访"), ("hotline_extension", "12345延期答复")]
)
def test_the_hotlines_answers_on_a_case_are_named_in_chinese(ui, event, name):
    """The 12345 platform's 回访 and extension answers are events no workflow names."""
    from gridcase.core.cases.events import record_action

    zhang, engine = ui("zhang"), ui.engine
    case_id = new_case(zhang)
    with engine.db.begin() as connection:
        record_action(connection, case_id, event, Actor.of("hotline"), {"order_no": "A1"}, engine.time.now())
    page = html.unescape(zhang.get(f"/ui/cases/{case_id}").text)
    assert name in page and event not in page


def test_bad_coordinates_are_a_message_not_a_500(ui):
    done = intake_form(ui("zhang"), lon="east")
    assert done.status_code == 422 and "经度必须是数字" in done.text


# -- map and dashboards -----------------------------------------------------------------------


def map_data(page: str) -> dict:
    """What the map page gives its script to draw."""
    return json.loads(html.unescape(re.search(r'id="map-data">(.*?)</script>', page).group(1)))


def test_the_map_draws_grids_and_a_grid_lists_its_cases(ui):
    zhang = ui("zhang")
    case_id = new_case(zhang)
    page = zhang.get("/ui/map").text
    assert page.count('class="grid"') == 16 and "1 件在办案件" in page
    assert [c[2] for c in map_data(page)["cases"]] == ["green"]  # the light citymap.js colours it by
    # named by kind and code: the standard's 0101 is both a component (上水井盖) and an event
    ((*_, key),) = map_data(page)["cases"]
    assert key == "component:0101" and map_data(page)["class_names"][key] == "上水井盖"
    assert map_data(page)["class_names"]["event:0101"] != "上水井盖"
    red = zhang.get("/ui/map?light=red").text
    assert map_data(red)["cases"] == [] and "0 件在办案件" in red
    listed = zhang.get("/ui/map/grids/320508001001001", htmx=True).text
    assert f"/ui/cases/{case_id}" in listed
    assert f"/ui/cases/{case_id}" not in zhang.get("/ui/map/grids/320508002001001", htmx=True).text


@pytest.mark.parametrize("lon", ["nan", "inf", "1e999", "181"])
def test_a_point_off_the_earth_is_refused_by_the_picker_in_words(ui, lon):
    answer = ui("zhang").get("/ui/places/at", params={"lon": lon, "lat": "31.3"})
    assert answer.status_code == 422 and "经度应在 -180 到 180 之间" in answer.text


def test_the_map_draws_only_grids_in_use(ui):
    grid = Grid.__table__
    with ui.engine.db.begin() as connection:  # as `gridcase db upgrade` leaves a grid the profile dropped
        connection.execute(update(grid).where(grid.c.code == "320508001001001").values(active=False))
    page = ui("zhang").get("/ui/map").text
    assert page.count('class="grid"') == 15 and "320508001001001" not in page


def test_dashboard_counts_and_the_ranking_downloads(ui):
    zhang, leader = ui("zhang"), ui("leader")
    case_id = new_case(zhang)
    dispatched(ui.engine, case_id)
    page = leader.get("/ui/dashboard").text
    assert re.search(r'id="today-total">1<', page)
    ranking = leader.get("/ui/rankings?period=2026-10")
    assert ranking.status_code == 200 and "水务局" in ranking.text
    xlsx = leader.get("/ui/rankings/bulletin.xlsx?period=2026-10")
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        assert "水务局" in book.read("xl/sharedStrings.xml").decode()
    csv = leader.get("/ui/rankings/bulletin.csv?period=2026-10")
    assert csv.headers["content-type"].startswith("text/csv") and "水务局" in csv.content.decode("utf-8-sig")
    explained = leader.get("/ui/rankings/explain?period=2026-10&object=unit:water", htmx=True)
    assert explained.status_code == 200 and "得分说明" in explained.text


def test_a_new_minor_class_is_checked_used_and_its_revert_disables_it(ui):
    admin, engine = ui("admin"), ui.engine
    bad = admin.post(
        "/ui/taxonomy/event/05/new", data={"code": "5X", "name_zh": "夜间施工", "reason": "新增"}
    )
    assert bad.status_code == 422 and "“5X”的写法不对" in html.unescape(bad.text)
    made = admin.post(
        "/ui/taxonomy/event/05/new", data={"code": "0590", "name_zh": "夜间施工扰民", "reason": "新增"}
    )
    assert made.status_code == 204 and made.headers["HX-Redirect"] == "/ui/taxonomy/event/0590"
    assert "0590 夜间施工扰民" in admin.get("/ui/taxonomy").text
    case = engine.intake(
        {"channel": "leader", "point": list(STREET1), "category": "0590", "kind": "event"}, CENTRE
    )
    assert engine.case(case["case_id"])["class_code"] == "0590"
    again = admin.post("/ui/taxonomy/event/05/new", data={"code": "0590", "name_zh": "重复", "reason": "x"})
    assert again.status_code == 422 and "已经有代码为“0590”的小类" in html.unescape(again.text)
    created = engine.catalogue.taxonomy_changes[-1]
    assert admin.post(f"/ui/taxonomy/changes/{created['id']}/revert", data={}).status_code == 200
    assert engine.catalogue.classes[("event", "0590")]["minor"]["enabled"] is False


def test_an_administrator_adds_people_and_changes_their_roles(ui):
    admin = ui("admin")
    added = admin.post(
        "/ui/config/people", data={"username": "zhao", "name": "赵", "roles": ["department"], "unit": "water"}
    )
    assert added.status_code == 200 and "zhao" in added.text
    first = re.search(r"<code>([^<]+)</code>", added.text).group(1)
    client = TestClient(ui.app)
    token = csrf_of(client.get("/ui/login").text)
    login = client.post("/ui/login", data={"username": "zhao", "password": first, "csrf_token": token})
    # the first password is the administrator's: it asks for zhao's own instead of letting them in
    assert login.status_code == 200 and "管理员为你设置的是临时密码" in login.text
    assert client.get("/ui/queue", follow_redirects=False).status_code == 303
    password = "zhao-own-password"
    chosen = client.post(
        "/ui/password",
        data={"username": "zhao", "password": first, "new_password": password, "repeat": password,
              "temporary": "1", "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert chosen.status_code == 303 and client.get("/ui/queue").status_code == 200
    changed = admin.post(
        "/ui/config/people/zhao", data={"roles": ["department", "leader"], "unit": "water", "active": "on"}
    )
    assert changed.status_code == 204
    # other roles end zhao's session; logged in again, the leader's page is in the navigation
    assert client.get("/ui/queue", follow_redirects=False).status_code == 303
    token = csrf_of(client.get("/ui/login").text)
    client.post("/ui/login", data={"username": "zhao", "password": password, "csrf_token": token})
    assert "考核排名" in client.get("/ui/queue").text
    bad = admin.post("/ui/config/people/zhao", data={"roles": ["mayor"], "unit": "water"})
    assert bad.status_code == 422 and "没有“mayor”这个角色" in html.unescape(bad.text)
    assert (
        admin.post("/ui/config/people/zhao", data={"roles": ["department"], "unit": "nowhere"}).status_code
        == 422
    )
    assert (
        admin.post("/ui/config/people/admin", data={"roles": ["leader"], "active": "on"}).status_code == 422
    )
    off = admin.post("/ui/config/people/zhao", data={"roles": ["department"], "unit": "water"})
    assert off.status_code == 204 and client.get("/ui/queue", follow_redirects=False).status_code == 303
    assert ui("water").post("/ui/config/people/zhao", data={"roles": ["admin"]}).status_code == 403


def test_a_rules_limit_is_edited_with_history_and_reaches_new_clocks_only(ui):
    admin, engine = ui("admin"), ui.engine
    before = engine.intake({"channel": "leader", "point": list(STREET1), **FILE}, CENTRE)["case_id"]
    engine.transition(before, "accept", CENTRE)  # its filing clock is running on the old limit
    refused = admin.post("/ui/config/rules/file", data={"limit": "3 fortnight", "reason": "x"})
    assert refused.status_code == 422 and "没有“fortnight”这个时间单位" in html.unescape(refused.text)
    saved = admin.post(
        "/ui/config/rules/file", data={"limit": "30 minute", "reason": "太原：30分钟内立案派遣"}
    )
    assert saved.status_code == 200 and "立案时限 15 分钟 → 30 分钟" in history_of(saved.text)
    assert "太原" in saved.text
    after = engine.intake({"channel": "leader", "point": [120.6105, 31.3372], **FILE}, CENTRE)["case_id"]
    engine.transition(after, "accept", CENTRE)

    def filing_minutes(case_id):
        clock = next(c for c in engine.case(case_id)["clocks"] if c["stage"] == "file")
        return (clock["deadline"] - clock["started_at"]).total_seconds() / 60

    assert (filing_minutes(before), filing_minutes(after)) == (15, 30)
    change = engine.catalogue.setting_changes[-1]
    assert admin.post(f"/ui/config/settings/{change['id']}/revert", data={}).status_code == 204
    assert (
        next(r for r in engine.profile["time_limits"]["rules"] if r["code"] == "file")["limit"] == "15 minute"
    )


def history_of(page: str) -> str:
    """The text of a page's change history (its table.history), without its markup."""
    table = re.search(r'<table class="history[^"]*">(.*?)</table>', page, re.S).group(1)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", table)).split())


def test_the_change_history_reads_as_a_person_would(ui):
    """Each administrator's change with the profile's names (classes, units, grids, stages,
    indicators, time units), never a stored code, a field's key, JSON or a Python value."""
    admin = ui("admin")
    assert edit_limit(admin, "6 urgent_hour", unit="city_admin").status_code == 200
    assert admin.post("/ui/config/rules/file", data={"limit": "30 分钟", "reason": "太原"}).status_code == 200
    weights = {"weight-valid": "0.5", "weight-missed": "0.1", "weight-verify": "0.2", "weight-check": "0.2"}
    assert (
        admin.post("/ui/config/composites/supervisor", data={**weights, "reason": "突出"}).status_code == 200
    )
    moved = admin.post("/ui/config/people/supervisor/grids", data={"grids": "320508002", "reason": "换片"})
    assert moved.status_code == 200
    new = {"code": "0199", "name_zh": "新井盖", "reason": "新增"}
    assert admin.post("/ui/taxonomy/component/01/new", data=new).status_code == 204
    created = ui.engine.catalogue.taxonomy_changes[-1]["id"]
    assert admin.post(f"/ui/taxonomy/changes/{created}/revert", data={}).status_code == 200
    expected = {
        "/ui/taxonomy": [
            "部件 0101 上水井盖",
            "井盖缺失、移位或破裂，存在安全隐患的处置时限 2 紧急工作时 → 6 紧急工作时",
            "责任单位 水务局 → 城管执法局",
            "部件 0199 新井盖 名称 — → 新井盖",
            "部件 0199 新井盖 启用 是 → 否",  # a new class's revert disables it
        ],
        "/ui/config/time-limits": ["立案时限 15 分钟 → 30 分钟"],
        "/ui/config/assessment": ["监督员综合评价", "有效上报率的权重 0.4 → 0.5"],
        "/ui/config/units": ["责任网格: 一街道 → 二街道"],
    }
    for path, lines in expected.items():
        history = history_of(admin.get(path).text)
        for line in lines:
            assert line in history, (path, line, history)
        leftover = re.search(
            r"[a-z]+_[a-z_]+|\w+\[|[{}]|=|\b(?:True|False|None)\b|\b(?:water|city_admin)\b", history
        )
        assert leftover is None, (path, leftover, history)
        assert not re.search(r"\b3205080\d+\b", history), (path, history)  # a grid by its name


def test_weights_are_edited_by_administrators_and_checked(ui):
    admin, leader, engine = ui("admin"), ui("leader"), ui.engine
    form = {"weight-valid": "0.5", "weight-missed": "0.1", "weight-verify": "0.2", "weight-check": "0.2"}
    saved = admin.post("/ui/config/composites/supervisor", data={**form, "reason": "突出有效上报"})
    assert saved.status_code == 200
    composite = next(c for c in engine.profile["assessment"]["composites"] if c["code"] == "supervisor")
    assert {t["code"]: t["weight"] for t in composite["terms"]}["valid"] == 0.5
    assert "有效上报率的权重 0.4 → 0.5" in history_of(saved.text) and "突出有效上报" in saved.text
    bad = admin.post(
        "/ui/config/composites/supervisor", data={**form, "weight-valid": "heavy", "reason": "x"}
    )
    assert bad.status_code == 422 and "权重（第 1 项）：应填数字" in html.unescape(bad.text)
    assert "disabled" in leader.get("/ui/config/assessment").text
    assert leader.post("/ui/config/composites/supervisor", data={**form, "reason": "x"}).status_code == 403
