"""A 民生110 call taken in 和平区's browser: the caller's name and phone asked for hotline channels
only, the reply the call is owed (8 hours) shown when taking it and on the case, the caller read
in full by the centre's desk roles and masked for the others, and never in Open311 or in what
the public reads of a case."""

import re
from datetime import UTC, datetime

import pytest

from gridcase.core.people.actor import Actor

from . import heping_desk
from .conftest import CHROMIUM
from .heping_desk import POINT, open_as

heping, chromium = heping_desk.heping, heping_desk.chromium  # the served city and the browser
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)"
)
NOW = datetime(2026, 10, 13, 6, 0, tzinfo=UTC)  # 14:00 in 沈阳
NAME, PHONE = "张先生", "13812345678"
SECRETS = (NAME, PHONE, "5678", "张*")  # nothing of the caller, not even masked


@pytest.fixture(scope="module")
def call(heping, chromium):
    """The operator takes the call in the intake form; the case's id and the operator's page."""
    base, engine = heping
    operator = open_as(chromium, base, "operator")
    operator.goto(f"{base}/ui/cases/new")
    channel, caller = operator.get_by_label("来源渠道"), operator.locator("fieldset.caller")
    reply = operator.locator('p.hint[data-channels="minsheng110"]')
    channel.select_option("camera")  # not a call: no caller, no reply owed
    assert not caller.is_visible() and not reply.is_visible()
    assert operator.get_by_label("来电电话").is_disabled()
    channel.select_option("hotline_12345")  # a call with no reply limit of its own
    assert caller.is_visible() and not reply.is_visible()
    channel.select_option("minsheng110")
    assert caller.is_visible() and reply.inner_text() == "答复时限：8 小时（自受理时起计）"
    operator.get_by_label("来电人姓名").fill(NAME)
    operator.get_by_label("来电电话").fill("138-abc")
    operator.get_by_label("问题类别").select_option("component:0101")
    operator.get_by_label("经度").fill(str(POINT[0]))
    operator.get_by_label("纬度").fill(str(POINT[1]))
    operator.get_by_label("问题描述").fill("小区门口井盖缺失")
    operator.get_by_role("button", name="提交").click()
    operator.locator("#errors").get_by_text("来电电话只能由数字").wait_for()
    operator.get_by_label("来电电话").fill(PHONE)
    operator.get_by_role("button", name="提交").click()
    operator.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case_id = int(operator.url.rsplit("/", 1)[1])
    desk = Actor(None, frozenset({"operator", "shift_leader", "dispatcher"}))
    engine.transition(case_id, "accept", desk)
    engine.transition(
        case_id, "file", desk, payload={"kind": "component", "category": "0101", "standard": "missing"}
    )
    engine.transition(case_id, "dispatch", desk, payload={"units": ["street01"]})
    yield case_id, operator
    operator.close()


def test_the_desk_reads_the_caller_and_the_reply_due(heping, call):
    base, _ = heping
    case_id, operator = call
    operator.goto(f"{base}/ui/cases/{case_id}")
    assert operator.locator("dd.caller").inner_text() == f"{NAME} · {PHONE}"
    assert operator.locator("dd.reply").inner_text() == "2026-10-13 22:00"  # 14:00 and 8 hours
    assert operator.locator("dt", has_text="答复期限").count() == 1


@pytest.mark.parametrize(
    "username, shown",
    [("desk", f"{NAME} · {PHONE}"), ("admin", f"{NAME} · {PHONE}"), ("street", "张** · 138****5678"),
     ("leader", "张** · 138****5678")],
)  # fmt: skip
def test_roles_that_may_not_read_the_caller_read_it_masked(heping, chromium, call, username, shown):
    base, _ = heping
    case_id, _ = call
    page = open_as(chromium, base, username)
    page.goto(f"{base}/ui/cases/{case_id}")
    assert page.locator("dd.caller").inner_text() == shown
    api = page.request.get(f"{base}/api/v1/cases/{case_id}").json()
    contact = api["reports"][0]["contact"]
    assert f"{contact['last_name']} · {contact['phone']}" == shown  # the API reads as the page does
    page.close()


def test_the_caller_is_never_public(heping, chromium, call):
    base, engine = heping
    case_id, _ = call
    number = engine.case(case_id)["number"]
    citizen = open_as(chromium, base, "citizen")
    seen = citizen.request.get(f"{base}/api/v1/cases/{case_id}")
    assert seen.status == 200 and seen.json()["number"] == number  # the public fields of it
    texts = [seen.text()]
    for view in ("", "/print"):  # what a citizen's browser shows of someone else's case
        answer = citizen.request.get(f"{base}/ui/cases/{case_id}{view}")
        assert answer.status == 200 and number in answer.text()
        texts.append(answer.text())
    assert not any(secret in text for text in texts for secret in SECRETS)
    for path in ("/open311/v2/requests.json", f"/open311/v2/requests/{number}.json"):
        answer = citizen.request.get(f"{base}{path}")
        assert answer.status == 200 and number in answer.text()
        assert not any(secret in answer.text() for secret in SECRETS), path
    citizen.close()
