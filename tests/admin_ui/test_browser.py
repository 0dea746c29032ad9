"""The admin UI in a real browser: Debian's Chromium, headless, driven by Playwright.

`.ci/run` installs the `chromium` package, so CI always runs these; elsewhere they are skipped,
with the reason shown, when no Chromium is on the machine. Each step takes a screenshot (set
GRIDCASE_SCREENSHOTS to a folder to keep them; the README links the ones in docs/screenshots).
"""

import base64
import os
import re
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.db.connection import upgrade
from gridcase.core.engine import Engine
from gridcase.core.timesource import ManualTime
from gridcase.core.web.app import create_app

from ..conftest import TESTCITY
from .conftest import CHROMIUM, PASSWORD, STREET1, add_people

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)"
)
PHOTO_JS = """() => { const c = document.createElement('canvas'); c.width = 480; c.height = 320;
  const x = c.getContext('2d'); x.fillStyle = '#8d99a6'; x.fillRect(0, 0, 480, 320);
  x.fillStyle = '#2b2f33'; x.beginPath(); x.ellipse(240, 170, 120, 70, 0, 0, 7); x.fill();
  x.fillStyle = '#fff'; x.font = '28px sans-serif'; x.fillText('现场照片', 180, 60);
  return c.toDataURL('image/jpeg', 0.85); }"""


@pytest.fixture
def served(tmp_path):
    url = f"sqlite:///{tmp_path / 'city.db'}"
    upgrade(url)
    engine = Engine.open(
        TESTCITY, url, time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence"),
    )  # fmt: skip
    engine.load_reference_data()
    add_people(engine)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine=engine), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine
    server.should_exit = True
    thread.join(timeout=10)
    engine.db.dispose()


class Shots:
    def __init__(self, tmp_path: Path) -> None:
        self.folders = [tmp_path / "screens"] + (
            [Path(os.environ["GRIDCASE_SCREENSHOTS"])] if os.environ.get("GRIDCASE_SCREENSHOTS") else []
        )
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        for folder in self.folders:
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


# what went wrong in any page: Content-Security-Policy violations (Chromium reports them on the
# console) and uncaught script errors; a test ends with none
TROUBLE: list[str] = []


def watched(page):
    page.on(
        "console", lambda m: "Content Security Policy" in m.text and TROUBLE.append(f"{page.url}: {m.text}")
    )
    page.on("pageerror", lambda error: TROUBLE.append(f"{page.url}: {error}"))
    return page


@pytest.fixture(autouse=True)
def trouble():
    TROUBLE.clear()
    yield TROUBLE


def log_in(browser, base: str, name: str, password: str = PASSWORD):
    page = watched(browser.new_page(viewport={"width": 1360, "height": 900}, locale="zh-CN"))
    page.goto(f"{base}/ui/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/ui/queue")
    return page


def fire(page, code: str, photo: Path | None = None, reason: str | None = None) -> None:
    page.locator(f'details.transition:has(form[data-transition="{code}"]) summary').click()
    form = page.locator(f'form[data-transition="{code}"]')
    if photo is not None:
        form.locator('input[type="file"]').set_input_files(str(photo))
    if reason is not None:
        form.locator("textarea[name=reason]").fill(reason)
    with page.expect_response(lambda r: f"/transitions/{code}" in r.url) as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 200, answer.value.text()


def test_the_closed_loop_through_the_ui(served, browser, tmp_path):
    base, engine = served
    shot = Shots(tmp_path)

    # an administrator shortens 上水井盖's handling limit, sees it in the history, exports it
    admin = log_in(browser, base, "admin")
    admin.get_by_role("link", name="分类管理").click()
    admin.get_by_role("link", name="0101 上水井盖").first.click()
    editor = admin.locator("#editor")
    limit = editor.get_by_label("处置时限 1", exact=True)
    assert limit.input_value() == "2 紧急工作时"  # the unit by its name, and typed so
    limit.fill("6 紧急工作时")
    editor.get_by_label("修改原因").fill("井盖缺失隐患大，改为6个紧急工作时")
    editor.get_by_role("button", name="保存").click()
    admin.get_by_text("已保存").wait_for()
    history = admin.locator("table.history")
    assert "处置时限 2 紧急工作时 → 6 紧急工作时" in history.inner_text()  # the time unit by its name
    assert "井盖缺失隐患大" in history.inner_text()
    shot(admin, "taxonomy-editor")
    with admin.expect_download() as download:
        admin.goto(f"{base}/ui/taxonomy")
        admin.get_by_role("link", name="导出 YAML").click()
    assert "6 urgent_hour" in Path(download.value.path()).read_text(encoding="utf-8")

    # the centre's desk takes a report, files it and dispatches it
    desk = log_in(browser, base, "zhang")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(base64.b64decode(desk.evaluate(PHOTO_JS).split(",", 1)[1]))
    desk.get_by_role("link", name="受理上报").click()
    desk.get_by_label("来源渠道").select_option("leader")
    desk.get_by_label("问题类别").select_option("component:0101")
    desk.get_by_label("经度").fill(str(STREET1[0]))
    desk.get_by_label("纬度").fill(str(STREET1[1]))
    desk.get_by_label("地址").fill("一街道人民路12号")
    desk.get_by_label("问题描述").fill("人行道上水井盖缺失，已有行人绊倒")
    desk.get_by_label("照片").set_input_files(str(photo))
    shot(desk, "intake")
    desk.get_by_role("button", name="提交").click()
    desk.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case_id = int(desk.url.rsplit("/", 1)[1])
    fire(desk, "accept")
    fire(desk, "file")
    fire(desk, "dispatch")
    assert desk.locator(".state").inner_text() == "待签收"
    shot(desk, "case-dispatched")

    leader = log_in(browser, base, "leader")
    leader.goto(f"{base}/ui/rankings?period=2026-10")
    water_row = leader.locator("table.ranking tr", has=leader.get_by_role("link", name="水务局", exact=True))
    assert water_row.locator("td").nth(6).inner_text() == "—"  # nothing due, nothing closed yet
    leader.goto(f"{base}/ui/map")
    leader.locator('path[data-grid="320508001001001"]').click()
    leader.locator("#grid-cases").get_by_role("link", name=engine.case(case_id)["number"]).wait_for()
    shot(leader, "map")

    # the department signs for it and reports it handled, with a photo
    water = log_in(browser, base, "water")
    water.get_by_role("link", name=engine.case(case_id)["number"]).click()
    fire(water, "sign")
    fire(water, "handle", photo=photo, reason="已更换新井盖")
    assert water.locator(".state").inner_text() == "待核查"
    assert (
        water.locator(".photo-column.before img").count()
        == water.locator(".photo-column.after img").count()
        == 1
    )
    shot(water, "case-handled")

    # the supervisor checks on site, the desk closes it
    supervisor = log_in(browser, base, "supervisor")
    supervisor.goto(f"{base}/ui/cases/{case_id}")
    fire(supervisor, "check_pass", photo=photo)
    desk.goto(f"{base}/ui/cases/{case_id}")
    fire(desk, "close")
    assert desk.locator(".state").inner_text() == "已结案"
    shot(desk, "case-closed")

    # the dashboard and the ranking show it
    leader.goto(f"{base}/ui/dashboard")
    assert leader.locator("#today-total").inner_text() == "1"
    leader.wait_for_function("() => document.querySelector('#chart-trend canvas') !== null")
    shot(leader, "dashboard")
    leader.goto(f"{base}/ui/rankings?period=2026-10")
    water_row = leader.locator("table.ranking tr", has=leader.get_by_role("link", name="水务局", exact=True))
    assert water_row.locator("td").nth(6).inner_text() == "100.00%"  # 结案率
    water_row.get_by_role("link", name="水务局", exact=True).click()
    leader.locator("#explanation h2").wait_for()
    shot(leader, "rankings")
    admin.goto(f"{base}/ui/config/workflow")
    admin.wait_for_function("() => document.querySelector('.chart canvas') !== null")
    shot(admin, "workflow")
    admin.goto(f"{base}/ui/config/time-limits")
    admin.goto(f"{base}/ui/config/units")
    assert TROUBLE == [], "\n".join(TROUBLE)


def test_script_typed_into_the_ui_stays_text(served, browser):
    base, engine = served
    desk = log_in(browser, base, "zhang")
    alerts: list[str] = []
    desk.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    desk.get_by_role("link", name="受理上报").click()
    desk.get_by_label("来源渠道").select_option("leader")
    desk.get_by_label("问题类别").select_option("component:0101")
    desk.get_by_label("经度").fill(str(STREET1[0]))
    desk.get_by_label("纬度").fill(str(STREET1[1]))
    desk.get_by_label("地址").fill(payload)
    desk.get_by_label("问题描述").fill(payload)
    desk.get_by_role("button", name="提交").click()
    desk.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    assert desk.locator(".description").inner_text() == payload
    desk.goto(f"{base}/ui/queue")
    assert alerts == []
    assert TROUBLE == [], "\n".join(TROUBLE)
