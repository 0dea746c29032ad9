"""The maps, served by the UI itself (Leaflet from npm, no CDN), in a real browser on a bundled
city: 一张图 with named grids, cases by light, components, a heat layer, zoom and a legend, on
the deployment's basemap or on a plain ground without one; and the intake's location picker,
by a click on the map, a search among the city's known places, or the device's location."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert, select, update

from gridcase.core.db.models import Case, Component
from gridcase.core.settings import Settings, SettingsError, load_settings
from gridcase.core.web.headers import policy

from . import city_browser
from .city_browser import STREET, log_in, needs_chromium, screenshot, served

# the served bundled city, one a module and backend (city_browser.py)
city, chromium = city_browser.city, city_browser.chromium
CASE, COMPONENT = Case.__table__, Component.__table__
TILES = "https://tiles.example.test/{z}/{x}/{y}.png"
# a 1×1 grey PNG: what the test's tile server answers for every tile
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a0e6d0b50000000049454e44ae426082"
)


def watched(page) -> list[str]:
    """Content-Security-Policy violations and script errors the page reports."""
    trouble: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and trouble.append(m.text))
    page.on("pageerror", lambda error: trouble.append(str(error)))
    return trouble


@pytest.fixture(scope="module")
def components(city):
    """Three components (部件) beside a case in 太原街: 和平's profile ships none."""
    with city.engine.db.begin() as connection:
        lon, lat = connection.execute(
            select(CASE.c.lon, CASE.c.lat).where(CASE.c.grid.like(f"{STREET}%"))
        ).first()
        connection.execute(
            insert(COMPONENT),
            [
                {"code": f"0101{STREET}{i:04d}", "class_code": "0101", "name": f"上水井盖{i}", "lon": lon + i * 1e-4,
                 "lat": lat, "grid": None}
                for i in range(3)
            ],
        )  # fmt: skip
        # a past report's address, for the picker's search
        connection.execute(
            update(CASE).where(CASE.c.id == connection.execute(select(CASE.c.id).limit(1)).scalar())
            .values(address="和平区南京南街12号")
        )  # fmt: skip
    return lon, lat


def test_the_basemap_setting_is_a_tile_address_and_opens_the_policy_to_its_host(tmp_path: Path):
    settings = tmp_path / "gridcase.toml"
    settings.write_text('[gridcase]\nmap_tiles = "https://t0.tianditu.gov.cn/vec_w/{z}/{x}/{y}?tk=KEY"\n')
    loaded = load_settings(tmp_path)
    assert loaded.map_tiles == "https://t0.tianditu.gov.cn/vec_w/{z}/{x}/{y}?tk=KEY"
    assert "img-src 'self' data: blob: https://t0.tianditu.gov.cn;" in policy("https://t0.tianditu.gov.cn")
    # the documented example (docs/operations.md) is a setting that loads
    docs = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    example = re.search(r"<!-- example: map-settings -->\n```toml\n(.*?)```", docs, flags=re.S).group(1)
    settings.write_text(example, encoding="utf-8")
    assert "tianditu.gov.cn" in load_settings(tmp_path).map_tiles
    for wrong in (
        "ftp://tiles/{z}/{x}/{y}",
        "https://tiles.example/{z}/{x}.png",
        "https://{s}.tiles/{z}/{x}/{y}",
    ):
        settings.write_text(f'[gridcase]\nmap_tiles = "{wrong}"\n')
        with pytest.raises(SettingsError, match="map_tiles"):
            load_settings(tmp_path)


@needs_chromium
def test_the_city_map_shows_named_grids_cases_components_heat_and_zooms(city, chromium, components):
    leader = log_in(chromium, city.base, "leader")
    trouble = watched(leader)
    leader.get_by_role("link", name="一张图").click()
    expect(leader.locator("#citymap .leaflet-overlay-pane path.grid").first).to_be_attached()
    # no basemap set: the grids alone, on a plain ground, nothing fetched from elsewhere
    assert leader.locator(".leaflet-tile").count() == 0
    expect(leader.locator("#citymap")).to_have_class(re.compile("plain"))
    # cases by light, components, and a legend naming them in Chinese
    for light in ("green", "yellow", "red"):
        assert leader.locator(f"path.case.{light}").count() > 0, light
    assert leader.locator("path.component").count() == 3
    legend = leader.locator(".map-legend")
    for word in ("图例", "正常", "将到期", "已超期", "部件", "网格", "热力"):
        expect(legend).to_contain_text(word)
    # the street level: each grid labelled with its name, never its code
    leader.get_by_label("网格层级").select_option(label="街道")
    leader.wait_for_url(re.compile(r"level=street"))
    labels = leader.locator(".leaflet-tooltip.grid-label")
    expect(labels.first).to_be_visible()
    names = labels.all_inner_texts()
    assert "太原街街道办事处" in names and not any(re.fullmatch(r"\d+", n) for n in names)
    assert "南市场街道办事处" in leader.locator("ul.grid-list").inner_text()
    # a grid clicked on the map (beside its label, which lets clicks through) lists its cases
    middle = leader.locator(".grid-label", has_text="太原街街道办事处").bounding_box()
    leader.mouse.click(middle["x"] + middle["width"] / 2, middle["y"] + middle["height"] + 4)
    expect(leader.locator("#grid-cases h2")).to_contain_text("太原街街道办事处")
    expect(leader.locator("#grid-cases a").first).to_be_visible()
    # the heat layer of the period's reports, switched on in the layer control
    leader.get_by_label("热力时段").select_option(label="近 90 天")
    leader.wait_for_url(re.compile(r"days=90"))
    leader.get_by_label("热力（上报密度）").check()
    expect(leader.locator("canvas.leaflet-heatmap-layer")).to_be_attached()
    # zoom
    zoom = leader.evaluate("document.getElementById('citymap').gridcaseMap.getZoom()")
    leader.locator(".leaflet-control-zoom-in").click()
    leader.wait_for_function(f"document.getElementById('citymap').gridcaseMap.getZoom() > {zoom}")
    screenshot(leader, "city-map")
    # opened directly, a grid's page is the map with its cases beside it
    direct = leader.goto(f"{city.base}/ui/map/grids/{STREET}")
    assert direct.status == 200
    expect(leader.locator("#citymap .leaflet-overlay-pane path.grid").first).to_be_attached()
    expect(leader.locator("#grid-cases h2")).to_contain_text("太原街街道办事处")
    assert trouble == []


@needs_chromium
def test_the_basemap_comes_from_the_deployments_tile_address(city, chromium):
    settings = Settings(map_tiles=TILES, map_attribution="测试底图", sweep_seconds=0)
    with served(city.engine, settings) as base:
        leader = log_in(chromium, base, "leader")
        trouble = watched(leader)
        fetched: list[str] = []

        def tile(route):
            fetched.append(route.request.url)
            route.fulfill(status=200, content_type="image/png", body=PNG)

        leader.route("https://tiles.example.test/**", tile)
        answer = leader.goto(f"{base}/ui/map")
        assert (
            "img-src 'self' data: blob: https://tiles.example.test"
            in answer.headers["content-security-policy"]
        )
        expect(leader.locator(".leaflet-tile-loaded").first).to_be_attached()
        assert fetched and all(
            re.fullmatch(r"https://tiles\.example\.test/\d+/\d+/\d+\.png", u) for u in fetched
        )
        expect(leader.locator(".leaflet-control-attribution")).to_contain_text("测试底图")
        assert "plain" not in (leader.locator("#citymap").get_attribute("class") or "")
        assert trouble == []


@needs_chromium
def test_intake_sets_the_point_by_map_click_search_or_my_location(city, chromium, components):
    component_lon, component_lat = components
    desk = log_in(chromium, city.base, "desk")
    trouble = watched(desk)
    desk.get_by_role("link", name="受理上报").click()
    picker = desk.locator(".location-picker")
    expect(picker).to_have_attribute("data-ready", "yes")
    lon, lat = desk.get_by_label("经度"), desk.get_by_label("纬度")

    # a click in the middle of the map: the point, and the grid it lies in
    picker.locator(".picker-map").click()
    expect(lon).not_to_have_value("")
    expect(picker.locator(".picker-status")).to_contain_text("所在网格")
    clicked = float(lon.input_value()), float(lat.input_value())
    assert 123.3 < clicked[0] < 123.5 and 41.7 < clicked[1] < 41.9  # 和平区, Shenyang

    # the city's known places: a grid by name, a component, a past case's address
    search = picker.get_by_label("搜索地点")
    search.fill("太原街街道")
    picker.locator(".picker-results button", has_text="太原街街道办事处").click()
    expect(picker.locator(".picker-status")).to_contain_text("太原街")
    assert (float(lon.input_value()), float(lat.input_value())) != clicked
    search.fill("上水井盖1")
    picker.locator(".picker-results button", has_text="上水井盖1").click()
    expect(lon).to_have_value(f"{component_lon + 1e-4:.6f}")
    search.fill("南京南街")
    search.press("Enter")  # picks the first place; it does not send the report
    expect(desk.get_by_label("地址", exact=True)).to_have_value("和平区南京南街12号")
    assert desk.url.endswith("/ui/cases/new")
    search.fill("没有这个地方")
    expect(picker.locator(".picker-results")).to_contain_text("没有找到")

    # the device's location, where the browser grants it
    here = log_in(
        chromium, city.base, "desk", geolocation={"latitude": component_lat, "longitude": component_lon},
        permissions=["geolocation"],
    )  # fmt: skip
    here.get_by_role("link", name="受理上报").click()
    expect(here.locator(".location-picker")).to_have_attribute("data-ready", "yes")
    here.get_by_role("button", name="使用我的位置").click()
    expect(here.get_by_label("经度")).to_have_value(f"{component_lon:.6f}")
    expect(here.get_by_label("纬度")).to_have_value(f"{component_lat:.6f}")
    screenshot(here, "intake-location-picker")

    # a report located by a map click is filed where it was clicked
    picker.locator(".picker-map").click(position={"x": 200, "y": 150})
    expect(picker.locator(".picker-status")).to_contain_text("所在网格")
    point = float(lon.input_value()), float(lat.input_value())
    desk.get_by_label("问题类别").select_option(index=1)
    desk.get_by_label("问题描述").fill("地图上点选的位置")
    desk.get_by_role("button", name="提交").click()
    desk.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    filed = city.engine.case(int(desk.url.rsplit("/", 1)[1]))
    assert (round(filed["lon"], 6), round(filed["lat"], 6)) == point
    assert trouble == []
