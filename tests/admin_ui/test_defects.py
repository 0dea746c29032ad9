"""The defects issue 25 found, each as a person met it in a browser, in 和平区: a grid's page
opened directly, an error banner that outlived a later success, a double-clicked 保存 that
reported a false error, unknown pages answered with JSON, and English engine errors on Chinese
pages (an administrator typing 3天 as a time limit)."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from . import heping_desk
from .conftest import CHROMIUM
from .heping_desk import GRID, POINT, open_as

heping, chromium = heping_desk.heping, heping_desk.chromium  # the served city and the browser

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)"
)
NOW = datetime(2026, 10, 13, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def admin(heping, chromium):
    page = open_as(chromium, heping[0], "admin")
    yield page
    page.close()


def rule_row(page, code: str):
    page.goto(f"{page.url.split('/ui/')[0]}/ui/config/time-limits")
    return page.locator("tr", has=page.locator(f"form#rule-{code}"))


def test_a_grid_opened_directly_is_a_page(heping, chromium):
    base, _ = heping
    leader = open_as(chromium, base, "leader")
    answer = leader.goto(f"{base}/ui/map/grids/{GRID}")
    assert answer.status == 200 and "text/html" in answer.headers["content-type"]
    assert GRID in leader.locator("#grid-cases h2").inner_text()
    assert leader.locator("section#map").count() == 1  # the map beside it, and the navigation
    assert leader.get_by_role("link", name="待办").count() == 1
    missing = leader.goto(f"{base}/ui/map/grids/999")
    assert missing.status == 404 and "没有网格 999" in leader.locator("p.error").inner_text()
    leader.close()


def test_an_unknown_page_is_a_page_in_the_uis_language(heping, chromium):
    base, _ = heping
    desk = open_as(chromium, base, "desk")
    answer = desk.goto(f"{base}/ui/no/such/page")
    assert answer.status == 404 and "text/html" in answer.headers["content-type"]
    assert desk.locator("p.error").inner_text() == "出错了 (404): 没有这个页面"
    assert desk.get_by_role("link", name="回到首页").count() == 1
    desk.goto(f"{base}/ui/lang/en?next=/ui/no/such/page")
    assert desk.locator("p.error").inner_text() == "Something went wrong (404): Nothing was found here"
    desk.close()


def test_a_time_limit_typed_in_chinese_is_taken_a_wrong_one_refused_in_chinese_and_the_banner_goes(
    heping, admin
):
    row = rule_row(admin, "reply")
    row.get_by_label("时限 reply").fill("3天")  # 天 is no unit of this city's
    row.get_by_label("修改原因 reply").fill("答复要更快")
    row.get_by_role("button", name="保存").click()
    banner = admin.locator("#errors")
    banner.get_by_text("规则 reply 的时限").wait_for()
    said = banner.inner_text()
    assert "“3天”不是有效的时限" in said and "“3小时”" in said and "小时 hour" in said
    assert not any(word in said for word in ("expected", "valid here", "limit:"))
    row.get_by_label("时限 reply").fill("3小时")  # a unit's name, without a space: as people type it
    with admin.expect_response(lambda r: "/ui/config/rules/reply" in r.url) as answer:
        row.get_by_role("button", name="保存").click()
    assert answer.value.status == 200
    expect(banner).to_have_text("")  # the later success takes the error away, once htmx swapped it
    assert "→ 3 小时" in admin.locator("table.history").inner_text()
    assert rule_row(admin, "reply").get_by_label("时限 reply").input_value() == "3 小时"


def test_a_double_clicked_save_saves_once_and_says_no_error(heping, admin):
    """A person's double click is slower than the server: the first click's answer has redrawn
    the form (its reason emptied) when the second lands on the same 保存."""
    _, engine = heping
    before = len([c for c in engine.catalogue.setting_changes if c["code"] == "reply"])
    row = rule_row(admin, "reply")
    row.get_by_label("时限 reply").fill("7 hour")
    row.get_by_label("修改原因 reply").fill("按来电量调整")
    for _ in range(2):
        with admin.expect_response(lambda r: "/ui/config/rules/reply" in r.url) as answer:
            row.get_by_role("button", name="保存").click()
        assert answer.value.status in (200, 204)
    assert admin.locator("#errors").inner_text() == ""
    assert row.get_by_label("时限 reply").input_value() == "7 小时"  # the unit by its name
    engine.refresh_settings()
    changes = [c for c in engine.catalogue.setting_changes if c["code"] == "reply"]
    assert len(changes) == before + 1 and changes[-1]["changes"] == {"limit": "7 hour"}


def test_a_double_clicked_step_fires_once_and_says_no_error(heping, chromium):
    base, engine = heping
    desk = open_as(chromium, base, "desk")
    desk.goto(f"{base}/ui/cases/new")
    desk.get_by_label("来源渠道").select_option("minsheng110")
    desk.get_by_label("问题类别").select_option("component:0101")
    desk.get_by_label("经度").fill(str(POINT[0]))
    desk.get_by_label("纬度").fill(str(POINT[1]))
    desk.get_by_role("button", name="提交").dblclick()
    desk.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case_id = int(desk.url.rsplit("/", 1)[1])
    desk.locator('details.transition:has(form[data-transition="accept"]) summary').click()
    with desk.expect_response(lambda r: "/transitions/accept" in r.url):
        desk.locator('form[data-transition="accept"] button[type=submit]').dblclick()
    desk.wait_for_timeout(500)  # a second sending, had there been one, has had its answer
    assert desk.locator("#errors").inner_text() == ""
    events = [e["transition"] for e in engine.case(case_id)["events"]]
    assert events == ["report", "accept"]
    desk.close()


def test_engine_errors_are_chinese_on_chinese_pages(heping, chromium):
    base, _ = heping
    desk = open_as(chromium, base, "desk")
    desk.goto(f"{base}/ui/cases/new")
    desk.get_by_label("来源渠道").select_option("minsheng110")
    desk.get_by_label("问题类别").select_option("component:0101")
    desk.get_by_label("经度").fill("100.0")  # far from 沈阳
    desk.get_by_label("纬度").fill("30.0")
    desk.get_by_role("button", name="提交").click()
    banner = desk.locator("#errors")
    banner.get_by_text("这个位置不在本市的任何网格内").wait_for()
    assert "outside" not in banner.inner_text()
    desk.get_by_label("经度").fill("东经123度")
    desk.get_by_role("button", name="提交").click()
    banner.get_by_text("经度必须是数字").wait_for()
    desk.close()
