"""The sweep: escalation on real times, exactly once (also across processes), nothing lost on a
crash, timers following pauses and stops, and notification delivery with retries."""

import http.server
import json
import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.models import Outbox, Timer
from gridcase.core.engine import Engine
from gridcase.core.notify.outbox import SmsSender
from gridcase.core.people.actor import Actor
from gridcase.core.sla import sweep as sweep_module

from ...conftest import TESTCITY

CST = ZoneInfo("Asia/Shanghai")
PHOTO = [Upload("p.jpg", b"\xff\xd8\xff\xe0" + bytes(64))]
supervisor, operator, leader = Actor.of("supervisor"), Actor.of("operator"), Actor.of("shift_leader")
dispatcher, water = Actor.of("dispatcher"), Actor.of("department", unit="water")
TIMER, OUTBOX = Timer.__table__, Outbox.__table__


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def dispatched(engine, when="2026-10-13T09:00"):
    """A 上水井盖 case, 破损 (4 working hours), dispatched to water at `when`: due 15:00."""
    engine.time.set(at(when))
    case_id = engine.intake(
        {"channel": "patrol", "point": [120.61, 31.337], "category": "0101", "kind": "component"}, supervisor
    )["case_id"]
    engine.transition(case_id, "accept", operator)
    engine.transition(
        case_id, "file", leader, payload={"category": "0101", "kind": "component", "standard": "damaged"}
    )
    engine.transition(case_id, "dispatch", dispatcher, payload={"units": ["water"]})
    return case_id


def outbox(engine):
    with engine.db.connect() as connection:
        return [dict(r) for r in connection.execute(select(OUTBOX).order_by(OUTBOX.c.id)).mappings()]


def fired_names(result):
    return sorted(t["rung"] or t["kind"] for t in result["fired"])


def test_the_escalation_ladder_fires_each_rung_once_at_its_time(engine):
    case_id = dispatched(engine)
    number = engine.case(case_id)["number"]
    engine.time.set(at("2026-10-13T14:00"))
    assert (
        fired_names(engine.sweep()) == []
    )  # the short stages stopped before their lights; handling is green
    engine.time.set(at("2026-10-13T14:30"))  # 80 % of the 4 h used at 14:12
    assert fired_names(engine.sweep()) == ["remind", "yellow"]
    assert [(m["recipient"], m["event"], m["status"]) for m in outbox(engine)] == [
        ("unit:water", "remind:remind", "sent")
    ]
    assert (
        outbox(engine)[0]["text"]
        == f"【黄灯提醒】案件{number}（上水井盖）处置阶段将于2026-10-13 15:00到期，请及时处置。"
    )
    engine.time.set(at("2026-10-13T15:30"))
    assert fired_names(engine.sweep()) == ["red", "urge"]
    assert fired_names(engine.sweep()) == []  # exactly once
    assert [m["recipient"] for m in outbox(engine)][1:] == ["unit:water", "role:dispatcher"]
    engine.time.set(at("2026-10-14T10:00"))  # red for 4 working hours: Wednesday 09:00
    assert fired_names(engine.sweep()) == ["supervise"]
    assert [m["recipient"] for m in outbox(engine)][3:] == ["leader:water", "role:centre"]
    assert "【超时督办】" in outbox(engine)[-1]["text"]


def test_finishing_a_stage_cancels_its_pending_timers(engine):
    case_id = dispatched(engine)
    engine.transition(case_id, "sign", water)
    engine.time.set(at("2026-10-13T11:00"))
    engine.transition(case_id, "handle", water, uploads=PHOTO)
    engine.time.set(at("2026-10-20T09:00"))
    fired = engine.sweep()["fired"]
    assert {t["rung"] for t in fired if t["kind"] == "escalation"} == set()
    assert outbox(engine) == []


def test_shelving_cancels_the_timers_and_resuming_reschedules_them(engine):
    case_id = dispatched(engine)
    engine.transition(case_id, "sign", water)
    engine.time.set(at("2026-10-13T10:00"))
    engine.transition(case_id, "request_shelve", water, reason="需要立项")
    engine.transition(case_id, "approve_shelve", dispatcher)
    engine.time.set(at("2026-10-16T16:00"))
    assert "urge" not in fired_names(engine.sweep())  # paused: nothing of handling fires
    engine.transition(case_id, "resume", dispatcher)  # 3 h left: due Monday 09:00
    engine.time.set(at("2026-10-19T08:30"))
    assert "urge" not in fired_names(engine.sweep())
    engine.time.set(at("2026-10-19T09:30"))
    assert "urge" in fired_names(engine.sweep())


def test_a_crash_during_a_sweep_loses_nothing(engine, monkeypatch):
    dispatched(engine)
    engine.time.set(at("2026-10-13T14:30"))

    def crash(*args):
        raise RuntimeError("power cut")

    monkeypatch.setattr(sweep_module, "_notify", crash)
    with pytest.raises(RuntimeError):
        engine.sweep()
    monkeypatch.undo()
    assert "remind" in fired_names(engine.sweep())  # the claim was rolled back with the crash
    assert len(outbox(engine)) == 1


class FlakyGateway:
    channel = "sms"

    def __init__(self, failures):
        self.failures, self.sent = failures, []

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("gateway timeout")
        self.sent.append(message["text"])


def _queue_sms(engine):
    with engine.db.begin() as connection:
        connection.execute(insert(OUTBOX).values(
            created_at=engine.time.now(), channel="sms", recipient="leader:water", case_id=None, event="urge:urge",
            text="短信", payload={}, status="pending", attempts=0, next_attempt_at=engine.time.now(),
        ))  # fmt: skip


def test_delivery_retries_with_back_off_then_succeeds(engine):
    gateway = FlakyGateway(failures=2)
    _queue_sms(engine)
    now = engine.time.now()
    assert sweep_module.deliver(engine, {"sms": gateway}, now) == {"sent": 0, "retry": 1, "failed": 0}
    message = outbox(engine)[0]
    assert (message["status"], message["attempts"], message["last_error"]) == (
        "pending",
        1,
        "ConnectionError: gateway timeout",
    )
    assert message["next_attempt_at"] == now + timedelta(minutes=2)
    assert (
        sweep_module.deliver(engine, {"sms": gateway}, now + timedelta(minutes=1))["retry"] == 0
    )  # not due yet
    assert sweep_module.deliver(engine, {"sms": gateway}, now + timedelta(minutes=2))["retry"] == 1
    assert sweep_module.deliver(engine, {"sms": gateway}, now + timedelta(minutes=7))["sent"] == 1
    assert gateway.sent == ["短信"] and outbox(engine)[0]["status"] == "sent"


def test_delivery_gives_up_with_the_reason(engine):
    _queue_sms(engine)
    now = engine.time.now()
    for hours in range(sweep_module.MAX_ATTEMPTS):
        sweep_module.deliver(engine, {"sms": FlakyGateway(failures=1)}, now + timedelta(hours=100 * hours))
    message = outbox(engine)[0]
    assert (message["status"], message["attempts"]) == ("failed", sweep_module.MAX_ATTEMPTS)
    assert message["last_error"] == "ConnectionError: gateway timeout"


def test_a_notice_no_plugin_sends_stays_pending_with_the_reason(engine):
    _queue_sms(engine)
    now = engine.time.now()
    for hours in range(2 * sweep_module.MAX_ATTEMPTS):
        sweep_module.deliver(engine, {}, now + timedelta(hours=hours))
    message = outbox(engine)[0]
    assert (message["status"], message["sent_at"]) == ("pending", None)
    assert message["last_error"] == "LookupError: no sender for channel 'sms'"
    assert message["next_attempt_at"] <= now + timedelta(hours=2 * sweep_module.MAX_ATTEMPTS)


def test_the_webhook_sender_posts_json(engine, monkeypatch):
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204 if len(received) > 1 else 500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GRIDCASE_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/notices")
    try:
        _queue_sms(engine)
        with engine.db.begin() as connection:
            connection.execute(OUTBOX.update().values(channel="webhook"))
        now = engine.time.now()
        assert sweep_module.deliver(engine, engine.senders(), now)["retry"] == 1  # the server said 500
        assert sweep_module.deliver(engine, engine.senders(), now + timedelta(minutes=2))["sent"] == 1
        assert received[-1]["text"] == "短信" and received[-1]["recipient"] == "leader:water"
    finally:
        server.shutdown()


def test_the_cli_sweeps_and_shows_the_outbox(engine, cli):
    dispatched(engine)
    url = engine.db.url.render_as_string(hide_password=False)
    result = cli("sla", "sweep", "--profile", TESTCITY, "--db", url)
    # the command runs on the real clock: the October case's whole handling ladder is due
    assert (result.code, result.out) == (
        0,
        "fired: red 1, remind 1, supervise 1, urge 1, yellow 1; notifications: sent 5, retry 0, failed 0\n",
    )
    _queue_sms(engine)
    sweep_module.deliver(engine, {}, engine.time.now())
    result = cli("sla", "outbox", "--status", "pending", "--profile", TESTCITY, "--db", url)
    assert (
        result.code == 0 and "pending  x1 sms" in result.out and "no sender for channel 'sms'" in result.out
    )
    # one channel's notices, and the counts of that channel's
    by_channel = {
        channel: cli("sla", "outbox", "--channel", channel, "--profile", TESTCITY, "--db", url).out
        for channel in ("sms", "log")
    }
    assert " sms " in by_channel["sms"] and " log " not in by_channel["sms"]
    assert "pending 1, sending 0, sent 0, failed 0" in by_channel["sms"]
    assert " sms " not in by_channel["log"] and "pending 0, sending 0, sent 5, failed 0" in by_channel["log"]
    mistyped = cli("sla", "outbox", "--channel", "smss", "--profile", TESTCITY, "--db", url)
    assert (
        mistyped.code != 0
        and "no notice of channel 'smss' (it holds: log, sms)" in mistyped.out + mistyped.err
    )


class Gateway(SmsSender):
    def __init__(self):
        self.sent = []

    def phone_numbers(self, recipient):
        return {"leader:water": ["13800000000"]}.get(recipient, [])

    def send_sms(self, number, text):
        self.sent.append((number, text))


def test_an_sms_gateway_plugs_in_through_the_sender_interface(engine):
    gateway = Gateway()
    _queue_sms(engine)
    assert sweep_module.deliver(engine, {"sms": gateway}, engine.time.now())["sent"] == 1
    assert gateway.sent == [("13800000000", "短信")]


def _sweeper(db_url, evidence, barrier, results):
    engine = Engine.open(TESTCITY, db_url, evidence=EvidenceStore(evidence))
    now = datetime(2030, 1, 1, tzinfo=UTC)
    barrier.wait()
    mine = []
    while True:
        batch = sweep_module.sweep(engine, now, limit=500)
        if not batch:
            break
        mine += [t["id"] for t in batch]
    results.put(mine)
    engine.db.dispose()


def test_four_sweepers_fire_twenty_thousand_timers_exactly_once(engine, tmp_path):
    case_id = dispatched(engine)
    clock_id = engine.case(case_id)["clocks"][0]["id"]
    due = datetime(2026, 10, 1, tzinfo=UTC)
    with engine.db.begin() as connection:
        connection.execute(
            insert(TIMER),
            [
                {
                    "clock_id": clock_id,
                    "case_id": case_id,
                    "kind": "red",
                    "rung": None,
                    "due_at": due,
                    "status": "pending",
                }
                for _ in range(20_000)
            ],
        )
        total = connection.execute(
            select(func.count()).select_from(TIMER).where(TIMER.c.status == "pending")
        ).scalar_one()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    url = engine.db.url.render_as_string(hide_password=False)
    procs = [ctx.Process(target=_sweeper, args=(url, tmp_path / "ev", barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    fired = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    all_ids = [i for ids in fired for i in ids]
    assert len(all_ids) == total and len(set(all_ids)) == total
    assert sum(1 for ids in fired if ids) >= 2  # the work really was shared
    with engine.db.connect() as connection:
        assert (
            connection.execute(
                select(func.count()).select_from(TIMER).where(TIMER.c.status == "pending")
            ).scalar_one()
            == 0
        )


class SlowSender:
    """A gateway slower than the lease over a batch: each notice takes 40 ms, twenty take 0.8 s."""

    channel = "sms"

    def __init__(self):
        self.sent, self.lock = [], threading.Lock()

    def send(self, message):
        time.sleep(0.04)
        with self.lock:
            self.sent.append(message["id"])


def test_two_sweeps_with_a_sender_slower_than_the_lease_send_each_notice_once(engine, monkeypatch):
    from gridcase.core.timesource import SystemTime

    monkeypatch.setattr(sweep_module, "LEASE", timedelta(seconds=0.2))
    engine.time = SystemTime()  # leases run out in real time
    for _ in range(20):
        _queue_sms(engine)
    with engine.db.begin() as connection:
        connection.execute(OUTBOX.update().values(next_attempt_at=datetime(2026, 1, 1, tzinfo=UTC)))
    sender = SlowSender()

    def sweep_later(delay):
        time.sleep(delay)
        sweep_module.deliver(engine, {"sms": sender})

    threads = [threading.Thread(target=sweep_later, args=(delay,)) for delay in (0, 0.3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sender.sent) == sorted(m["id"] for m in outbox(engine))  # each once
    assert {m["status"] for m in outbox(engine)} == {"sent"}


def test_the_log_channel_writes_each_notice_to_the_configured_file(engine, tmp_path, monkeypatch):
    log_file = tmp_path / "notices.jsonl"
    monkeypatch.setenv("GRIDCASE_NOTICE_LOG", str(log_file))
    _queue_sms(engine)
    with engine.db.begin() as connection:
        connection.execute(OUTBOX.update().values(channel="log"))
    assert sweep_module.deliver(engine, engine.senders(), engine.time.now())["sent"] == 1
    (line,) = log_file.read_text(encoding="utf-8").splitlines()
    notice = json.loads(line)
    assert (notice["text"], notice["recipient"]) == ("短信", "leader:water")
    assert notice["idempotency_key"] == f"gridcase-outbox-{notice['id']}"
    # a log that cannot be written is no delivery: the notice waits, with the reason
    monkeypatch.setenv("GRIDCASE_NOTICE_LOG", str(tmp_path / "no-such-folder" / "notices.jsonl"))
    _queue_sms(engine)
    with engine.db.begin() as connection:
        connection.execute(OUTBOX.update().where(OUTBOX.c.status == "pending").values(channel="log"))
    assert sweep_module.deliver(engine, engine.senders(), engine.time.now()) == {
        "sent": 0,
        "retry": 1,
        "failed": 0,
    }
    assert "No such file or directory" in outbox(engine)[-1]["last_error"]


def test_serve_warns_of_a_channel_no_plugin_sends(capsys):
    from gridcase.core.cli.server import _warn_of_unsent_notices
    from gridcase.core.profile import load_validated

    heping, _ = load_validated("heping")  # its 17:30 digest goes by SMS, a gateway it plugs in
    _warn_of_unsent_notices(heping.plain(), "heping")
    assert capsys.readouterr().err == (
        "warning: no plugin sends the 'sms' channel the profile's notices use; they wait in the outbox, "
        "pending (gridcase sla outbox), until one does\n"
    )
    _warn_of_unsent_notices(load_validated(TESTCITY)[0].plain(), str(TESTCITY))
    assert capsys.readouterr().err == ""


def test_the_sweep_logs_what_it_fired_and_delivered(engine, caplog):
    import logging

    dispatched(engine)
    engine.time.set(at("2026-10-13T15:30"))
    with caplog.at_level(logging.INFO, logger="gridcase.sla"):
        engine.sweep()
    fired, delivered = [r for r in caplog.records if r.name == "gridcase.sla"]
    assert (fired.getMessage(), fired.fields) == (
        "fired 4 time-limit events",
        {"red": 1, "remind": 1, "urge": 1, "yellow": 1},
    )
    assert delivered.fields == {"sent": 3, "retry": 0, "failed": 0}  # the urge goes to two
