"""The admin UI near the end of the confirmed calendar: every page warns the staff, and an
administrator confirms the next year on 时限与日历 once its days are entered."""

from datetime import datetime
from zoneinfo import ZoneInfo

BANNER = "工作日历只确认到 2026-12-31"


def test_staff_are_warned_and_an_administrator_confirms_the_year(ui):
    ui.engine.time.set(datetime(2026, 10, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert BANNER not in ui("admin").get("/ui/queue").text  # 62 days ahead: not yet
    ui.engine.time.set(datetime(2026, 12, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    admin, department = ui("admin"), ui("water")  # logged in again: sessions last hours, not weeks
    assert BANNER in department.get("/ui/queue").text
    page = admin.get("/ui/config/time-limits").text
    assert "还剩 11 天" in page and "确认该年" in page
    done = admin.post(
        "/ui/config/calendar",
        data={"action": "confirm", "year": "2027", "calendar": "", "reason": "国办通知"},
    )
    assert done.status_code == 200 and "工作日已确认到 2027-12-31" in done.text
    assert BANNER not in department.get("/ui/queue").text
    refused = admin.post("/ui/config/calendar", data={"action": "confirm", "year": "明年"})
    assert refused.status_code == 422 and "年份格式为 YYYY" in refused.text
    assert (
        department.post("/ui/config/calendar", data={"action": "confirm", "year": "2028"}).status_code == 403
    )
