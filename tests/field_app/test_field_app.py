"""The field app on a phone, in real Chromium with mobile emulation (a 390 px viewport, touch,
geolocation, the network cut with context.set_offline): a supervisor reports three problems
offline and exactly three cases arrive with their photos, however often the queue is sent; a
handler's feedback made offline keeps its device time, which stops the clock in this city, and a
device time from the future or too old is refused in words; an offline step on a case that
changed meanwhile is a conflict that says what happened and changes nothing; the manifest is
valid and the service worker serves the shell without a network.

The city is the test city with a patrol checklist and `time_limits.offline` ruling that the
device's time stops the clock, served at Tuesday 2026-10-13 09:00 Beijing time; each browser
context's clock is set to that time too (Playwright's clock), moved where a test needs a device
that is slow, fast or long offline.
"""

import base64
import re
import shutil
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from gridcase.admin_ui.case_view import case_context
from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.models import Case, Evidence, PatrolPoint
from gridcase.core.engine import Engine
from gridcase.core.people import administration
from gridcase.core.people.accounts import set_password
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.timesource import ManualTime

from ..admin_ui import city_browser
from ..admin_ui.city_browser import needs_chromium, served
from ..admin_ui.conftest import CHROMIUM
from ..conftest import BACKENDS, TESTCITY

pytestmark = needs_chromium
NOW = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)  # 09:00 in the test city
LIMIT = 200_000  # the evidence limit photos are compressed to
PASSWORD = "correct horse battery"
STREET1 = (120.61, 31.337)  # in street 320508001, the supervisors' grid
OUTSIDE = (120.61, 31.31)  # in street 320508002
PEOPLE = {
    # name: (roles, unit, grids)
    "supervisor": (["supervisor"], None, ["320508001"]),
    "colleague": (["supervisor"], None, ["320508001"]),
    "water": (["department"], "water", []),
    "centre": (["operator", "shift_leader", "dispatcher"], None, []),
}
EXTRA = """
time_limits:
  offline: {stops_clock_at: device, max_age: 8 hour}
checklists:
  - code: patrol
    name: 网格巡查事项清单
    channels: [patrol]
    items:
      - {code: P001, name: 上水井盖：井盖破损, kind: component, class: '0101'}
      - {code: P002, name: 上水井盖：井盖缺失, kind: component, class: '0101'}
"""
CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "permissions": ["geolocation"],
}


@dataclass
class Field:
    base: str
    engine: Engine
    backend: str
    ids: dict[str, int]


@pytest.fixture(scope="module", params=BACKENDS)
def field(request, tmp_path_factory, sqlite_template) -> Iterator[Field]:
    folder = tmp_path_factory.mktemp("field")
    city = folder / "city"
    shutil.copytree(TESTCITY, city)
    with (city / "profile.yaml").open("a", encoding="utf-8") as profile:
        profile.write(EXTRA)
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "city.db")
        url, drop = f"sqlite:///{folder / 'city.db'}", None
    else:
        admin, new_database = request.getfixturevalue("pg_admin")
        name, url = new_database()
        drop = lambda: admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # noqa: E731
    engine = Engine.open(city, url, time=ManualTime(NOW), evidence=EvidenceStore(folder / "evidence", LIMIT))
    engine.load_reference_data()
    ids = {}
    for username, (roles, unit, grids) in PEOPLE.items():
        ids[username] = add_person(engine.db, username, username, roles, unit=unit, grids=grids)
        set_password(engine.db, username, PASSWORD)
    try:
        with served(engine) as base:
            yield Field(base, engine, request.param, ids)
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
def camera_photo(chromium) -> bytes:
    """A phone camera's photo: 3000×2000, noisy, far over the city's limit until compressed."""
    page = chromium.new_page()
    data = page.evaluate(
        """() => {
        const c = document.createElement('canvas'); c.width = 3000; c.height = 2000;
        const ctx = c.getContext('2d'); const img = ctx.createImageData(3000, 2000);
        for (let i = 0; i < img.data.length; i += 4) {
          const v = (i * 2654435761) % 255;
          img.data[i] = v; img.data[i + 1] = (v * 7) % 255; img.data[i + 2] = (v * 13) % 255; img.data[i + 3] = 255;
        }
        ctx.putImageData(img, 0, 0);
        return c.toDataURL('image/jpeg', 0.95).split(',')[1];
    }"""
    )
    page.close()
    photo = base64.b64decode(data)
    assert len(photo) > 5 * LIMIT
    return photo


def phone(chromium, field: Field, where=STREET1, at: datetime = NOW):
    context = chromium.new_context(
        **PHONE, geolocation={"longitude": where[0], "latitude": where[1], "accuracy": 12}
    )
    context.clock.set_system_time(at)
    return context


def log_in(context, field: Field, name: str):
    page = context.new_page()
    page.goto(f"{field.base}/m/")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#tabs")).to_be_visible()
    # the service worker controls the page from its first visit (clients.claim)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return page


def snap(page, field: Field, name: str) -> None:
    if field.backend == "sqlite":
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def outbox(page) -> list[dict]:
    return page.evaluate(
        "async () => (await fieldApp.outbox.all()).map(({key, kind, status, message, number, made_at}) => "
        "({key, kind, status, message, number, made_at}))"
    )


def photo_sizes(engine: Engine, case_id: int) -> list[int]:
    with engine.db.connect() as connection:
        query = select(Evidence.__table__.c.size).where(Evidence.__table__.c.case_id == case_id)
        return list(connection.execute(query).scalars())


def patrol_cases(engine: Engine) -> list[int]:
    with engine.db.connect() as connection:
        case = Case.__table__
        return list(
            connection.execute(
                select(case.c.id).where(case.c.channel == "patrol").order_by(case.c.id)
            ).scalars()
        )


def at_the_centre(chromium, field: Field, name: str = "centre"):
    """The admin UI, logged in as a person of the centre (or as `name`)."""
    return city_browser.log_in(chromium, field.base, name, PASSWORD)


def track_points(engine: Engine, person_id: int) -> list[tuple[float, float]]:
    with engine.db.connect() as connection:
        point = PatrolPoint.__table__
        query = select(point.c.lon, point.c.lat).where(point.c.person_id == person_id)
        return [tuple(row) for row in connection.execute(query.order_by(point.c.made_at))]


def photo_sides(engine: Engine, case_id: int) -> dict[str, list[str]]:
    """The case page's photos, before and after, each by the step it came with."""
    photos = case_context(engine, engine.case(case_id))["photos"]
    return {side: [p["step"]["transition"] for p in items] for side, items in photos.items()}


def png_size(raw: bytes) -> tuple[int, int]:
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def test_manifest_is_valid_and_the_service_worker_serves_the_shell_offline(chromium, field):
    context = phone(chromium, field)
    page = context.new_page()
    page.goto(f"{field.base}/m/")
    manifest_url = page.locator("link[rel=manifest]").get_attribute("href")
    answer = page.request.get(f"{field.base}{manifest_url}")
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["name"] == "城管通 · 测试区" and manifest["short_name"] == "城管通"
    assert manifest["start_url"].startswith(manifest["scope"]) and manifest["display"] == "standalone"
    assert manifest["lang"] == "zh-CN"
    sizes = set()
    for icon in manifest["icons"]:
        raw = page.request.get(f"{field.base}{icon['src']}").body()
        width, height = png_size(raw)
        assert icon["sizes"] == f"{width}x{height}" and icon["type"] == "image/png"
        sizes.add(width)
    assert {192, 512} <= sizes  # what Chromium asks of an installable app
    registration = page.evaluate(
        "async () => { const r = await navigator.serviceWorker.ready; return r.scope; }"
    )
    assert registration == f"{field.base}/m/"
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.reload()
    expect(page.locator("#net")).to_have_text("离线")
    # never logged in on this phone: the shell opens and says what to do
    expect(page.get_by_role("alert")).to_contain_text("离线且尚未登录过")
    assert page.evaluate("fetch('/m/static/app.css').then(r => r.ok)")
    context.close()


def test_a_supervisor_offline_reports_three_problems_and_exactly_three_cases_arrive(
    chromium, field, camera_photo
):
    context = phone(chromium, field)
    page = log_in(context, field, "supervisor")
    expect(page.locator("#title")).to_have_text("城管通 · 测试区")
    expect(page.locator("#fix")).to_contain_text("精度 ±12 米")
    before = patrol_cases(field.engine)
    context.set_offline(True)
    expect(page.locator("#net")).to_have_text("离线")
    made = NOW - timedelta(minutes=40)  # in an underpass, forty minutes before the signal returns
    context.clock.set_system_time(made)
    places = [(120.605 + 0.01 * i, 31.335) for i in range(3)]  # apart: no report joins another's case
    for n, (lon, lat) in enumerate(places):
        context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
        page.get_by_role("button", name="重新定位").click()
        expect(page.locator("#fix")).to_contain_text(f"经度 {lon:.5f}")
        page.get_by_label("拍照").set_input_files(
            files=[{"name": f"IMG_{n}.jpg", "mimeType": "image/jpeg", "buffer": camera_photo}]
        )
        expect(page.locator(".thumbs img")).to_have_count(1)
        if n == 2:  # the third from the patrol checklist
            page.get_by_label("搜索类别").fill("井盖缺失")
            page.get_by_role("button", name="清单 P002 上水井盖：井盖缺失").click()
        else:
            page.get_by_label("搜索类别").fill("井盖")
            page.locator("#choices .btn").filter(has_text="0101").first.click()
        if n == 0:
            page.get_by_label("描述").fill("井盖破损，有行人绊倒危险")
            snap(page, field, "field-supervisor")
        page.get_by_role("button", name="提交上报").click()
        expect(page.get_by_role("status").filter(has_text="已保存在手机上")).to_be_visible()
    expect(page.locator("#pending")).to_have_text("3")
    assert patrol_cases(field.engine) == before  # nothing left the phone

    page.locator("#sync").click()
    expect(page.locator(".outbox-item[data-status=pending]")).to_have_count(3)
    # the signal returns, weakly: the first report reaches the server but its answer is lost
    lost = []

    def lose_the_first_answer(route):
        if lost:
            route.continue_()
            return
        lost.append(route.fetch().status)
        route.abort("connectionreset")

    page.route("**/api/v1/cases", lose_the_first_answer)
    context.clock.set_system_time(NOW)
    context.set_offline(False)
    expect(page.locator("#net")).to_have_text("在线")
    page.wait_for_function("() => fieldApp.sync().then(() => true)")
    assert lost == [201]
    page.get_by_role("button", name="立即发送").click()  # the first again, with its key: its case
    expect(page.locator(".outbox-item[data-status=sent]")).to_have_count(3, timeout=15000)
    cases = [c for c in patrol_cases(field.engine) if c not in before]
    assert len(cases) == 3
    for case_id in cases:
        (size,) = photo_sizes(field.engine, case_id)
        assert size <= LIMIT  # compressed on the phone to the city's limit
    numbers = {field.engine.case(c)["number"] for c in cases}
    assert {i["number"] for i in outbox(page)} == numbers
    assert field.engine.case(cases[2])["class_code"] == "0101"  # the checklist item's class
    for case_id in cases:  # each keeps when it was made on the phone beside when it arrived
        (report,) = field.engine.case(case_id)["reports"]
        assert report["received_at"] == NOW and timedelta(0) <= report["made_at"] - made < timedelta(
            minutes=2
        )
    desk = at_the_centre(chromium, field)
    desk.goto(f"{field.base}/ui/cases/{cases[0]}")
    expect(desk.locator(".made-offline")).to_have_text(
        re.compile(r"手机上 2026-10-13 08:(20|21) 上报，2026-10-13 09:00 送达")
    )
    desk.context.close()

    # the answers were lost on the way (the phone never heard them): sent again, twice at once
    page.evaluate(
        """async () => {
        for (const item of await fieldApp.outbox.all()) await fieldApp.outbox.put({...item, status: 'pending'});
        await Promise.all([fieldApp.sync(), fieldApp.sync()]);
        await fieldApp.sync();
    }"""
    )
    assert [c for c in patrol_cases(field.engine) if c not in before] == cases
    assert sum(len(photo_sizes(field.engine, c)) for c in cases) == 3
    assert {i["status"] for i in outbox(page)} == {"sent"}
    context.close()


def move(context, page, lon: float, lat: float) -> None:
    """The phone moves; its watch on the position (on while patrolling) takes the new fix."""
    context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 10})
    page.wait_for_function("(lon) => fieldApp.state.position && fieldApp.state.position.lon === lon", arg=lon)


def test_the_day_s_track_the_patrol_checklist_a_warning_outside_the_grids_and_self_handling(
    chromium, field, camera_photo
):
    context = phone(chromium, field)
    page = log_in(context, field, "supervisor")
    page.locator("#tabs").get_by_role("button", name="巡查").click()
    supervisor = field.ids["supervisor"]
    already = track_points(field.engine, supervisor)
    for lon in (120.611, 120.613, 120.615):
        move(context, page, lon, 31.336)
    expect(page.locator("#alert")).to_be_hidden()
    page.wait_for_function("() => fieldApp.sync().then(() => true)")
    walked = [p for p in track_points(field.engine, supervisor) if p not in already]
    assert [lon for lon, _ in walked][-3:] == [120.611, 120.613, 120.615]
    # in the underpass: the points wait on the phone, and go up when the signal returns
    context.set_offline(True)
    move(context, page, 120.617, 31.336)
    move(context, page, 120.619, 31.336)
    page.locator("#tabs").get_by_role("button", name="巡查").click()
    expect(page.locator("#track-summary")).to_contain_text("2 个待上传")
    assert (120.619, 31.336) not in track_points(field.engine, supervisor)
    context.set_offline(False)
    page.wait_for_function("() => fieldApp.sync().then(() => true)")
    walked = [p for p in track_points(field.engine, supervisor) if p not in already]
    assert [lon for lon, _ in walked][-5:] == [120.611, 120.613, 120.615, 120.617, 120.619]
    page.wait_for_function("() => fieldApp.sync().then(() => true)")  # nothing new: nothing twice
    assert len(track_points(field.engine, supervisor)) == len(already) + len(walked)
    # the centre reads the day's track; a department may not
    desk = at_the_centre(chromium, field)
    desk.goto(f"{field.base}/ui/tracks?person={supervisor}&date=2026-10-13")
    expect(desk.locator("svg.track-map polyline.track")).to_have_count(1)
    expect(desk.locator("svg.track-map polygon.grid")).to_have_count(1)
    expect(desk.locator("table.track-points tbody tr")).to_have_count(len(already) + len(walked))
    expect(desk.locator("#track-summary")).to_contain_text(f"{len(already) + len(walked)} 个位置点")
    snap(desk, field, "field-track")
    water = at_the_centre(chromium, field, "water")
    answer = water.goto(f"{field.base}/ui/tracks?person={supervisor}&date=2026-10-13")
    assert answer.status == 403
    expect(water.locator("svg.track-map")).to_have_count(0)
    water.context.close()
    move(context, page, *OUTSIDE)
    expect(page.locator("#alert")).to_contain_text("越界提醒：你已离开负责网格")
    page.locator("#tabs").get_by_role("button", name="巡查").click()
    expect(page.locator(".map polyline.track")).to_have_count(1)
    expect(page.locator(".map polygon.grid")).to_have_count(1)
    expect(page.locator("#track-summary")).to_contain_text("当前在负责网格外")
    expect(page.get_by_role("heading", name="巡查清单（2 项）")).to_be_visible()
    snap(page, field, "field-patrol")
    page.get_by_role("button", name="P001 上水井盖：井盖破损").click()
    expect(page.get_by_text("类别：清单 P001 上水井盖：井盖破损")).to_be_visible()
    move(context, page, 120.625, 31.338)
    expect(page.locator("#alert")).to_be_hidden()
    # 自行处置: found and put right on the spot, with the photo before and the one after
    page.get_by_label("拍照").set_input_files(
        files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": camera_photo}]
    )
    page.get_by_label("已当场自行处置").check()
    expect(page.get_by_role("button", name="提交上报")).to_be_disabled()
    page.get_by_label("拍处置后照片").set_input_files(
        files=[{"name": "b.jpg", "mimeType": "image/jpeg", "buffer": camera_photo}]
    )
    expect(page.locator(".thumbs img")).to_have_count(2)
    page.get_by_role("button", name="提交上报").click()
    page.locator("#sync").click()
    expect(page.locator(".outbox-item[data-status=sent]")).to_have_count(2, timeout=15000)
    (item,) = [i for i in outbox(page) if i["kind"] == "report"]
    case = next(
        c for c in (field.engine.case(i) for i in patrol_cases(field.engine)) if c["number"] == item["number"]
    )
    assert case["state"] == "self_review" and case["class_code"] == "0101"
    assert len(case["evidence"]) == 2
    # the problem as found, and as left: side by side on the case page
    assert photo_sides(field.engine, case["id"]) == {"before": ["report"], "after": ["self_handle"]}
    desk.goto(f"{field.base}/ui/cases/{case['id']}")
    expect(desk.locator(".photo-column.before img")).to_have_count(1)
    expect(desk.locator(".photo-column.after small")).to_contain_text("自行处置")
    desk.context.close()
    context.close()


def _handling(engine: Engine, water: Actor, point) -> int:
    """A case dispatched to the water department and signed for, three hours before now."""
    engine.time.set(NOW - timedelta(hours=3))
    desk = Actor.of("operator")  # a call the centre took itself: no verification before filing
    report = {"channel": "leader", "point": point, "category": "0101", "kind": "component"}
    case_id = engine.intake(report, desk)["case_id"]
    engine.transition(case_id, "accept", CENTRE)
    engine.transition(
        case_id, "file", CENTRE, payload={"category": "0101", "kind": "component", "standard": "loose"}
    )
    engine.transition(case_id, "dispatch", CENTRE, payload={"units": ["water"]})
    engine.transition(case_id, "sign", water)
    engine.time.set(NOW)
    return case_id


def test_a_handler_s_feedback_made_offline_arrives_with_both_times_and_bad_device_times_are_refused(
    chromium, field, camera_photo
):
    engine = field.engine
    water = Actor.of("department", id=field.ids["water"], unit="water")
    fed, early, stale = (_handling(engine, water, (120.603 + 0.01 * i, 31.325)) for i in range(3))
    context = phone(chromium, field)
    page = log_in(context, field, "water")
    expect(page.locator("#title")).to_have_text("处置通 · 测试区")
    expect(page.locator(".task")).to_have_count(3)
    snap(page, field, "field-handler")

    # feedback made an hour ago in an underpass, sent when the phone came up
    context.set_offline(True)
    context.clock.set_system_time(NOW - timedelta(hours=1))
    number = engine.case(fed)["number"]
    page.locator(f".task[data-case='{number}']").get_by_role("button", name="处置反馈").click()
    page.get_by_label("拍处置前照片").set_input_files(
        files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": camera_photo}]
    )
    page.get_by_label("拍处置后照片").set_input_files(
        files=[{"name": "b.jpg", "mimeType": "image/jpeg", "buffer": camera_photo}]
    )
    expect(page.locator(".sheet .thumbs img")).to_have_count(2)
    page.get_by_role("button", name="确认处置反馈").click()
    expect(page.locator(f".task[data-case='{number}']")).to_contain_text("已办理，待发送")
    context.clock.set_system_time(NOW)
    context.set_offline(False)
    page.locator("#sync").click()
    expect(page.locator(".outbox-item[data-status=sent]")).to_have_count(1, timeout=15000)
    case = engine.case(fed)
    assert case["state"] == "pending_check"
    (event,) = [e for e in case["events"] if e["transition"] == "handle"]
    made = datetime.fromisoformat(event["effects"]["offline"]["made_at"])
    assert timedelta(0) <= made - (NOW - timedelta(hours=1)) < timedelta(minutes=2)
    assert event["at"] == NOW and datetime.fromisoformat(event["effects"]["offline"]["arrived_at"]) == NOW
    (clock,) = [c for c in case["clocks"] if c["stage"] == "handle"]
    assert clock["stopped_at"] == made  # this city's profile: the device's time stops the clock
    assert len([e for e in case["evidence"] if e["event_id"] == event["id"]]) == 2  # before and after
    assert photo_sides(engine, fed) == {"before": ["handle"], "after": ["handle"]}

    # a phone whose clock runs an hour fast, and one whose step waited nine hours (over 8 hour)
    page.locator("#tabs").get_by_role("button", name="我的任务").click()
    for case_id, moment in ((early, NOW + timedelta(hours=1)), (stale, NOW - timedelta(hours=9))):
        context.clock.set_system_time(moment)
        number = engine.case(case_id)["number"]
        page.locator(f".task[data-case='{number}']").get_by_role("button", name="申请延期").click()
        page.get_by_label("延期时长").select_option(label="2 工作日")
        page.get_by_label("原因").fill("需要更换管道配件")
        page.get_by_role("button", name="确认申请延期").click()
    context.clock.set_system_time(NOW)
    page.locator("#sync").click()
    refused = page.locator(".outbox-item[data-status=refused]")
    expect(refused).to_have_count(2)
    expect(refused.filter(has_text="比服务器时间（2026-10-13 09:00）还晚")).to_have_count(1)
    expect(refused.filter(has_text="超过本市允许的离线时长（8 小时）")).to_have_count(1)
    for case_id in (early, stale):
        assert engine.case(case_id)["state"] == "handling"
    # done again with the phone's clock right: the extension request and a return go through
    page.locator("#tabs").get_by_role("button", name="我的任务").click()
    page.locator(f".task[data-case='{engine.case(early)['number']}']").get_by_role(
        "button", name="申请延期"
    ).click()
    page.get_by_label("原因").fill("需要更换管道配件")
    page.get_by_role("button", name="确认申请延期").click()
    page.locator(f".task[data-case='{engine.case(stale)['number']}']").get_by_role(
        "button", name="退回"
    ).click()
    page.get_by_label("原因").fill("不属于本单位职责")
    page.get_by_role("button", name="确认退回").click()
    page.locator("#sync").click()
    expect(page.locator(".outbox-item[data-status=sent]")).to_have_count(3, timeout=15000)
    assert engine.case(early)["state"] == "extension_pending"
    assert engine.case(stale)["state"] == "returned"
    context.close()


def test_an_offline_check_on_a_case_returned_meanwhile_is_a_conflict_and_changes_nothing(
    chromium, field, camera_photo
):
    engine = field.engine
    water = Actor.of("department", id=field.ids["water"], unit="water")
    case_id = _handling(engine, water, (120.63, 31.336))
    engine.transition(
        case_id, "handle", water, uploads=[Upload("after.jpg", b"\xff\xd8\xff\xe0" + bytes(300))]
    )
    context = phone(chromium, field, where=(120.6302, 31.336))
    page = log_in(context, field, "supervisor")
    page.locator("#tabs").get_by_role("button", name="任务").click()
    number = engine.case(case_id)["number"]
    card = page.locator(f".task[data-case='{number}']")
    expect(card).to_contain_text("待核查")
    context.set_offline(True)
    card.get_by_role("button", name="核查通过").click()
    page.get_by_label("拍现场照片").set_input_files(
        files=[{"name": "c.jpg", "mimeType": "image/jpeg", "buffer": camera_photo}]
    )
    expect(page.locator(".sheet .thumbs img")).to_have_count(1)
    page.get_by_role("button", name="确认核查通过").click()
    # meanwhile a colleague found the work undone and sent it back to the department
    colleague = Actor.of("supervisor", id=field.ids["colleague"], grids=["320508001"])
    engine.transition(
        case_id,
        "rework",
        colleague,
        reason="井盖仍未更换",
        uploads=[Upload("x.jpg", b"\xff\xd8\xff\xe0" + bytes(300))],
    )
    seen = engine.case(case_id)
    context.set_offline(False)
    page.locator("#sync").click()
    conflict = page.locator(".outbox-item[data-status=conflict]")
    expect(conflict).to_have_count(1, timeout=15000)
    expect(conflict).to_contain_text("案件在你离线期间已有变化，此操作未执行")
    expect(conflict).to_contain_text("核查不通过（返工） → 处置中（井盖仍未更换）")
    expect(conflict).to_contain_text("案件现在：处置中")
    snap(page, field, "field-conflict")
    after = engine.case(case_id)
    assert (after["state"], after["version"], len(after["evidence"])) == (
        "handling",
        seen["version"],
        len(seen["evidence"]),
    )
    assert not [e for e in after["events"] if e["transition"] == "check_pass"]
    context.close()


def test_a_step_whose_sending_failed_is_sent_again_without_being_asked(chromium, field):
    """The signal comes back weak: the phone's first tries to send a handler's step are lost on
    the way. It tries again by itself, without anyone touching it."""
    engine = field.engine
    water = Actor.of("department", id=field.ids["water"], unit="water")
    case_id = _handling(engine, water, (120.633, 31.326))
    context = phone(chromium, field)
    page = log_in(context, field, "water")
    number = engine.case(case_id)["number"]
    context.set_offline(True)
    page.locator(f".task[data-case='{number}']").get_by_role("button", name="申请延期").click()
    page.get_by_label("原因").fill("需要更换管道配件")
    page.get_by_role("button", name="确认申请延期").click()
    lost = []
    weak_until = time.monotonic() + 2  # the first try, and whatever follows in two seconds online

    def weak_signal(route):
        if not lost or time.monotonic() < weak_until:
            lost.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/transitions/.*"), weak_signal)
    context.set_offline(False)
    for _ in range(200):  # 20 s, without touching the phone
        if engine.case(case_id)["state"] == "extension_pending":
            break
        page.wait_for_timeout(100)
    assert engine.case(case_id)["state"] == "extension_pending"
    assert lost
    page.locator("#sync").click()
    expect(page.locator(".outbox-item[data-status=sent]")).to_have_count(1)
    context.close()


def test_a_temporary_password_is_exchanged_for_the_person_s_own_on_the_phone(chromium, field):
    engine = field.engine
    temporary = administration.reset_password(engine.db, "water", "admin", engine.time.now())
    context = phone(chromium, field)
    page = context.new_page()
    page.goto(f"{field.base}/m/")
    page.get_by_label("用户名").fill("water")
    page.get_by_label("密码").fill(temporary)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="设置自己的密码")).to_be_visible()
    page.get_by_label("新密码（至少 10 个字符）").fill("water-own-2026")
    page.get_by_label("再输一次新密码").fill("water-own-2O26")
    page.get_by_role("button", name="保存并登录").click()
    expect(page.get_by_role("alert")).to_have_text("两次输入的新密码不一样。")
    page.get_by_label("再输一次新密码").fill("water-own-2026")
    page.get_by_role("button", name="保存并登录").click()
    expect(page.locator("#title")).to_have_text("处置通 · 测试区")  # in, on the tasks
    context.close()
    set_password(engine.db, "water", PASSWORD)  # as the module's other tests log in


def test_the_shell_fits_a_small_phone(chromium, field):
    context = chromium.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}})
    page = log_in(context, field, "water")
    expect(page.locator(".task").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    small = page.evaluate(
        "[...document.querySelectorAll('button, .btn')].filter(b => b.offsetParent)"
        ".filter(b => b.getBoundingClientRect().height < 44).map(b => b.textContent)"
    )
    assert small == []
    expect(page.locator("#title")).to_have_text("处置通 · 测试区")
    context.close()
