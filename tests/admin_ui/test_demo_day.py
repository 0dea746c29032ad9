"""A day at the centre with nothing but what `make demo` prints: `gridcase demo` runs as its own
process (as `make demo` runs it), the logins are read from its output, and a real browser walks
a day of work through them: a report placed by a click on the map, a bulk 派遣 from the
dispatcher's queue to the units each case was routed to, the department's handling with a
photo uploaded, the supervisor's 核查 and the shift leader's 结案, the department's inbox with the
overdue notices of the simulated days, and the case's print view. Each step leaves a picture in
docs/screenshots/day-*.png (docs/workbench.md shows them)."""

import base64
import re
from pathlib import Path

import pytest
import shapely
from playwright.sync_api import expect

from gridcase.core.profile import load_validated
from gridcase.core.profile.taxonomy import active_minors

from .city_browser import needs_chromium
from .test_browser import PHOTO_JS, fire, log_in
from .test_demo import demo  # noqa: F401  (the fixture: `gridcase demo` serving, its printed logins)

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"day-{name}.png"), full_page=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from .city_browser import CHROMIUM

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def a_place_and_a_class(supervisor_grids: list[str]) -> tuple[tuple[float, float], str]:
    """A point in the first grid the printed supervisor patrols (the printed department's own
    streets), and an event class with a line of work, which the street office there commands."""
    profile = load_validated("heping")[0].plain()
    grid = next(f for f in profile["grids"]["features"] if f["properties"]["code"] in supervisor_grids)
    point = shapely.geometry.shape(grid["geometry"]).representative_point()
    kind, code, _ = next((k, c, m) for k, c, m in active_minors(profile) if k == "event" and m.get("line"))
    return (point.x, point.y), f"{kind}:{code}"


@needs_chromium
def test_a_day_at_the_centre_with_the_printed_logins(demo, browser, tmp_path):  # noqa: F811
    logins, base = demo.logins, demo.base
    pages = {}

    def page_of(role: str):
        if role not in pages:
            pages[role] = log_in(browser, base, logins[role]["username"], logins[role]["password"])
        return pages[role]

    (lon, lat), category = a_place_and_a_class(logins["supervisor"]["grids"])
    operator = page_of("operator")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(base64.b64decode(operator.evaluate(PHOTO_JS).split(",", 1)[1]))

    # 08:30 受理: a caller's report, placed by a click on the map where the caller says
    operator.get_by_role("link", name="受理上报").click()
    operator.get_by_label("来源渠道").select_option("hotline_12345")
    operator.get_by_label("问题类别").select_option(category)
    picker = operator.locator(".location-picker")
    expect(picker).to_have_attribute("data-ready", "yes")
    spot = picker.locator(".picker-map").evaluate(
        "(box, [lat, lon]) => { const p = box.gridcaseMap.latLngToContainerPoint([lat, lon]);"
        " return {x: p.x, y: p.y}; }",
        [lat, lon],
    )
    picker.locator(".picker-map").click(position=spot)
    expect(picker.locator(".picker-status")).to_contain_text("所在网格")
    clicked = (
        float(operator.get_by_label("经度").input_value()),
        float(operator.get_by_label("纬度").input_value()),
    )
    assert abs(clicked[0] - lon) < 0.0005 and abs(clicked[1] - lat) < 0.0005, clicked
    operator.get_by_label("地址").fill("演示路8号")
    operator.get_by_label("问题描述").fill("市民来电：人行道上堆着垃圾，一早就有")
    shot(operator, "1-intake-map")
    operator.get_by_role("button", name="提交").click()
    operator.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case_url, case_id = operator.url, operator.url.rsplit("/", 1)[1]
    number = operator.locator("h1").inner_text().split()[1]
    fire(operator, "send_verify")

    def step(role: str, code: str, **given):
        page = page_of(role)
        page.goto(case_url)
        fire(page, code, **given)
        return page

    step("supervisor", "verify", photo=photo)
    step("shift_leader", "file")

    # 09:00 派遣: the dispatcher ticks the waiting cases, this one among them, and sends each to
    # the units it was routed to
    dispatcher = page_of("dispatcher")
    dispatcher.goto(f"{base}/ui/queue")
    dispatcher.get_by_label("环节").select_option("pending_dispatch")
    dispatcher.locator(f"#rows input[name=cases][value='{case_id}']").wait_for()
    waiting = dispatcher.locator("#rows input[name=cases]").count()
    dispatcher.get_by_label("全选本页").check()
    assert dispatcher.locator("#chosen").inner_text() == str(waiting)
    dispatcher.get_by_label("批量操作").select_option("dispatch")
    shot(dispatcher, "2-bulk-dispatch")
    dispatcher.get_by_role("button", name="执行").click()
    expect(dispatcher.locator("#bulk-result")).to_contain_text(f"{waiting} 件成功")
    dispatched = page_of("department")
    dispatched.goto(case_url)
    expect(dispatched.locator(".state")).to_have_text("待签收")  # the department sees it, waiting for it

    # 10:00 处置: the department signs, handles and feeds back with a photo of the result
    step("department", "sign")
    handled = step("department", "handle", photo=photo, reason="垃圾已清运，路面已冲洗")
    expect(handled.locator(".photo-pairs .after img")).to_have_count(1)
    shot(handled, "3-handled-with-photo")

    # 11:00 核查 and 结案
    step("supervisor", "check_pass", photo=photo)
    closed = step("shift_leader", "close")  # 和平's 结案 is the shift leader's
    expect(closed.locator(".state")).to_have_text("已结案")
    shot(closed, "4-closed")

    # the department's inbox: the overdue notices the simulated days' sweeps sent to its unit
    inbox = page_of("department")
    inbox.get_by_role("link", name="通知").click()
    overdue = inbox.locator("table.notices .light.red")
    expect(overdue.first).to_be_visible()
    assert set(overdue.all_inner_texts()) <= {"红灯催办", "超时督办"}
    assert inbox.locator("#unread").inner_text().strip() not in ("", "0")
    shot(inbox, "5-inbox-overdue")

    # the print view of the day's case: its steps and photos on an A4 page
    printed = page_of("operator")
    printed.goto(f"{case_url}/print")
    expect(printed.locator("body")).to_contain_text(number)
    expect(printed.locator(".timeline")).to_contain_text("结案")
    # the supervisor's photo of the problem before; the department's and the 核查's after
    expect(printed.locator(".photo-pairs .before img")).to_have_count(1)
    expect(printed.locator(".photo-pairs .after img")).to_have_count(2)
    shot(printed, "6-print")
