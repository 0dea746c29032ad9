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
