"""The 12345 bridge over real HTTP: gridcase served by uvicorn, and a reference client playing the
hotline platform with its own small HTTP server that receives the answers. The platform counts
answers by their Idempotency-Key, as a real one must, so a retried answer is applied once.

One order lives its whole life (order in, 签收, progress, 延期 asked and answered, 办结 with
photos, a failed 回访 that reopens the case) while the platform is unreachable for over an hour
in the middle; another is returned (退单) within the time limit, a third too late; an order no
class maps waits for an operator. Reporters who left a phone get an SMS per state change.
"""

import hashlib
import http.server
import json
import shutil
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import uvicorn
from sqlalchemy import select

from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.models import Outbox
from gridcase.core.engine import Engine
from gridcase.core.hookspecs import hookimpl
from gridcase.core.notify.outbox import SmsSender
from gridcase.core.people.accounts import create_token
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.timesource import ManualTime
from gridcase.core.web.app import create_app
from tests.conftest import BACKENDS

CITY = Path(__file__).parent / "city"
POINT = [120.61, 31.337]  # grid 320508001001001, unit 水务局 for class 0101
CENTRE = Actor.of("operator", "shift_leader", "dispatcher")
PHOTO = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(300)


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
