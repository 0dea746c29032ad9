"""Every time a page shows is the city's (沈阳, Asia/Shanghai), however it is stored (UTC). The
walk runs at 01:30 in 沈阳 on 13 October, when it is still the 12th in UTC: a page that showed
UTC anywhere would show the wrong day."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Outbox, Person
from gridcase.core.notify.outbox import outbox_row
from gridcase.core.people.accounts import person_by_id
from gridcase.core.people.actor import Actor

from . import heping_desk
from .conftest import CHROMIUM
from .heping_desk import POINT, open_as

heping, chromium = heping_desk.heping, heping_desk.chromium  # the served city and the browser
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)"
)
NOW = datetime(2026, 10, 12, 17, 30, tzinfo=UTC)  # 2026-10-13 01:30 in 沈阳
UTC_DAY = "10-12"
PERSON = Person.__table__


@pytest.fixture(scope="module")
def night_call(heping):
    """A 民生110 call taken at 01:30, accepted, filed and dispatched in the same minute, and the
    notice of it queued for the unit."""
    _, engine = heping
    desk = engine_actor(engine, "desk")
    case_id = engine.intake(
        {"channel": "minsheng110", "point": list(POINT), "category": "0101", "kind": "component"}, desk
    )["case_id"]
    engine.transition(case_id, "accept", desk)
    engine.transition(
        case_id, "file", desk, payload={"kind": "component", "category": "0101", "standard": "missing"}
    )
    units = [u["unit"] for u in engine.case(case_id)["units"] if u["active"]]
    engine.transition(case_id, "dispatch", desk, payload={"units": units})
    with write(engine.db) as connection:  # the SMS the unit's duty phone is sent, as the sweep queues it
        notice = outbox_row(engine.time.now(), "sms", "13800000000", case_id, "assigned", "新案件待签收", {})
        connection.execute(insert(Outbox.__table__).values(notice))
    return case_id


def engine_actor(engine, username: str) -> Actor:
    with read(engine.db) as connection:
        found = connection.execute(select(PERSON.c.id).where(PERSON.c.username == username)).scalar_one()
        person = person_by_id(connection, found)
    return Actor(person["id"], frozenset(person["roles"]), person["unit"], person["grids"], username)


def test_a_case_shows_the_citys_time(heping, chromium, night_call):
    base, _ = heping
    desk = open_as(chromium, base, "desk")
    desk.goto(f"{base}/ui/cases/{night_call}")
    assert desk.locator("time.reported").inner_text() == "2026-10-13 01:30"
    assert set(desk.locator("ol.timeline time").all_inner_texts()) == {"2026-10-13 01:30"}
    clocks = dict(
        (row.locator("td").nth(0).inner_text(), row.locator("td").nth(2).inner_text())
        for row in desk.locator("table.clocks tbody tr").all()
    )
    assert clocks["答复"] == "10-13 09:30"  # 8 hours, round the clock
    assert clocks["受理"] == "10-13 01:45"
    assert desk.locator("dd.reply").inner_text() == "2026-10-13 09:30"
    assert UTC_DAY not in desk.locator("main").inner_text()
    desk.goto(f"{base}/ui/cases/{night_call}/print")
    assert "打印时间 2026-10-13 01:30" in desk.locator("header").inner_text()
    assert UTC_DAY not in desk.locator("main").inner_text()
    desk.goto(f"{base}/ui/queue")
    row = desk.locator("tr", has=desk.get_by_role("link", name="C2026101300001"))
    assert "2026-10-13 01:30" in row.inner_text() and UTC_DAY not in row.inner_text()
    desk.close()


def test_configuration_pages_show_the_citys_time(heping, chromium, night_call):
    base, engine = heping
    admin = open_as(chromium, base, "admin")
    admin.goto(f"{base}/ui/config/time-limits")
    row = admin.locator("tr", has=admin.locator("form#rule-reply"))
    row.get_by_label("时限 reply").fill("6 hour")
    row.get_by_label("修改原因 reply").fill("夜间来电多")
    with admin.expect_response(lambda r: "/ui/config/rules/reply" in r.url):
        row.get_by_role("button", name="保存").click()
    history = admin.locator("table.history tbody tr").first
    assert history.locator("td").nth(1).inner_text() == "2026-10-13 01:30"
    admin.goto(f"{base}/ui/config/outbox")
    sent = admin.locator("table tbody tr")
    assert sent.first.locator("td").first.inner_text() == "2026-10-13 01:30"
    assert UTC_DAY not in admin.locator("main").inner_text()
    admin.close()
