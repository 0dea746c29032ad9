"""The inbox (admin_ui/inbox.py, core/notify/inbox.py) over HTTP, on SQLite and PostgreSQL: the
notices the sweep and intake address to a person, their unit, their roles and the centre, the
unread count the header polls, and marking them read."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridcase.core.db.models import NoticeRead, Outbox
from gridcase.core.notify.inbox import addresses
from gridcase.core.ops.retention import Retention

from .conftest import CHROMIUM
from .test_browser import TROUBLE, Shots, log_in
from .test_browser import served as served  # noqa: F401  (a fixture: the browser tests' server)
from .test_browser import trouble as trouble  # noqa: F401  (a fixture: each test starts with no trouble)
from .test_queues import CENTRE, filed, report

OUTBOX = Outbox.__table__


def overdue(engine) -> int:
    """A case dispatched to water and left past its handling deadline, the sweep run: water gets
    the yellow reminder and the red urge, the dispatchers the urge, the centre the escalation."""
    case_id = report(engine, 1)
    filed(engine, case_id)
    engine.transition(case_id, "dispatch", CENTRE, payload={"units": ["water"]})
    engine.time.advance(days=6)
    engine.sweep()
    engine.time.advance(days=2)
    engine.sweep()
    return case_id


def notices_to(engine, recipient: str) -> list[dict]:
    with engine.db.connect() as connection:
        query = select(OUTBOX).where(OUTBOX.c.recipient == recipient).order_by(OUTBOX.c.id)
        return [dict(r) for r in connection.execute(query).mappings()]


def test_whose_notices_a_person_reads(ui):
    city = ui.engine.city
    assert addresses(city, 7, {"department"}, "water") == ["person:7", "role:department", "unit:water"]
    chief = addresses(city, 8, {"department", "leader"}, "water")
    assert "leader:water" in chief and "role:centre" in chief
    assert addresses(city, 9, {"operator", "dispatcher"}, None)[-1] == "role:centre"
    assert "role:centre" not in addresses(city, 1, {"admin"}, None)
    assert "role:centre" not in addresses(city, 2, {"supervisor"}, None)


def test_a_department_reads_its_overdue_notice_and_the_count_drops(ui):
    engine = ui.engine
    case_id = overdue(engine)
    to_water = notices_to(engine, "unit:water")
    assert {n["event"].split(":")[0] for n in to_water} >= {"remind", "urge"}
    water = ui("water")
    assert water.get("/ui/inbox/unread", htmx=True).text.count(f">{len(to_water)}<") == 1
    page = water.get("/ui/inbox").text
    assert "红灯催办" in page and "黄灯提醒" in page and f"/ui/cases/{case_id}" in page
    assert f"未读 {len(to_water)} 条" in page
    urge = next(n for n in to_water if n["event"].startswith("urge"))
    done = water.post("/ui/inbox/read", data={"notice": str(urge["id"])})
    assert done.status_code == 200 and done.headers["HX-Trigger"] == "gridcase:read"
    assert f"未读 {len(to_water) - 1} 条" in done.text
    # a notice to someone else stays unread whatever id is sent
    to_dispatchers = notices_to(engine, "role:dispatcher")
    assert to_dispatchers
    water.post("/ui/inbox/read", data={"notice": str(to_dispatchers[0]["id"])})
    zhang = ui("zhang")
    assert "红灯催办" in zhang.get("/ui/inbox?unread=1").text
    assert water.post("/ui/inbox/read", data={"all": "1"}).status_code == 200
    assert water.get("/ui/inbox/unread", htmx=True).text.strip() == ""
    assert "没有通知" in water.get("/ui/inbox?unread=1").text
    assert "超时督办" in zhang.get("/ui/inbox").text  # the escalation to the centre


def test_a_notice_about_a_case_reaches_only_those_who_see_the_case(ui):
    engine = ui.engine
    case_id = overdue(engine)  # water's case
    engine.hooks.context().notify("role:department", "部门请注意", case_id=case_id, event="plugin")
    engine.hooks.context().notify("role:department", "全体部门周会", event="plugin")
    water, other = ui("water").get("/ui/inbox").text, ui("city_admin").get("/ui/inbox").text
    assert "部门请注意" in water and "全体部门周会" in water
    assert "部门请注意" not in other and "全体部门周会" in other
    unread = ui("city_admin").get("/ui/inbox/unread", htmx=True).text
    assert ">1<" in unread  # the meeting only


def test_a_mark_with_nothing_chosen_or_a_bad_page_is_a_message(ui):
    water = ui("water")
    nothing = water.post("/ui/inbox/read", data={})
    assert nothing.status_code == 422 and "没有选中通知" in nothing.text
    assert "页码" in water.get("/ui/inbox?page=x").text


def test_a_read_notice_is_purged_with_its_reads(ui):
    engine = ui.engine
    overdue(engine)
    water = ui("water")
    water.post("/ui/inbox/read", data={"all": "1"})
    engine.sweep()  # delivered
    engine.time.advance(days=200)
    engine.sweep(retention=Retention(notices=timedelta(days=180)))
    with engine.db.connect() as connection:
        assert connection.execute(select(func.count()).select_from(NoticeRead.__table__)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(OUTBOX)).scalar() == 0


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)")
def test_the_overdue_notice_in_the_browser_and_the_count_after_reading(served, browser, tmp_path):
    base, engine = served
    case_id = overdue(engine)
    count = len(notices_to(engine, "unit:water"))
    water = log_in(browser, base, "water")
    badge = water.locator("#unread .badge")
    badge.wait_for()
    assert badge.inner_text() == str(count)
    water.locator("a.inbox-link").click()
    water.wait_for_url("**/ui/inbox")
    urge = water.locator("tr.unread", has_text="红灯催办")
    assert engine.case(case_id)["number"] in urge.inner_text()
    assert urge.locator(".light.red").count() == 1
    Shots(tmp_path)(water, "inbox")
    urge.get_by_role("button", name="标为已读").click()
    water.locator("#unread .badge", has_text=str(count - 1)).wait_for()
    assert water.locator("tr.read", has_text="红灯催办").count() == 1
    water.get_by_role("button", name="全部标为已读").click()
    badge.wait_for(state="detached")
    assert TROUBLE == [], "\n".join(TROUBLE)
