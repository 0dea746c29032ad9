"""An administrator sees the notices: how many wait, were sent or failed, each with its last
error, in Beijing time, and how long delivered ones are kept."""

from sqlalchemy import insert

from gridcase.core.db.models import Outbox


def test_the_administrator_sees_sent_pending_and_failed_notices(ui):
    engine = ui.engine
    now = engine.time.now()  # 2026-10-13 09:00 in Beijing
    rows = [
        ("sent", None, "【红灯催办】案件A超期"),
        ("pending", "LookupError: no sender for channel 'sms'", "【黄灯提醒】案件B"),
        ("failed", "ConnectionError: gateway timeout", "【超时督办】案件C"),
    ]
    with engine.db.begin() as connection:
        for status, error, text in rows:
            connection.execute(insert(Outbox.__table__).values(
                created_at=now, channel="sms", recipient="unit:water", case_id=None, event="urge:urge", text=text,
                payload={}, status=status, attempts=1, next_attempt_at=now, last_error=error,
                sent_at=now if status == "sent" else None,
            ))  # fmt: skip
    admin = ui("admin")
    page = admin.get("/ui/config/outbox").text
    assert "待发送 1" in page and "已发送 1" in page and "发送失败 1" in page
    assert "保留 180 天" in page and "2026-10-13 09:00" in page
    failed = admin.get("/ui/config/outbox?status=failed").text
    assert "ConnectionError: gateway timeout" in failed and "案件A" not in failed
    assert admin.get("/ui/config/outbox?status=lost").status_code == 422
    assert ui("water").get("/ui/config/outbox").status_code == 403


def test_the_hotlines_queue_and_failures_are_seen_on_their_own(ui):
    engine = ui.engine
    now = engine.time.now()
    rows = [
        ("hotline", "hotline:GD1", "pending", "ConnectionError: Connection refused", "12345工单GD1 签收"),
        ("hotline", "hotline:GD2", "failed", "HTTPError: 503 Service Unavailable", "12345工单GD2 退单"),
        ("sms", "unit:water", "failed", "ConnectionError: gateway timeout", "【红灯催办】案件A超期"),
        ("webhook", "unit:water", "sent", None, "【黄灯提醒】案件B"),
    ]
    with engine.db.begin() as connection:
        for channel, recipient, status, error, text in rows:
            connection.execute(insert(Outbox.__table__).values(
                created_at=now, channel=channel, recipient=recipient, case_id=None, event="hotline:sign",
                text=text, payload={}, status=status, attempts=3, next_attempt_at=now, last_error=error,
                sent_at=now if status == "sent" else None,
            ))  # fmt: skip
    admin = ui("admin")
    every = admin.get("/ui/config/outbox").text
    assert all(label in every for label in ("12345热线", "短信", "接口推送"))
    hotline = admin.get("/ui/config/outbox?channel=hotline").text
    assert "12345工单GD1" in hotline and "12345工单GD2" in hotline and "案件A" not in hotline
    assert "待发送 1" in hotline and "发送失败 1" in hotline and "已发送 0" in hotline  # of its own
    failed = admin.get("/ui/config/outbox?channel=hotline&status=failed").text
    assert "HTTPError: 503" in failed and "GD1" not in failed and "gateway timeout" not in failed
    assert 'href="/ui/config/outbox?channel=hotline&amp;status=pending"' in failed  # the filter is kept
    assert "没有通知" in admin.get("/ui/config/outbox?channel=log").text
    refused = admin.get("/ui/config/outbox?channel=<script>")
    assert refused.status_code == 422 and "渠道写得不对" in refused.text
