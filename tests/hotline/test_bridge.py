"""The 12345 bridge over real HTTP: gridcase served by uvicorn, and a reference client playing the
hotline platform with its own small HTTP server that receives the answers. The platform counts
answers by their Idempotency-Key, as a real one must, so a retried answer is applied once.

One order lives its whole life (order in, 签收, progress, 延期 asked and answered, 办结 with
photos, a failed 回访 that reopens the case) while the platform is unreachable for over an hour
in the middle; another is returned (退单) within the time limit, a third too late; an order no
class maps waits for an operator. Reporters who left a phone get an SMS per state change.

The centre's operator, in Chromium, files waiting orders on the admin UI's 12345待处理工单 page
(with a class, and a point on the intake's map when the order had none) and returns another;
wrong classes, places, reasons and an order handled meanwhile are refused in Chinese.
"""

import hashlib
import http.server
import json
import re
import shutil
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import uvicorn
from sqlalchemy import select

from gridcase.admin_ui.views import FIELDS, hotline_desk
from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.models import Outbox
from gridcase.core.engine import Engine
from gridcase.core.hookspecs import hookimpl
from gridcase.core.hotline import orders
from gridcase.core.notify.outbox import SmsSender
from gridcase.core.people.accounts import create_token, set_password
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.profile.taxonomy import label_zh
from gridcase.core.timesource import ManualTime
from gridcase.core.web.app import create_app
from tests.admin_ui import heping_desk
from tests.admin_ui.city_browser import needs_chromium
from tests.admin_ui.conftest import PASSWORD
from tests.admin_ui.heping_desk import open_as
from tests.conftest import BACKENDS
from tests.core.web.test_hostile_input import BAD_TEXT

CITY = Path(__file__).parent / "city"
chromium = heping_desk.chromium  # one browser for the module's page tests
POINT = [120.61, 31.337]  # grid 320508001001001, unit 水务局 for class 0101
CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
PHOTO = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(300)
FORM = "application/x-www-form-urlencoded"


class Platform:
    """The 12345 platform's receiving end: applies each answer once by its Idempotency-Key."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []  # every delivery, retries included
        self.applied: dict[str, dict] = {}  # by idempotency key
        self.lose_next_reply = False  # apply the next answer, then fail as if the reply were lost
        self.tokens: list[str | None] = []
        platform = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                platform.tokens.append(self.headers.get("Authorization"))
                platform.received.append((key, body))
                platform.applied.setdefault(key, body)
                status = 503 if platform.lose_next_reply else 200
                platform.lose_next_reply = False
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.handler = Handler
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server: http.server.HTTPServer | None = None
        self.up()

    def up(self) -> None:
        http.server.HTTPServer.allow_reuse_address = True
        self.server = http.server.HTTPServer(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Unreachable: nothing listens on its port."""
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def answers(self, order_no: str) -> list[dict]:
        return sorted((a for a in self.applied.values() if a["order_no"] == order_no), key=lambda a: a["seq"])


class Client(requests.Session):
    """A caller of gridcase's API with its own token, paths given below /api/v1."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__()
        self.base = base
        self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.base + url, *args, timeout=30, **kwargs)


class Gateway(SmsSender):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def phone_numbers(self, recipient: str) -> list[str]:
        return []

    def send_sms(self, number: str, text: str) -> None:
        self.sent.append((number, text))


@pytest.fixture(scope="module", params=BACKENDS)
def bridge(request, tmp_path_factory, sqlite_template, monkeypatch_module):
    folder = tmp_path_factory.mktemp("bridge")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "gridcase.db")
        url = f"sqlite:///{folder / 'gridcase.db'}"
    else:
        admin, new_database = request.getfixturevalue("pg_admin")
        name, url = new_database()
    engine = Engine.open(
        CITY,
        url,
        time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(folder / "evidence", max_bytes=200_000),
    )
    engine.load_reference_data()
    gateway = Gateway()

    class SmsPlugin:
        @hookimpl
        def register_senders(self):
            return [gateway]

    engine.pm.register(SmsPlugin())
    platform = Platform()
    monkeypatch_module.setenv("GRIDCASE_HOTLINE_URL", f"http://127.0.0.1:{platform.port}/answers")
    monkeypatch_module.setenv("GRIDCASE_HOTLINE_TOKEN", "platform-secret")
    add_person(engine.db, "h12345", "12345平台", ["hotline"])
    add_person(engine.db, "operator", "受理员", ["operator"])
    add_person(engine.db, "citizen", "市民", ["citizen"])
    tokens = {who: create_token(engine.db, who, "test", engine.time.now()) for who in ("h12345", "operator")}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine=engine), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/api/v1"
    clients = {who: Client(base, token) for who, token in tokens.items()}
    yield engine, platform, gateway, clients
    for client in clients.values():
        client.close()
    server.should_exit = True
    thread.join(timeout=10)
    if platform.server is not None:
        platform.down()
    engine.db.dispose()
    if request.param != "sqlite":
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def order(number: str, category: str = "110101", **more) -> dict:
    return {
        "order_no": number,
        "category": category,
        "category_name": "井盖破损",
        "description": "人民路井盖破损，有行人绊倒",
        "address": "人民路88号",
        "point": POINT,
        "caller": {"name": "王五", "phone": "13800001111"},
        **more,
    }


def deliver(engine, minutes: float = 0) -> dict:
    engine.time.advance(minutes=minutes)
    return engine.sweep()["delivered"]


def outbox(engine, number: str) -> list[dict]:
    table = Outbox.__table__
    with engine.db.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(table).where(table.c.recipient == f"hotline:{number}").order_by(table.c.id)
            ).mappings()
        ]


def test_one_order_through_its_whole_life_with_the_platform_down_for_an_hour(bridge):
    engine, platform, _, clients = bridge
    hotline = clients["h12345"]
    sent = hotline.post("/hotline/orders", json=order("GD20261013001"))
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "open"
    again = hotline.post("/hotline/orders", json=order("GD20261013001"))
    assert again.status_code == 200 and again.json()["case_number"] == sent.json()["case_number"]
    changed = hotline.post("/hotline/orders", json=order("GD20261013001", description="另一件事"))
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"
    case_id = _case_id(engine, sent.json()["case_number"])

    engine.transition(case_id, "send_verify", CENTRE)  # 签收
    engine.transition(case_id, "verify", Actor.of("supervisor"), uploads=[Upload("v.jpg", PHOTO)])
    engine.transition(
        case_id, "file", CENTRE, payload={"category": "0101", "kind": "component", "standard": "damaged"}
    )
    engine.transition(case_id, "dispatch", CENTRE, payload={"units": ["water"]})
    assert deliver(engine)["sent"] == 2
    assert [a["step"] for a in platform.answers("GD20261013001")] == ["sign", "progress"]

    platform.down()
    water = Actor.of("department", unit="water")
    engine.transition(case_id, "sign", water)
    engine.transition(
        case_id, "request_extension", water, payload={"amount": "2 work_day"}, reason="需更换井座，待采购"
    )
    failed_tries = 0
    for _ in range(14):  # 70 minutes, a sweep every five
        failed_tries += deliver(engine, 5)["retry"]
    assert failed_tries >= 2
    waiting = [r for r in outbox(engine, "GD20261013001") if r["status"] == "pending"]
    assert len(waiting) == 2 and all("Connection refused" in (r["last_error"] or "") for r in waiting)
    assert all(r["attempts"] >= 3 for r in waiting)

    # the platform's answer to the extension arrives inward while its own end is down
    answered = hotline.post(
        "/hotline/orders/GD20261013001/extension", json={"approved": True, "note": "同意延期2天"}
    )
    assert answered.status_code == 200 and answered.json()["recorded"]
    engine.transition(case_id, "approve_extension", CENTRE, payload={"amount": "2 work_day"})
    engine.transition(
        case_id, "handle", water, reason="已更换井盖井座", uploads=[Upload("after.jpg", PHOTO + b"1")]
    )
    engine.transition(
        case_id, "check_pass", Actor.of("supervisor"), uploads=[Upload("check.jpg", PHOTO + b"2")]
    )
    engine.transition(case_id, "close", CENTRE)  # 办结
    deliver(engine, 5)
    assert len([r for r in outbox(engine, "GD20261013001") if r["status"] == "pending"]) == 5

    platform.up()
    platform.lose_next_reply = True  # the first answer is applied but its reply never arrives
    for _ in range(4):
        deliver(engine, 10)
    rows = outbox(engine, "GD20261013001")
    assert {r["status"] for r in rows} == {"sent"}, [(r["event"], r["status"], r["last_error"]) for r in rows]
    answers = platform.answers("GD20261013001")
    assert [a["seq"] for a in answers] == list(range(1, 8))  # every answer, none twice
    steps = [a["step"] for a in answers]
    assert steps == ["sign", "progress", "progress", "extension", "progress", "progress", "done"]
    assert answers[steps.index("extension")]["amount"] == "2 work_day"
    assert answers[steps.index("extension")]["reason"] == "需更换井座，待采购"
    assert len(platform.received) == len(platform.applied) + 1  # the lost reply's answer came twice
    assert len({key for key, _ in platform.received}) == len(platform.applied)
    assert set(platform.tokens) == {"Bearer platform-secret"}

    done = answers[-1]
    assert done["result"] == "已更换井盖井座"
    assert len(done["photos"]) == 2
    for photo, sent_bytes in zip(done["photos"], (PHOTO + b"1", PHOTO + b"2"), strict=True):
        fetched = hotline.get(photo["path"].removeprefix("/api/v1"))
        assert fetched.status_code == 200 and fetched.content == sent_bytes
        assert hashlib.sha256(fetched.content).hexdigest() == photo["sha256"]
    assert clients["operator"].get(done["photos"][0]["path"].removeprefix("/api/v1")).status_code == 404

    visit = hotline.post(
        "/hotline/orders/GD20261013001/visit", json={"satisfied": False, "note": "井盖仍松动"}
    )
    assert visit.status_code == 200 and visit.json()["reopened"] is True, visit.text
    case = engine.case(case_id)
    assert case["state"] == "pending_check"
    assert [e["transition"] for e in case["events"]][-2:] == ["hotline_visit", "reopen"]
    assert case["events"][-1]["reason"] == "12345回访不满意：井盖仍松动"
    status = hotline.get("/hotline/orders/GD20261013001").json()
    assert status["status"] == "open" and status["case_state"] == "pending_check"


def _case_id(engine, number: str) -> int:
    from gridcase.core.db.models import Case

    with engine.db.connect() as connection:
        return connection.execute(
            select(Case.__table__.c.id).where(Case.__table__.c.number == number)
        ).scalar_one()


def test_a_returned_order_a_late_return_and_an_order_that_waits_for_an_operator(bridge):
    engine, platform, _, clients = bridge
    hotline, operator = clients["h12345"], clients["operator"]
    first = hotline.post("/hotline/orders", json=order("GD20261013101", point=[120.64, 31.31])).json()
    case_id = _case_id(engine, first["case_number"])
    engine.transition(case_id, "reject", CENTRE, reason="属物业管理区域，非城管职责")
    deliver(engine, 1)
    (returned,) = platform.answers("GD20261013101")
    assert returned["step"] == "return" and returned["reason"] == "属物业管理区域，非城管职责"
    assert hotline.get("/hotline/orders/GD20261013101").json()["status"] == "returned"

    late = hotline.post("/hotline/orders", json=order("GD20261013102", point=[120.63, 31.33])).json()
    late_id = _case_id(engine, late["case_number"])
    engine.time.advance(minutes=121)
    with pytest.raises(Exception, match="退单时限"):
        engine.transition(late_id, "reject", CENTRE, reason="不属职责")
    assert engine.case(late_id)["state"] == "reported"  # nothing of the refused step was written

    unmapped = hotline.post("/hotline/orders", json=order("GD20261013103", category="990001"))
    assert unmapped.status_code == 201 and unmapped.json()["status"] == "waiting"
    assert hotline.get("/hotline/waiting").status_code == 403  # the platform is not the centre
    queue = operator.get("/hotline/waiting").json()
    assert [o["order_no"] for o in queue] == ["GD20261013103"] and queue[0]["waiting_for"] == "class"
    filed = operator.post("/hotline/orders/GD20261013103/file", json={"category": "0501", "kind": "event"})
    assert filed.status_code == 200 and filed.json()["status"] == "open" and filed.json()["case_number"]
    assert operator.get("/hotline/waiting").json() == []

    hotline.post("/hotline/orders", json=order("GD20261013104", category="990002"))
    back = operator.post("/hotline/orders/GD20261013104/return", json={"reason": "非本市事项"})
    assert back.status_code == 200 and back.json()["status"] == "returned"
    deliver(engine, 1)
    assert [a["step"] for a in platform.answers("GD20261013104")] == ["return"]
    missing = operator.post("/hotline/orders/GD20261013104/return", json={"reason": ""})
    assert missing.status_code == 422


def test_a_reporter_who_left_a_phone_gets_an_sms_per_state_change(bridge):
    engine, _, gateway, _ = bridge
    citizen = Actor.of("citizen", id=3)
    made = engine.intake(
        {"channel": "app", "point": [120.62, 31.32], "category": "0101", "kind": "component",
         "contact": {"phone": "13900002222"}},
        citizen,
    )  # fmt: skip
    engine.transition(made["case_id"], "send_verify", CENTRE)
    engine.transition(made["case_id"], "verify", Actor.of("supervisor"), uploads=[Upload("v.jpg", PHOTO)])
    engine.transition(
        made["case_id"],
        "file",
        CENTRE,
        payload={"category": "0101", "kind": "component", "standard": "damaged"},
    )
    deliver(engine, 1)
    texts = [text for number, text in gateway.sent if number == "13900002222"]
    assert len(texts) == 1 and "待派遣" in texts[0] and made["number"] in texts[0]


# -- the centre's page of waiting orders (admin UI), in Chromium -------------------------------


@pytest.fixture(scope="module")
def desk(bridge, chromium):
    """The centre's operator in the served city's admin UI: (the UI's base URL, their page)."""
    engine, _, _, clients = bridge
    set_password(engine.db, "operator", PASSWORD)
    base = clients["operator"].base.removesuffix("/api/v1")
    page = open_as(chromium, base, "operator")
    yield base, page
    page.close()


def _unplaced(number: str, **more) -> dict:
    """An order the platform could not place: no point."""
    return {k: v for k, v in order(number, **more).items() if k != "point"}


def _shown(engine, moment: datetime) -> str:
    return moment.astimezone(engine.city.timezone).strftime("%Y-%m-%d %H:%M")


@needs_chromium
def test_the_operator_files_a_waiting_order_from_the_page_and_returns_another(bridge, desk):
    engine, platform, _, clients = bridge
    hotline = clients["h12345"]
    base, page = desk
    unmapped = order("GD20261013301", category="990003", category_name="违章搭建", description="楼顶违建")
    assert hotline.post("/hotline/orders", json=unmapped).json()["status"] == "waiting"
    received = engine.time.now()
    assert hotline.post("/hotline/orders", json=order("GD20261013302", category="990004")).status_code == 201

    page.goto(f"{base}/ui/inbox")  # the centre's notice leads to its order
    page.locator("tr", has_text="GD20261013301").get_by_role("link", name="去处理").click()
    page.wait_for_url("**/ui/hotline/GD20261013301")
    page.locator("header nav a", has_text="12345待处理工单").click()
    page.wait_for_url("**/ui/hotline")
    assert page.locator("header nav a", has_text="12345待处理工单").count() == 1
    row = page.locator('tr[data-order="GD20261013301"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[:7] == [
        "GD20261013301", _shown(engine, received), "990003 违章搭建", "楼顶违建", "王五 · 13800001111",
        "待指定类别", "人民路88号",
    ]  # fmt: skip

    row.get_by_role("link", name="处理").click()
    page.wait_for_url("**/ui/hotline/GD20261013301")
    event_0501 = label_zh(engine.catalogue.resolve_class("0501", "event")["minor"]["name"])
    page.get_by_label("问题类别").select_option(label=event_0501)
    page.get_by_role("button", name="立案").click()
    page.locator("#handling").get_by_text("已立案").wait_for()
    page.locator("a.case-link").click()
    page.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case = engine.case(int(page.url.rsplit("/", 1)[1]))
    assert case["channel"] == "hotline_12345" and case["class_code"] == "0501"
    filed = hotline.get("/hotline/orders/GD20261013301").json()
    assert filed["status"] == "open" and filed["case_number"] == case["number"]

    page.goto(f"{base}/ui/hotline/GD20261013302")
    page.get_by_label("退单理由").fill("非本市城管事项，请转区住建局")
    page.get_by_role("button", name="退单").click()
    page.locator("#handling").get_by_text("已退单").wait_for()
    deliver(engine, 1)
    (returned,) = platform.answers("GD20261013302")
    assert returned["step"] == "return" and returned["reason"] == "非本市城管事项，请转区住建局"
    page.goto(f"{base}/ui/hotline")
    assert page.locator("td.empty").inner_text() == "没有待处理的12345工单"


@needs_chromium
def test_an_order_with_no_place_is_placed_on_the_intakes_map(bridge, desk):
    engine, _, _, clients = bridge
    base, page = desk
    sent = clients["h12345"].post("/hotline/orders", json=_unplaced("GD20261013303"))
    assert sent.json()["waiting_for"] == "place"
    page.goto(f"{base}/ui/hotline/GD20261013303")
    assert page.locator("#handling h2").first.inner_text() == "待指定位置"
    mapped = label_zh(engine.catalogue.resolve_class("0101", "component")["minor"]["name"])
    assert page.get_by_label("问题类别").evaluate("s => s.selectedOptions[0].label") == mapped
    page.locator('.location-picker[data-ready="yes"]').wait_for()
    box = page.locator(".picker-map").bounding_box()
    # a point of the city's grids away from the middle, where the other tests' cases are
    page.locator(".picker-map").click(position={"x": box["width"] * 0.35, "y": box["height"] * 0.3})
    page.locator(".picker-status", has_text="所在网格").wait_for()
    lon, lat = (float(page.get_by_label(name).input_value()) for name in ("经度", "纬度"))
    page.get_by_role("button", name="立案").click()
    page.locator("#handling").get_by_text("已立案").wait_for()
    case_id = int(page.locator("a.case-link").get_attribute("href").rsplit("/", 1)[1])
    case = engine.case(case_id)
    assert case["channel"] == "hotline_12345" and case["class_code"] == "0101"
    assert (case["lon"], case["lat"]) == pytest.approx((lon, lat), abs=1e-6)


@needs_chromium
def test_wrong_class_wrong_place_and_a_stale_order_are_told_in_chinese(bridge, desk):
    engine, _, _, clients = bridge
    hotline = clients["h12345"]
    base, page = desk
    hotline.post("/hotline/orders", json=order("GD20261013304", category="990005"))
    hotline.post("/hotline/orders", json=_unplaced("GD20261013305"))
    page.goto(f"{base}/ui/hotline/GD20261013304")
    csrf = page.locator("input[name=csrf_token]").first.input_value()

    def post(path: str, form: dict):
        answer = page.request.post(
            f"{base}/ui/hotline/{path}", form=form, headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        return answer.status, answer.text()

    def waiting_for(number: str) -> str | None:
        return hotline.get(f"/hotline/orders/{number}").json()["waiting_for"]

    status, said = post("GD20261013304/file", {"category": ""})
    assert status == 422 and "请选择问题类别" in said, said
    status, said = post("GD20261013304/file", {"category": "component:9999"})
    assert status == 422 and "没有这个问题类别" in said
    status, said = post("GD20261013304/file", {"category": "event:0502"})  # a class the city stopped
    assert status == 422 and "这个问题类别已停用" in said
    status, said = post("GD20261013304/file", {"category": "anything:0101"})
    assert status == 422 and "上报的内容有误" in said
    assert waiting_for("GD20261013304") == "class"  # each refusal left it waiting

    status, said = post("GD20261013305/file", {"category": "component:0101"})
    assert status == 422 and "这张工单没有位置" in said
    status, said = post("GD20261013305/file", {"category": "component:0101", "lon": "东经", "lat": "31"})
    assert status == 422 and "经度必须是数字" in said
    status, said = post("GD20261013305/file", {"category": "component:0101", "lon": "116.4", "lat": "39.9"})
    assert status == 422 and "不在本市的任何网格内" in said
    assert waiting_for("GD20261013305") == "place"
    status, said = post("GD20261013305/return", {"reason": "  "})
    assert status == 422 and "请填写退单理由" in said
    assert post("GD20261013305/return", {"reason": "长" * 1001})[0] == 422

    filing, returning = (
        {"category": "component:0101", "lon": "120.61", "lat": "31.337"},
        {"reason": "不属职责"},
    )
    for step, good in (("file", filing), ("return", returning)):
        for field in good:
            for bad in BAD_TEXT:  # text no page may store or show, in each field: refused naming it
                sent = {**good, field: bad}
                body = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in sent.items())
                answer = page.request.post(
                    f"{base}/ui/hotline/GD20261013305/{step}",
                    data=body,
                    headers={"HX-Request": "true", "X-CSRF-Token": csrf, "Content-Type": FORM},
                )
                assert answer.status in (400, 422) and FIELDS[field] in answer.text(), (field, bad)
    assert waiting_for("GD20261013305") == "place"

    # the order filed in another window meanwhile: this one's forms find it handled
    page.goto(f"{base}/ui/hotline/GD20261013304")
    orders.file_waiting(engine, Actor.of("operator"), "GD20261013304", {"category": "0501", "kind": "event"})
    page.get_by_label("退单理由").fill("不属职责")
    page.get_by_role("button", name="退单").click()
    page.locator("#errors").get_by_text("12345工单GD20261013304已被他人处理（已立案）").wait_for()
    status, said = post("GD20261013304/file", {"category": "event:0501"})
    assert status == 409 and "已被他人处理（已立案）" in said
    page.goto(f"{base}/ui/hotline/GD20261013304")
    assert "这张工单已处理：已立案" in page.locator("#handling").inner_text()
    assert page.goto(f"{base}/ui/hotline/NOPE1").status == 404
    assert "没有12345工单NOPE1" in page.locator("main").inner_text()  # the order named, in Chinese
    assert page.goto(f"{base}/ui/hotline/工单1").status == 404  # no order can have this number
    assert "没有" in page.locator("main").inner_text()


def test_the_waiting_list_masks_the_caller_for_a_role_that_reads_contacts_masked(bridge, monkeypatch):
    engine, _, _, clients = bridge
    clients["h12345"].post("/hotline/orders", json=order("GD20261013306", category="990006"))
    operator = Actor.of("operator")
    (full,) = [o for o in orders.waiting(engine, operator) if o["order_no"] == "GD20261013306"]
    assert full["caller"] == {"name": "王五", "phone": "13800001111"}
    monkeypatch.setattr(orders, "reads_contacts", lambda engine, actor: False)
    (masked,) = [o for o in orders.waiting(engine, operator) if o["order_no"] == "GD20261013306"]
    assert masked["caller"] == {"name": "王*", "phone": "138****1111"}
    assert not hotline_desk(engine, Actor.of("leader")) and hotline_desk(engine, operator)
    orders.return_waiting(engine, operator, "GD20261013306", "测试完毕")
