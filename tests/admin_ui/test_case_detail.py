"""A case's page as the centre reads it, in 和平区: a 民生110 call walked round the loop by the
people of each role, then its timeline (who took each step: name, role and unit), its photos
before and after the handling side by side, and its A4 print view. Screenshots go to
docs/screenshots/ (case-detail.png, case-print.png)."""

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from . import heping_desk
from .conftest import CHROMIUM
from .heping_desk import POINT, open_as
from .test_browser import PHOTO_JS

heping, chromium = heping_desk.heping, heping_desk.chromium  # the served city and the browser
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)"
)
NOW = datetime(2026, 10, 13, 2, 0, tzinfo=UTC)  # 10:00 in 沈阳
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def fire(page, code: str, photo: Path | None = None, reason: str | None = None) -> None:
    page.locator(f'details.transition:has(form[data-transition="{code}"]) summary').click()
    form = page.locator(f'form[data-transition="{code}"]')
    if photo is not None:
        form.locator('input[type="file"]').set_input_files(str(photo))
    if reason is not None:
        form.locator("textarea[name=reason]").fill(reason)
    sent = form.element_handle()
    with page.expect_response(lambda r: f"/transitions/{code}" in r.url) as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 200, answer.value.text()
    sent.wait_for_element_state("hidden")  # the case drawn again from the answer


@pytest.fixture(scope="module")
def walked(heping, chromium, tmp_path_factory):
    """The case, taken by the operator, filed and dispatched by the desk, handled by 太原街,
    checked by the supervisor and closed, ten minutes a step; its id and the desk's page."""
    base, engine = heping
    photo = tmp_path_factory.mktemp("photos") / "photo.jpg"
    operator = open_as(chromium, base, "operator")
    photo.write_bytes(base64.b64decode(operator.evaluate(PHOTO_JS).split(",", 1)[1]))
    operator.goto(f"{base}/ui/cases/new")
    operator.get_by_label("来源渠道").select_option("minsheng110")
    operator.get_by_label("来电人姓名").fill("张先生")
    operator.get_by_label("来电电话").fill("13812345678")
    operator.get_by_label("问题类别").select_option("component:0101")
    operator.get_by_label("经度").fill(str(POINT[0]))
    operator.get_by_label("纬度").fill(str(POINT[1]))
    operator.get_by_label("地址").fill("太原街1号")
    operator.get_by_label("问题描述").fill("井盖缺失，行人险些踩空")
    operator.get_by_label("照片").set_input_files(str(photo))
    operator.get_by_role("button", name="提交").click()
    operator.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case_id = int(operator.url.rsplit("/", 1)[1])
    steps = [
        ("operator", "accept", None, None),
        ("desk", "file", None, None),
        ("desk", "dispatch", None, None),
        ("street", "sign", None, None),
        ("street", "handle", photo, "已更换井盖"),
        ("supervisor", "check_pass", photo, None),
        ("desk", "close", None, None),
    ]
    pages = {"operator": operator}
    for username, code, evidence, reason in steps:
        engine.time.advance(minutes=10)
        if username not in pages:
            pages[username] = open_as(chromium, base, username)
        pages[username].goto(f"{base}/ui/cases/{case_id}")
        fire(pages[username], code, evidence, reason)
    yield case_id, pages["desk"]
    for page in pages.values():
        page.close()


def test_the_timeline_says_who_took_each_step(heping, walked):
    case_id, desk = walked
    assert desk.locator(".state").first.inner_text() == "已结案"
    steps = desk.locator("ol.timeline li")
    said = {
        steps.nth(i).locator("strong").inner_text(): steps.nth(i).locator(".who").inner_text()
        for i in range(steps.count())
    }
    assert said["上报"] == "王丽 · 受理员"
    assert said["受理"] == "王丽 · 受理员"
    assert said["立案"] == "张伟 · 值班长"  # of his three roles, the one that files
    assert said["派遣"] == "张伟 · 派遣员"
    assert said["处置反馈"] == "李娜 · 专业部门 · 太原街街道办事处"
    assert said["核查通过"] == "周杰 · 监督员"
    assert steps.first.locator("strong").inner_text() == "结案"  # newest first
    assert steps.first.locator("time").inner_text() == "2026-10-13 11:10"


def test_photos_before_and_after_side_by_side(heping, walked):
    case_id, desk = walked
    before, after = desk.locator(".photo-column.before"), desk.locator(".photo-column.after")
    assert before.locator("figcaption").inner_text() == "处置前"
    assert after.locator("figcaption").inner_text() == "处置后"
    assert before.locator("img").count() == 1 and "上报" in before.locator("small").inner_text()
    assert after.locator("img").count() == 2
    assert [after.locator("small").nth(i).inner_text().split(" · ")[0] for i in range(2)] == [
        "处置反馈",
        "核查通过",
    ]
    left, right = before.bounding_box(), after.bounding_box()
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2  # side by side
    desk.wait_for_function("() => [...document.querySelectorAll('.photo-pairs img')].every(i => i.complete)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desk.screenshot(path=str(SCREENSHOTS / "case-detail.png"), full_page=True)


def test_the_print_view_is_a4_with_the_timeline_and_photos(heping, walked, chromium):
    base, _ = heping
    case_id, desk = walked
    with desk.expect_popup() as opened:
        desk.get_by_role("link", name="打印").click()
    sheet = opened.value
    sheet.wait_for_load_state()
    assert sheet.url.endswith(f"/ui/cases/{case_id}/print")
    assert sheet.locator("h1").inner_text().startswith("案件办理单")
    whens = sheet.locator("ol.timeline li strong").all_inner_texts()
    assert whens[0] == "上报" and whens[-1] == "结案"  # oldest first, as a record reads
    assert sheet.locator(".photo-pairs img").count() == 3
    sheet.wait_for_function("() => [...document.querySelectorAll('.photo-pairs img')].every(i => i.complete)")
    sheet.emulate_media(media="print")
    assert not sheet.locator("button[data-print]").is_visible()  # the print button is not printed
    sheet.screenshot(path=str(SCREENSHOTS / "case-print.png"), full_page=True)
    pdf = sheet.pdf(prefer_css_page_size=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 3
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)", pdf)
    assert box and (round(float(box[1])), round(float(box[2]))) == (595, 842)  # A4, in points
    sheet.close()
