"""考核排名 as a leader reads it, in a real browser on a bundled city: it opens on the last
complete month, rates are percentages with two decimals, and a row's explanation opens beside
the row, however far down the ranking it is."""

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from gridcase.admin_ui.dashboards import last_complete_month
from gridcase.core.timesource import ManualTime

from . import city_browser
from .city_browser import log_in, needs_chromium, screenshot

# the served bundled city, one a module and backend (city_browser.py)
city, chromium = city_browser.city, city_browser.chromium

RAW_FLOAT = re.compile(r"\d\.\d{3,}")  # 0.38461538461538464, 63.333333
PERCENT = re.compile(r"^(\d{1,3}\.\d{2}%|—)$")


def box(locator) -> dict:
    """The element's box on the page (not in the viewport)."""
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return {x: r.left, y: r.top + window.scrollY, width: r.width, height: r.height, view: r.top}; }"
    )


@pytest.mark.parametrize(
    "moment, month",
    [
        (datetime(2026, 10, 13, 1, 0, tzinfo=UTC), "2026-09"),
        (datetime(2026, 12, 15, 4, 0, tzinfo=UTC), "2026-11"),
        (datetime(2027, 1, 20, 4, 0, tzinfo=UTC), "2026-12"),
        # 2027-01-01 01:00 in Beijing is still 2026 in UTC: the city's calendar decides
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), "2026-12"),
        # 2026-12-01 07:59 in Beijing: December has begun there, November is complete
        (datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "2026-11"),
        (datetime(2026, 11, 30, 15, 59, tzinfo=UTC), "2026-10"),  # 23:59 on 30 November
    ],
)
def test_the_default_period_is_the_last_complete_month_in_the_citys_time_zone(moment, month):
    engine = SimpleNamespace(
        time=ManualTime(moment), city=SimpleNamespace(timezone=ZoneInfo("Asia/Shanghai"))
    )
    assert last_complete_month(engine) == month


@needs_chromium
def test_a_rows_explanation_opens_beside_it_with_rates_as_percentages(city, chromium):
    leader = log_in(chromium, city.base, "leader")
    leader.get_by_role("link", name="考核排名").click()
    # the last complete month, not October's first fortnight
    expect(leader.locator("h1")).to_contain_text("2026-09")
    assert leader.locator("input[name=period]").input_value() == "2026-09"
    rates = leader.locator("table.ranking tbody tr td:nth-child(7), table.ranking tbody tr td:nth-child(8)")
    assert rates.count() > 10
    for text in rates.all_inner_texts():
        assert PERCENT.match(text.strip()), text
    assert not RAW_FLOAT.search(leader.locator("main").inner_text())
    # the composite's name, not its code
    assert "three_sixty" not in leader.locator("main").inner_text()

    # the last row of the page: its explanation opens level with it, to its right, in view
    rows = leader.locator("table.ranking tbody tr")
    last = rows.nth(rows.count() - 1)
    last.locator("a.explain-link").click()
    panel = leader.locator("#explanation")
    expect(panel.locator("h2")).to_contain_text("得分说明")
    row_box, panel_box = box(last), box(panel)
    assert row_box["y"] > 1500  # far down the page: the case the panel must follow
    assert panel_box["x"] >= row_box["x"] + row_box["width"] - 5  # beside, not below
    assert panel_box["y"] - 400 < row_box["y"] < panel_box["y"] + panel_box["height"]
    assert 0 <= panel_box["view"] < 900  # in view
    expect(last).to_have_class(re.compile("selected"))

    # a ranked street: its composite's terms, then one indicator's cases, all as percentages
    first = rows.filter(has_text="街道办事处").first
    first.locator("a.explain-link").click()
    expect(panel.locator("h2")).to_contain_text(first.locator("a.explain-link").inner_text())
    panel_text = panel.inner_text()
    assert not RAW_FLOAT.search(panel_text), panel_text
    assert "on_time_handle_rate" not in panel_text and "按期处置率" in panel_text
    assert re.search(r"\d+\.\d{2}%", panel_text)
    panel.get_by_role("link", name="按期处置率", exact=True).click()
    expect(panel.locator("h2")).to_contain_text("按期处置率")
    panel_text = panel.inner_text()
    assert re.search(r"数值: \d+\.\d{2}%", panel_text)
    assert not RAW_FLOAT.search(panel_text)
    row_box, panel_box = box(first), box(panel)
    assert panel_box["y"] - 400 < row_box["y"] < panel_box["y"] + panel_box["height"]
    first.locator("a.explain-link").click()
    expect(panel.locator("h2")).not_to_contain_text("按期处置率")
    screenshot(leader, "rankings-explanation")

    # another period typed by hand is kept
    leader.goto(f"{city.base}/ui/rankings?period=2026-10")
    expect(leader.locator("h1")).to_contain_text("2026-10")
