"""The public site in real Chromium, on the test city served by a real server (SQLite, and
PostgreSQL when configured): a report with a photo picked on the map, followed by its token,
answered by the city, surveyed and reported "not fixed"; the no-map path by address; public cases
without personal data or the places of sensitive classes; and axe-core's WCAG 2.1 AA check of
every public page (0 serious or critical violations)."""

import re
import shutil
from datetime import UTC, datetime

import pytest

from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.engine import Engine
from gridcase.core.people.actor import Actor
from gridcase.core.timesource import ManualTime

from ..admin_ui.city_browser import needs_chromium, served
from ..admin_ui.conftest import CHROMIUM
from ..conftest import BACKENDS, REPO, TESTCITY

pytestmark = needs_chromium
AXE = REPO / "admin_ui" / "node_modules" / "axe-core" / "axe.min.js"  # from npm (admin_ui/package.json)
SHOTS = REPO / "docs" / "screenshots"
PHONE = "13812345678"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(500)
PHOTO = [Upload("现场.jpg", JPEG)]
supervisor = Actor.of("supervisor", grids={"320508001"})
operator, leader, dispatcher = Actor.of("operator"), Actor.of("shift_leader"), Actor.of("dispatcher")
water = Actor.of("department", unit="water")


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("public")
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
    try:
        with served(engine) as base:
            yield base, engine
    finally:
        engine.db.dispose()
        if drop:
            drop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(chromium):
    # axe is injected as a script of the test's own: the site's policy runs only its own files
    context = chromium.new_context(bypass_csp=True, locale="zh-CN", viewport={"width": 1100, "height": 900})
    yield context.new_page()
    context.close()


def axe(page) -> list[str]:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on the page."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def close(engine, case_id: int) -> None:
    for code, actor, payload, uploads in (
        ("send_verify", operator, None, ()),
        ("verify", supervisor, None, PHOTO),
        ("file", leader, {"category": "0101", "kind": "component", "standard": "missing"}, ()),
        ("dispatch", dispatcher, {"units": ["water"]}, ()),
        ("sign", water, None, ()),
        ("handle", water, None, PHOTO),
        ("check_pass", supervisor, None, PHOTO),
        ("close", leader, None, ()),
    ):
        engine.transition(case_id, code, actor, payload=payload, uploads=uploads)


def test_report_with_a_photo_follow_it_survey_and_not_fixed(site, page, tmp_path):
    base, engine = site
    page.goto(f"{base}/public/report")
    assert page.locator("h1").inner_text() == "反映问题"
    page.locator("#picker").click()  # the map's centre: the city's centre, in street1's grids
    assert page.locator("#lon").input_value() and "已选择位置" in page.locator("#picked").inner_text()
    page.select_option("#category", "component:0101")
    page.fill("#description", "人民路口上水井盖丢了")
    photo = tmp_path / "井盖.jpg"
    photo.write_bytes(JPEG)
    page.set_input_files("#photo", str(photo))
    page.fill("#phone", PHONE)
    page.screenshot(path=SHOTS / "public-report.png", full_page=True)
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r"/public/follow/"))
    token = page.locator("#token").inner_text()
    assert "已收到你的反映" in page.locator(".notice").inner_text()
    assert page.locator("#state").inner_text() == "已上报"
    assert PHONE not in page.content()

    case_id = _case_of(engine, token)
    full = engine.case(case_id)
    assert (full["channel"], full["class_code"]) == ("web", "0101")
    assert [e["content_type"] for e in full["evidence"]] == ["image/jpeg"]
    assert _phone_of(engine, token) == PHONE  # kept as the report's contact, for SMS

    close(engine, case_id)
    engine.transition(case_id, "public_reply", operator, payload={"reply": "井盖已补装，感谢反映。"})
    page.goto(f"{base}/public/follow/{token}")
    assert page.locator("#state").inner_text() == "已结案"
    assert "井盖已补装，感谢反映。" in page.locator(".reply").inner_text()
    page.screenshot(path=SHOTS / "public-follow.png", full_page=True)

    page.get_by_label("满意", exact=True).check()
    page.fill("#comment", "修得很快")
    page.get_by_role("button", name="提交评价").click()
    assert "感谢你的评价" in page.locator(".notice").inner_text()
    assert page.locator("#answered").inner_text() == "你的评价：满意"
    survey = engine.case(case_id)["events"][-1]
    assert (survey["transition"], survey["payload"]) == (
        "survey",
        {"satisfaction": "satisfied", "comment": "修得很快"},
    )

    page.fill("#reason", "井盖又被偷了")
    page.get_by_role("button", name="反映未解决").click()
    assert "已重新交办" in page.locator(".notice").inner_text()
    assert page.locator("#state").inner_text() == "待核查"
    reopened = engine.case(case_id)
    assert (reopened["state"], reopened["events"][-1]["reason"]) == ("pending_check", "井盖又被偷了")
    assert page.locator("#reason").count() == 0  # open again: nothing to reopen

    # an unknown token is said in Chinese, not as a 500
    page.goto(f"{base}/public/follow/nosuchtoken")
    assert "没有找到这个查询码" in page.locator(".error").inner_text()


def test_the_no_map_path_by_address_and_its_refusals(site, page):
    base, engine = site
    page.goto(f"{base}/public/report/address")
    assert page.locator("#picker").count() == 0 and page.locator(".leaflet-container").count() == 0
    page.get_by_label("所在社区").select_option(index=1)
    page.get_by_label("问题描述").fill("路灯不亮了")
    page.get_by_role("button", name="提交").click()  # the address is required: the browser says so
    assert page.url.endswith("/public/report/address")
    page.get_by_label("详细地址").fill("幸福路8号")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r"/public/follow/"))
    token = page.locator("#token").inner_text()
    case = engine.case(_case_of(engine, token))
    assert case["address"] == "幸福路8号" and case["grid"].startswith("320508")
    # neither a class nor words: said on the page, with what was typed kept
    page.goto(f"{base}/public/report/address")
    page.get_by_label("所在社区").select_option(index=1)
    page.get_by_label("详细地址").fill("幸福路9号")
    page.get_by_role("button", name="提交").click()
    assert page.locator(".error").inner_text() == "请选择问题类别，或用文字描述问题"
    assert page.get_by_label("详细地址").input_value() == "幸福路9号"


def test_public_cases_hide_personal_data_and_sensitive_places(site, page):
    base, engine = site
    engine.intake(
        {"channel": "web", "point": [120.61, 31.337], "category": "0501", "kind": "event",
         "address": "隐私路1号", "description": "邻居私搭乱建", "contact": {"phone": "13900001111"}},
        Actor.of("citizen"),
    )  # fmt: skip
    engine.catalogue.classes[("event", "0501")]["minor"]["sensitive"] = True
    try:
        page.goto(f"{base}/public/")
        page.wait_for_selector(".leaflet-interactive")
        text = page.content()
        assert "隐私路1号" not in text and "邻居私搭乱建" not in text and "13900001111" not in text
        assert PHONE not in text
        row = page.locator("tr", has_text="不公开")
        assert row.count() == 1
        cases = page.request.get(f"{base}/public/cases.json").json()["cases"]
        assert cases and all(c["address"] != "隐私路1号" for c in cases)
        assert all("phone" not in str(c) for c in cases)
        page.screenshot(path=SHOTS / "public-cases.png", full_page=True)
    finally:
        engine.catalogue.classes[("event", "0501")]["minor"].pop("sensitive")


def test_every_public_page_passes_axe_wcag_2_1_aa(site, page):
    base, engine = site
    token = _any_token(engine)
    pages = [
        "/public/",
        "/public/report",
        "/public/report/address",
        "/public/follow",
        f"/public/follow/{token}",
    ]
    found = {}
    for path in pages:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        found[path] = axe(page)
    assert found == {path: [] for path in pages}


def _case_of(engine, token: str) -> int:
    from sqlalchemy import select

    from gridcase.core.db.connection import read
    from gridcase.core.db.models import Report

    with read(engine.db) as connection:
        return connection.execute(
            select(Report.__table__.c.case_id).where(Report.__table__.c.token == token)
        ).scalar_one()


def _phone_of(engine, token: str) -> str:
    from sqlalchemy import select

    from gridcase.core.db.connection import read
    from gridcase.core.db.models import Report, ReportContact

    report, contact = Report.__table__, ReportContact.__table__
    with read(engine.db) as connection:
        return connection.execute(
            select(contact.c.phone)
            .join(report, report.c.id == contact.c.report_id)
            .where(report.c.token == token)
        ).scalar_one()


def _any_token(engine) -> str:
    from sqlalchemy import select

    from gridcase.core.db.connection import read
    from gridcase.core.db.models import Report

    with read(engine.db) as connection:
        return (
            connection.execute(select(Report.__table__.c.token).where(Report.__table__.c.token.is_not(None)))
            .scalars()
            .first()
        )
