"""Time limits as an administrator reads and types them: by the names of their units and of the
classes and areas they apply to, never by their codes ('2 urgent_hour', 0101, A). The city is
the test city with three rules of its own: one for an event major class, one for a component
minor class and one for an area class."""

import html
import re
import shutil

import pytest

from ..conftest import TESTCITY, open_city

RULES = """
time_limits:
  rules:
    - {code: order_handle, stage: handle, kind: event, class: '05', limit: 10 work_day}
    - {code: cover_handle, stage: handle, class: '0101', limit: 4 work_hour}
    - {code: core_check, stage: check, area_class: A, limit: 30 minute}
"""


@pytest.fixture
def engine(db_url, tmp_path):
    city = tmp_path / "city"
    shutil.copytree(TESTCITY, city)
    with (city / "profile.yaml").open("a", encoding="utf-8") as profile:
        profile.write(RULES)
    eng = open_city(city, db_url, tmp_path)
    yield eng
    eng.db.dispose()


def cells(page: str, rule: str) -> list[str]:
    """The text of the cells of a rule's row on 时限与日历."""
    row = re.search(rf"<tr><td><code>{rule}</code>.*?</tr>", page, re.S).group(0)
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
        for c in re.findall(r"<td>(.*?)</td>", row, re.S)
    ]


def limit_of(page: str, rule: str) -> str:
    return html.unescape(
        re.search(rf'name="limit" value="([^"]*)" size="12" form="rule-{rule}"', page).group(1)
    )


def test_the_rules_say_what_they_apply_to_by_name(ui):
    page = ui("admin").get("/ui/config/time-limits").text
    # a major class of events; a code that is a component and an event minor class is both
    assert cells(page, "order_handle")[2] == "事件 大类 街面秩序"
    assert cells(page, "cover_handle")[2] == "小类 上水井盖 小类 私搭乱建"
    assert cells(page, "core_check")[2] == "区域类别 核心区"
    assert (limit_of(page, "cover_handle"), limit_of(page, "core_check")) == ("4 工作时", "30 分钟")


def test_a_limit_is_shown_and_typed_with_its_unit_s_name(ui):
    admin, engine = ui("admin"), ui.engine
    editor = admin.get("/ui/taxonomy/component/0101").text
    shown = re.search(r'name="standards-0-time_limit" value="([^"]*)"', editor).group(1)
    assert html.unescape(shown) == "2 紧急工作时"
    form = {"name_zh": "上水井盖", "standard_rows": "2", "reason": "井盖缺失隐患大"}
    # without the space, and in full-width digits from a Chinese keyboard
    for i, (code, typed) in enumerate((("missing", "6紧急工作时"), ("damaged", "４ 工作时"))):
        form |= {
            f"standards-{i}-code": code,
            f"standards-{i}-condition": code,
            f"standards-{i}-time_limit": typed,
        }
    saved = admin.post("/ui/taxonomy/component/0101", data=form)
    assert saved.status_code == 200, saved.text
    rows = engine.catalogue.classes[("component", "0101")]["minor"]["standards"]
    assert [r["time_limit"] for r in rows] == ["6 urgent_hour", "4 work_hour"]
    refused = admin.post("/ui/taxonomy/component/0101", data={**form, "standards-0-time_limit": "3 天"})
    assert refused.status_code == 422
    assert "“3 天”不是有效的时限" in html.unescape(refused.text)
    # a rule's limit too, with or without the space
    assert (
        admin.post("/ui/config/rules/core_check", data={"limit": "45分钟", "reason": "核心区"}).status_code
        == 200
    )
    assert next(r for r in engine.profile["time_limits"]["rules"] if r["code"] == "core_check")["limit"] == (
        "45 minute"
    )
