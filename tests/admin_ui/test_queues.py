"""The work queues (admin_ui/queues.py) over HTTP, on SQLite and PostgreSQL: what each person's
queue holds and in which order, paging, search, filters, bulk actions and the xlsx export."""

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.datastructures import ImmutableMultiDict

from gridcase.admin_ui import queues
from gridcase.admin_ui.places import grid_labels
from gridcase.admin_ui.queues import find, page_numbers
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor

from .conftest import CHROMIUM, STREET1
from .test_browser import TROUBLE, Shots, log_in
from .test_browser import served as served  # noqa: F401  (a fixture: the browser tests' server)
from .test_browser import trouble as trouble  # noqa: F401  (a fixture: each test starts with no trouble)

CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
STANDARD = {"component": {"standard": "missing"}}  # the 立案条件 a component class asks for
T0 = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)  # the engine fixture's moment: 09:00 in the city
CLASSES = [("0101", "component", "water"), ("0501", "event", "city_admin")]  # and where each is routed


def new_case(desk, category: str = "component:0101", **extra) -> int:
    data = {"channel": "leader", "category": category, "lon": STREET1[0], "lat": STREET1[1], **extra}
    done = desk.post("/ui/cases", data=data)
    assert done.status_code == 204, done.text
    return int(done.headers["HX-Redirect"].rsplit("/", 1)[1])


def report(engine, n: int, category: str = "0101", kind: str = "component", **extra) -> int:
    """A case in its own spot (reports of one class close together would be duplicates): in
    grid n % 16 of the test city's sixteen."""
    spot = 0.0006 * (n // 16)
    point = [120.605 + 0.02 * (n % 2) + spot, 31.3005 + 0.005 * (n // 2 % 8) + spot]
    body = {"channel": "leader", "category": category, "kind": kind, "point": point, **extra}
    return engine.intake(body, CENTRE)["case_id"]


def filed(engine, case_id: int) -> None:
    case = engine.case(case_id)
    engine.transition(case_id, "accept", CENTRE)
    payload = {"category": case["class_code"], "kind": case["kind"]}
    engine.transition(case_id, "file", CENTRE, payload=payload | STANDARD.get(case["kind"], {}))


def active_units(engine, case_id: int) -> set[str]:
    return {u["unit"] for u in engine.case(case_id)["units"] if u["active"] and u["role"] == "handling"}


def listed(engine, actor: Actor, limit: int = 50, **params) -> dict:
    return find(engine, actor, ImmutableMultiDict(params), limit)


def ids(found: dict) -> list[int]:
    return [row["id"] for row in found["rows"]]


def person(ui, name: str, *roles: str, unit: str | None = None) -> Actor:
    return Actor.of(*roles, id=ui.ids[name], unit=unit)


# -- what a queue holds, in which order -------------------------------------------------------


def test_a_queue_holds_the_open_cases_a_role_can_act_on_overdue_first_then_by_deadline(ui):
    engine = ui.engine
    first = report(engine, 1)  # accept within 15 minutes: due 09:15
    engine.time.advance(minutes=1)
    second = report(engine, 2)  # due 09:16
    engine.time.advance(minutes=1)
    urgent = report(engine, 3, urgent=True)
    engine.transition(urgent, "accept", CENTRE)  # an urgent filing within 5 minutes: due 09:07
    gone = report(engine, 4)
    engine.transition(gone, "reject", CENTRE, reason="重复上报")  # closed: on no to-do list
    engine.time.advance(minutes=8)  # 09:10: the urgent one is overdue
    found = listed(engine, CENTRE)
    assert ids(found) == [urgent, first, second] and found["total"] == 3
    assert [row["light"] for row in found["rows"]] == ["red", "green", "green"]
    assert found["rows"][0]["deadline"] == T0.replace(minute=7)
    # a department's queue: only what was dispatched to its unit, not what waits for dispatch
    for case_id in (first, second):
        filed(engine, case_id)
    engine.transition(first, "dispatch", CENTRE, payload={"units": ["water"]})
    water = person(ui, "water", "department", unit="water")
    assert ids(listed(engine, water)) == [first]
    assert ids(listed(engine, person(ui, "city_admin", "department", unit="city_admin"))) == []
    assert ids(listed(engine, CENTRE, state="pending_dispatch")) == [second]


def test_a_long_queue_is_ordered_by_walking_its_clocks_as_a_short_one_is_sorted(ui, monkeypatch):
    engine = ui.engine
    water = Actor.of("department", id=ui.ids["water"], unit="water")
    shelved = report(engine, 0)
    filed(engine, shelved)
    engine.transition(shelved, "dispatch", CENTRE, payload={"units": ["water"]})
    engine.transition(shelved, "sign", water)
    engine.transition(shelved, "request_shelve", water, reason="待施工")
    engine.transition(shelved, "approve_shelve", CENTRE)  # its clocks paused: no running deadline
    made = []
    for n in range(1, 8):
        engine.time.advance(minutes=1)
        made.append(report(engine, n, urgent=n % 3 == 0))
        if n % 3 == 0:
            engine.transition(made[-1], "accept", CENTRE)  # an urgent filing: due before the rest
    engine.time.advance(minutes=12)
    for params in ({"light": "red"}, {"light": "yellow"}, {"q": "2026"}, {}):
        pages = range(1, listed(engine, CENTRE, limit=3, **params)["pages"] + 1)
        sorted_here = [ids(listed(engine, CENTRE, limit=3, page=str(p), **params)) for p in pages]
        with monkeypatch.context() as patch:  # too many to sort here: the clocks walked
            patch.setattr(queues, "FEW", 2)
            walked = [listed(engine, CENTRE, limit=3, page=str(p), **params) for p in pages]
        assert [ids(w) for w in walked] == sorted_here, params
        assert walked[0]["total"] == len(sum(sorted_here, [])) > 2
    everything = sum(sorted_here, [])
    assert len(everything) == 8 and everything[-1] == shelved  # no running deadline: last
    assert everything[0] in (made[2], made[5])  # urgent, so overdue first


def test_pages_with_a_total_and_links_around_the_current_page(ui):
    engine = ui.engine
    made = [report(engine, n) for n in range(7)]
    pages = [ids(listed(engine, CENTRE, limit=3, page=str(p))) for p in (1, 2, 3)]
    assert sum(pages, []) == made  # reported one after another: due one after another
    assert listed(engine, CENTRE, limit=3, page="3")["pages"] == 3
    assert ids(listed(engine, CENTRE, limit=3, page="99")) == made[6:]  # past the end: the last page
    assert page_numbers(1, 1) == [1]
    assert page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert page_numbers(2, 4) == [1, 2, 3, 4]
    zhang = ui("zhang")
    page = zhang.get("/ui/queue").text
    assert "共 7 件" in page and page.count('name="cases"') == 7


def test_search_by_number_address_description_and_the_callers_phone(ui):
    engine = ui.engine
    plain = report(engine, 1, description="井盖缺失", address="人民路 18 号")
    called = report(engine, 2, description="路灯不亮", contact={"first_name": "王", "phone": "13912345678"})
    number = engine.case(called)["number"]
    assert ids(listed(engine, CENTRE, q="人民路")) == [plain]
    assert ids(listed(engine, CENTRE, q="缺失")) == [plain]
    assert ids(listed(engine, CENTRE, q="12345678")) == [called]
    assert ids(listed(engine, CENTRE, q=number)) == [called]
    assert ids(listed(engine, CENTRE, q="100%_")) == []  # LIKE's wildcards are searched as text


def test_filters_by_class_unit_grid_light_channel_and_period_in_the_citys_days(ui):
    engine = ui.engine
    engine.time.set(datetime(2026, 10, 12, 17, 0, tzinfo=UTC))  # 01:00 on the 13th in the city
    early = report(engine, 1)
    engine.time.set(T0)
    event = report(engine, 2, "0501", "event")
    hotline = report(engine, 3, channel="hotline_12345")
    assert ids(listed(engine, CENTRE, **{"class": "event:0501"})) == [event]
    assert ids(listed(engine, CENTRE, channel="hotline_12345")) == [hotline]
    # the city's 13 October began at 16:00 UTC on the 12th
    assert set(ids(listed(engine, CENTRE, **{"from": "2026-10-13", "to": "2026-10-13"}))) == {
        early,
        event,
        hotline,
    }
    assert ids(listed(engine, CENTRE, to="2026-10-12")) == []
    street = engine.case(early)["grid_path"].strip("/").split("/")[-3]  # the grid's street
    assert early in ids(listed(engine, CENTRE, grid=street))
    assert ids(listed(engine, CENTRE, grid=engine.case(event)["grid"])) == [event]
    # a unit: the cases it answers for or handles, its sub-units' too
    filed(engine, event)
    engine.transition(event, "dispatch", CENTRE, payload={"units": ["water_north"]})
    assert (
        ids(listed(engine, CENTRE, unit="city_admin"))
        == ids(listed(engine, CENTRE, unit="water_north"))
        == [event]
    )
    assert set(ids(listed(engine, CENTRE, unit="water"))) == {early, event, hotline}
    engine.time.advance(minutes=20)  # not accepted within 15 minutes; the dispatched one has a day
    assert set(ids(listed(engine, CENTRE, light="red"))) == {early, hotline}
    assert ids(listed(engine, CENTRE, light="green")) == [event]


WRONG = [  # filters the page's form could not have sent, and what the page says about them
    ({"light": "purple"}, "灯只能选"),
    ({"from": "2026-13-01"}, "开始日期“2026-13-01”无法识别"),
    ({"from": "2026-10-14", "to": "2026-10-13"}, "开始日期晚于结束日期"),
    ({"page": "-1"}, "页码"),
    ({"class": "component:9999"}, "没有这个小类（component:9999）"),
    ({"unit": "nobody"}, "没有这个单位（nobody）"),
    ({"channel": "pigeon"}, "没有这个渠道（pigeon）"),
    ({"grid": "nowhere"}, "没有网格“nowhere”"),
    ({"state": "closed"}, "你的待办中没有环节"),
]


def test_a_filter_the_form_could_not_send_is_a_chinese_message(ui):
    zhang = ui("zhang")
    for params, words in WRONG:
        with pytest.raises(GridcaseError, match=words):
            listed(ui.engine, CENTRE, **params)
        answer = zhang.get("/ui/queue", params=params)
        assert answer.status_code == 422 and words in answer.text and "Traceback" not in answer.text


# -- bulk actions ------------------------------------------------------------------------------


def test_bulk_dispatch_sends_each_case_to_its_routed_units(ui):
    zhang = ui("zhang")
    water_case, admin_case = new_case(zhang), new_case(zhang, "event:0501")
    for case_id in (water_case, admin_case):
        filed(ui.engine, case_id)
    done = zhang.post(
        "/ui/cases/bulk", data={"cases": [str(water_case), str(admin_case)], "transition": "dispatch"}
    )
    assert done.status_code == 200, done.text
    assert "required" not in done.text and "2 件成功" in done.text
    assert done.headers["HX-Trigger"] == "gridcase:refresh"
    assert ui.engine.case(water_case)["state"] == "dispatched"
    assert active_units(ui.engine, water_case) == {"water"}
    assert active_units(ui.engine, admin_case) == {"city_admin"}


def test_bulk_dispatch_to_the_unit_the_dispatcher_chose_instead(ui):
    zhang = ui("zhang")
    cases = [report(ui.engine, n) for n in range(2)]
    for case_id in cases:
        filed(ui.engine, case_id)
    form = {"cases": [str(c) for c in cases], "transition": "dispatch", "units": "police"}
    assert zhang.post("/ui/cases/bulk", data=form).status_code == 200
    assert [active_units(ui.engine, c) for c in cases] == [{"police"}, {"police"}]


def test_a_bulk_action_with_nothing_ticked_says_so(ui):
    zhang = ui("zhang")
    report(ui.engine, 1)
    done = zhang.post("/ui/cases/bulk", data={"transition": "accept"})
    assert done.status_code == 422 and "没有勾选案件" in done.text
    assert done.headers["HX-Retarget"] == "#errors"
    refused = zhang.post("/ui/cases/bulk", data={"cases": "1", "transition": "self_handle"})
    assert refused.status_code == 422 and "不能批量执行" in refused.text
    needs_reason = zhang.post("/ui/cases/bulk", data={"cases": "1", "transition": "reject"})
    assert needs_reason.status_code == 422 and "需要填写理由" in needs_reason.text


# -- export ------------------------------------------------------------------------------------


def test_the_filtered_queue_exports_as_a_workbook_in_the_citys_time(ui):
    openpyxl = pytest.importorskip("openpyxl")
    engine = ui.engine
    kept = [report(engine, n, description=f"井盖{n}") for n in range(3)]
    report(engine, 9, "0501", "event")
    answer = ui("zhang").get("/ui/queue/export.xlsx", params={"class": "component:0101", "page": "2"})
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("案件号", "灯", "环节", "小类")
    assert [r[0] for r in rows[1:]] == [engine.case(c)["number"] for c in kept]
    assert rows[1][8] == "井盖0" and rows[1][6] == "水务局"
    assert rows[1][9] == datetime(2026, 10, 13, 9, 0)  # reported 01:00 UTC: 09:00 in the city
    assert rows[1][10] == datetime(2026, 10, 13, 9, 15)


def test_a_queue_longer_than_one_workbook_is_refused_in_words(ui, monkeypatch):
    for n in range(2):
        report(ui.engine, n)
    monkeypatch.setattr("gridcase.admin_ui.queues.MAX_EXPORT", 1)
    answer = ui("zhang").get("/ui/queue/export.xlsx")
    assert answer.status_code == 422 and "超过一次导出的上限 1 件" in answer.text


def test_a_description_that_looks_like_a_formula_is_exported_as_text(ui):
    openpyxl = pytest.importorskip("openpyxl")
    case_id = report(ui.engine, 0, description='=HYPERLINK("http://evil.example","点此")')
    answer = ui("zhang").get("/ui/queue/export.xlsx", params={"q": ui.engine.case(case_id)["number"]})
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    cell = sheet.cell(row=2, column=9)
    assert cell.value == '=HYPERLINK("http://evil.example","点此")' and cell.data_type == "s"


# -- in a real browser ---------------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)")
def test_a_dispatcher_works_the_queue_in_a_browser(served, browser, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    base, engine = served
    for n in range(50):
        report(engine, n)  # not accepted within 15 minutes: red at 09:18
    engine.time.advance(minutes=10)
    waiting = [report(engine, 50 + n, *CLASSES[n % 2][:2], address=f"人民路{n}号") for n in range(6)]
    for case_id in waiting:
        filed(engine, case_id)  # to dispatch within 15 minutes: green at 09:18
    engine.time.advance(minutes=8)
    desk = log_in(browser, base, "zhang")
    rows = desk.locator("#rows tbody tr")
    assert desk.locator(".total").inner_text() == "共 56 件" and rows.count() == 50
    assert rows.first.locator(".light").inner_text() == "已超期"
    desk.locator(".pager").get_by_role("link", name="2").click()
    desk.locator(".pager .current", has_text="2").wait_for()
    assert rows.count() == 6

    # filtered and searched: the waiting cases, one of them by its address
    desk.get_by_label("环节").select_option("pending_dispatch")
    desk.locator(".total", has_text="共 6 件").wait_for()
    assert "state=pending_dispatch" in desk.url
    desk.get_by_label("搜索").fill("人民路3号")
    desk.locator(".total", has_text="共 1 件").wait_for()
    desk.get_by_label("搜索").fill("")
    desk.locator(".total", has_text="共 6 件").wait_for()

    # everything ticked; the queue refreshes itself and keeps the ticks and the filter
    desk.get_by_label("全选本页").check()
    assert desk.locator("#chosen").inner_text() == "6"
    assert "every 30s" in desk.locator("#rows .poll").get_attribute("hx-trigger")
    engine.time.advance(minutes=5)  # 09:23: the waiting ones turn yellow
    late = report(engine, 60, address="人民路99号")
    filed(engine, late)
    desk.evaluate("document.body.dispatchEvent(new Event('gridcase:refresh'))")
    desk.locator(".total", has_text="共 7 件").wait_for()
    assert desk.locator("#rows .light.yellow").count() == 6
    Shots(tmp_path)(desk, "queue")
    ticked = desk.locator("#rows input[name=cases]:checked")
    assert sorted(int(v) for v in ticked.evaluate_all("boxes => boxes.map(b => b.value)")) == waiting
    assert desk.get_by_label("环节").input_value() == "pending_dispatch"

    # bulk 派遣: each case to the unit it was routed to
    desk.get_by_label("批量操作").select_option("dispatch")
    desk.get_by_role("button", name="执行").click()
    desk.locator("#bulk-result", has_text="6 件成功").wait_for()
    desk.locator(".total", has_text="共 1 件").wait_for()
    for n, case_id in enumerate(waiting):
        assert active_units(engine, case_id) == {CLASSES[n % 2][2]}, case_id
    desk.get_by_role("button", name="执行").click()
    desk.locator("#errors", has_text="没有勾选案件").wait_for()

    # the whole queue as a workbook (the dispatched ones too: the desk may still void or supervise them)
    desk.get_by_label("环节").select_option("")
    desk.locator(".total", has_text="共 57 件").wait_for()
    with desk.expect_download() as download:
        desk.get_by_role("link", name="导出 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(numbers) == 57 and numbers[0] == rows.first.locator("td").nth(2).inner_text()
    assert engine.case(late)["number"] in numbers
    assert TROUBLE == [], "\n".join(TROUBLE)


def test_a_case_without_an_address_shows_its_grids_name_not_its_code(ui):
    openpyxl = pytest.importorskip("openpyxl")
    engine = ui.engine
    case = engine.case(report(engine, 0))
    assert not case["address"]
    with engine.db.connect() as connection:
        name = grid_labels(connection, [case["grid"]])[case["grid"]]
    assert name != case["grid"] and not name.isdigit()
    # an unnamed community's unnamed grid under its street: each number once, not 号网格 twice
    assert re.fullmatch(r"[一二]街道 \d{3}-\d{3}号网格", name), name
    page = ui("zhang").get("/ui/queue").text
    assert f'<td class="address">{name}</td>' in page and f">{case['grid']}<" not in page
    picker = re.search(r'<datalist id="grid-names">(.*?)</datalist>', page, re.S).group(1)
    assert f'<option value="{case["grid"]}">{name}</option>' in picker
    workbook = ui("zhang").get("/ui/queue/export.xlsx").content
    rows = list(openpyxl.load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True))
    assert rows[1][5] == name
