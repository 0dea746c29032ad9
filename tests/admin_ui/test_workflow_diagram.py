"""流程图 as a shift leader reads it, in a real browser on a bundled city: every stage in its own
place (no two boxes on top of each other), named in Chinese, arrows named by their
transitions, and the diagram zooms."""

from itertools import combinations

from playwright.sync_api import expect

from gridcase.admin_ui.workflow_diagram import COLUMN, ROW, graph
from gridcase.core.profile import load_validated

from . import city_browser
from .city_browser import log_in, needs_chromium, screenshot

# the served bundled city, one a module and backend (city_browser.py)
city, chromium = city_browser.city, city_browser.chromium


def test_the_layout_puts_stages_left_to_right_apart_and_in_place_actions_aside():
    profile, _ = load_validated("heping")
    spec = profile.plain()["workflow"]["workflows"][0]
    drawn = graph(spec, "zh", {r["code"]: r.get("name") for r in profile.plain()["roles"]})
    at = {n["name"]: (n["x"], n["y"]) for n in drawn["nodes"]}
    assert len(at) == len(spec["states"])
    for (a, pa), (b, pb) in combinations(at.items(), 2):  # no two boxes overlap
        assert abs(pa[0] - pb[0]) >= COLUMN or abs(pa[1] - pb[1]) >= ROW / 2, (a, b)
    # the main line runs left to right; closed stages end the diagram
    line = ["reported", "pending_file", "pending_dispatch", "dispatched", "handling", "pending_check"]
    assert [at[s][0] for s in line] == sorted(at[s][0] for s in line)
    assert at["closed"][0] == max(x for x, _ in at.values())
    names = {n["value"] for n in drawn["nodes"]}
    assert {"已上报", "待派遣", "处置中", "已结案"} <= names
    # one arrow a pair of stages, with every transition's name on it
    pairs = [(link["source"], link["target"]) for link in drawn["links"]]
    assert len(pairs) == len(set(pairs))
    extension = next(link for link in drawn["links"] if link["source"] == "extension_pending")
    assert extension["value"] == "批准延期 / 驳回延期" and extension["target"] == "handling"
    # 督办 leaves the case where it is: listed with its stages, not drawn as loops
    assert "督办" in dict(drawn["in_place"])
    assert all(link["source"] != link["target"] for link in drawn["links"])


@needs_chromium
def test_the_diagram_is_drawn_named_and_zooms(city, chromium):
    page = log_in(chromium, city.base, "desk")
    page.get_by_role("link", name="流程图").click()
    page.wait_for_function("() => document.querySelector('.workflow-chart canvas') !== null")
    option = page.evaluate(
        "() => { const c = echarts.getInstanceByDom(document.querySelector('.workflow-chart'));"
        " const s = c.getOption().series[0];"
        " return {layout: s.layout, roam: s.roam, zoom: s.zoom, names: s.data.map(d => d.value),"
        " edges: s.links.map(l => l.value)}; }"
    )
    assert option["layout"] == "none" and option["roam"] is True
    assert "处置中" in option["names"] and "handling" not in option["names"]
    assert "派遣" in option["edges"]
    expect(page.locator("table.in-place")).to_contain_text("督办")

    def zoom() -> float:
        return page.evaluate(
            "() => echarts.getInstanceByDom(document.querySelector('.workflow-chart')).getOption().series[0].zoom"
        )

    page.get_by_role("button", name="放大").first.click()
    assert zoom() > 1.2
    chart = page.locator(".workflow-chart").first
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = zoom()
    page.mouse.wheel(0, 400)  # the wheel zooms out
    page.wait_for_function(
        f"() => echarts.getInstanceByDom(document.querySelector('.workflow-chart'))"
        f".getOption().series[0].zoom < {before}"
    )
    page.get_by_role("button", name="复位").first.click()
    assert abs(zoom() - 1) < 1e-6
    screenshot(page, "workflow-diagram")
