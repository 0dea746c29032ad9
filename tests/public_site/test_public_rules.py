"""The public site's rules over real HTTP (SQLite, and PostgreSQL when configured): the report
form goes through the API's intake path, with the rate limit of its address, the idempotency
key of its rendering and that key's check against the browser's session; one public view for
the site's list and Open311's (no place or words of a sensitive class, no hotline caller's
words, no case turned away, no unpublished class); the follow page offers each of "not fixed"
and the survey on its own, never for a case turned away; the map starts at the city's centre
with no case to show; SMS is promised only where the city sends it."""

import re
import shutil
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import requests

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.engine import Engine
from gridcase.core.people.actor import Actor
from gridcase.core.settings import Settings
from gridcase.core.timesource import ManualTime

from ..admin_ui.city_browser import needs_chromium, served
from ..admin_ui.conftest import CHROMIUM
from ..conftest import BACKENDS, TESTCITY
from .test_public_site import PHOTO, close

LIMIT = 3  # reports a minute from one address
STREET1 = [120.61, 31.337]


def spot(i: int) -> list[float]:
    """A point of its own for case i: more than the 30 m within which reports make one case."""
    return [120.602 + 0.001 * i, 31.322]  # street1's, where the tests' supervisor patrols


citizen, operator = Actor.of("citizen"), Actor.of("operator")


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("public_rules")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "city.db")
        url, drop = f"sqlite:///{folder / 'city.db'}", None
    else:
        admin, new_database = request.getfixturevalue("pg_admin")
        name, url = new_database()
        drop = lambda: admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # noqa: E731
    engine = Engine.open(
        TESTCITY, url, time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(folder / "evidence"),
    )  # fmt: skip
    engine.load_reference_data()
    settings = Settings(reports_per_minute=LIMIT, sweep_seconds=0)
    try:
        with served(engine, settings) as base:
            yield base, engine
    finally:
        engine.db.dispose()
        if drop:
            drop()


class Browser(requests.Session):
    """A visitor's browser: its own cookies, the site's address in front of each path, and
    redirects shown as they come."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, self.base + url, *args, **kwargs)


def form_key(client: Browser) -> str:
    page = client.get("/public/report")
    assert page.status_code == 200
    return re.search(r'name="form_key" value="([^"]+)"', page.text).group(1)


def report(key: str | None, words: str) -> dict[str, str]:
    fields = {
        "lon": str(STREET1[0]),
        "lat": str(STREET1[1]),
        "category": "component:0101",
        "description": words,
    }
    return {**fields, "form_key": key} if key is not None else fields


def count_reports(engine) -> int:
    from sqlalchemy import func, select

    from gridcase.core.db.connection import read
    from gridcase.core.db.models import Report

    with read(engine.db) as connection:
        return connection.execute(select(func.count()).select_from(Report.__table__)).scalar_one()


def test_the_form_needs_its_key_makes_one_report_per_key_and_is_rate_limited(site):
    base, engine = site
    engine.time.advance(minutes=1)  # a fresh window of the address's limit
    with Browser(base) as browser, Browser(base) as other:
        before = count_reports(engine)
        # no key, or another browser's: refused in Chinese, nothing reported (a page elsewhere
        # cannot post the form for a visitor)
        for key in (None, form_key(other)):
            refused = browser.post("/public/report", data=report(key, "无钥匙"))
            assert refused.status_code == 403 and "页面已过期" in refused.text
        assert count_reports(engine) == before

        # a double submit of one form: one report, both answers lead to it
        key = form_key(browser)
        first = browser.post("/public/report", data=report(key, "井盖丢了"))
        again = browser.post("/public/report", data=report(key, "井盖丢了"))
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == again.headers["location"]
        assert count_reports(engine) == before + 1
        # the same key with other words is refused, not a second report
        changed = browser.post("/public/report", data=report(key, "另一件事"))
        assert changed.status_code == 409 and "已经提交过了" in changed.text
        assert count_reports(engine) == before + 1

        # the address's limit: the reports past it are refused with a clear message, not a 5xx
        answers = [
            browser.post("/public/report", data=report(form_key(browser), f"第{i}件")).status_code
            for i in range(LIMIT + 1)
        ]
        assert 429 in answers and all(code in (303, 429) for code in answers)
        refused = browser.post("/public/report", data=report(form_key(browser), "再一件"))
        assert refused.status_code == 429 and "同一网络提交的反映太多了" in refused.text
        assert "再一件" in refused.text  # what was typed is kept
        assert count_reports(engine) <= before + LIMIT
    engine.time.advance(minutes=1)


@contextmanager
def class_marked(engine, kind: str, code: str, **marks):
    minor = engine.catalogue.classes[(kind, code)]["minor"]
    minor.update(marks)
    try:
        yield
    finally:
        for mark in marks:
            minor.pop(mark)


def test_one_public_view_for_the_sites_list_and_open311(site):
    base, engine = site
    private = engine.intake(
        {"channel": "web", "point": spot(1), "category": "0501", "kind": "event",
         "address": "隐私路1号", "description": "邻居私搭乱建"}, citizen,
    )  # fmt: skip
    sensitive = private["number"]
    hotline = engine.intake(
        {"channel": "hotline_12345", "point": spot(2), "category": "0101", "kind": "component",
         "address": "热线路2号", "description": "来电人王先生说井盖丢了"}, operator,
    )["number"]  # fmt: skip
    turned_away = engine.intake(
        {"channel": "web", "point": spot(3), "category": "0101", "kind": "component",
         "description": "不予受理的一件"}, citizen,
    )  # fmt: skip
    engine.transition(turned_away["case_id"], "reject", operator, reason="重复反映")
    unpublished = engine.intake(
        {"channel": "web", "point": spot(4), "category": "0103", "kind": "component",
         "description": "未公开类别的一件"}, citizen,
    )["number"]  # fmt: skip
    with (
        class_marked(engine, "event", "0501", sensitive=True),
        class_marked(engine, "component", "0103", published=False),
    ):
        home = requests.get(f"{base}/public/").text
        cases = {c["number"]: c for c in requests.get(f"{base}/public/cases.json").json()["cases"]}
        served311 = {
            r["service_request_id"]: r for r in requests.get(f"{base}/open311/v2/requests.json").json()
        }
    for text in (home, str(cases), str(served311)):
        assert "隐私路1号" not in text and "邻居私搭乱建" not in text
        assert "来电人王先生" not in text
        assert "不予受理的一件" not in text and "未公开类别的一件" not in text
    assert sensitive in home and hotline in home and "热线路2号" in home
    assert sensitive not in cases  # no point to put on the map
    assert served311[sensitive]["lat"] is None and served311[sensitive]["address"] is None
    assert served311[hotline]["description"] is None and served311[hotline]["address"] == "热线路2号"
    assert turned_away["number"] not in served311 and unpublished not in served311
    assert turned_away["number"] not in home and unpublished not in home
    # a citizen's account reading another person's sensitive case through the API: the same view
    from gridcase.core.web.api_cases import case_detail

    stranger = Actor(10**6, frozenset({"citizen"}))
    with class_marked(engine, "event", "0501", sensitive=True):
        seen = case_detail(engine, stranger, private["case_id"])
    assert seen.get("address") is None and seen.get("lat") is None and seen.get("description") is None


def follow_page(base: str, token: str) -> str:
    page = requests.get(f"{base}/public/follow/{token}")
    assert page.status_code == 200
    return page.text


def test_the_follow_page_offers_the_survey_without_reopening_and_nothing_to_a_case_turned_away(site):
    base, engine = site
    closed = engine.intake(
        {"channel": "web", "point": spot(5), "category": "0101", "kind": "component"}, citizen, PHOTO
    )
    close(engine, closed["case_id"])
    workflow = engine.catalogue.workflows[engine.case(closed["case_id"])["workflow"]]
    reopen = workflow.transitions.pop("reopen")  # a city that turned reopening off
    try:
        page = follow_page(base, closed["token"])
    finally:
        workflow.transitions["reopen"] = reopen
    assert 'id="survey"' in page and 'name="reason"' not in page
    page = follow_page(base, closed["token"])
    assert 'id="survey"' in page and 'name="reason"' in page

    voided = engine.intake(
        {"channel": "web", "point": spot(6), "category": "0101", "kind": "component"}, citizen
    )
    engine.transition(voided["case_id"], "reject", operator, reason="不属于城市管理问题")
    page = follow_page(base, voided["token"])
    assert 'name="reason"' not in page and 'id="survey"' not in page
    refused = requests.post(f"{base}/public/follow/{voided['token']}/reopen", data={"reason": "没解决"})
    assert refused.status_code == 422 and engine.case(voided["case_id"])["state"] == "voided"


def test_sms_is_promised_only_where_the_city_sends_it(site):
    base, engine = site
    said = requests.get(f"{base}/public/report").text
    assert "短信" not in said and "工作人员需要时可以与你联系" in said
    notifications = engine.profile.setdefault("notifications", {})
    notifications["citizens"] = {"states": ["closed"]}
    try:
        said = requests.get(f"{base}/public/report").text
    finally:
        notifications.pop("citizens")
    assert "可收到办理进度和满意度评价的短信" in said


@needs_chromium
def test_the_map_starts_at_the_citys_centre_when_there_is_no_case(site):
    from playwright.sync_api import sync_playwright

    base, engine = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            # keep the maps Leaflet makes, to read their centre
            page.add_init_script(
                "Object.defineProperty(window, 'L', {configurable: true, get() { return this._L; },"
                " set(v) { const make = v.map; window.maps = [];"
                " v.map = function () { const m = make.apply(this, arguments); window.maps.push(m);"
                " return m; }; this._L = v; }});"
            )
            page.route("**/public/cases.json", lambda route: route.fulfill(json={"cases": []}))
            page.goto(f"{base}/public/")
            page.wait_for_function("window.maps && window.maps.length === 1")
            centre = page.evaluate(
                "(() => { const c = window.maps[0].getCenter(); return [c.lng, c.lat]; })()"
            )
        finally:
            browser.close()
    assert centre == pytest.approx(list(engine.city.region.center), abs=1e-6)
