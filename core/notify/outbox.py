"""Notification senders: the interface the outbox delivers through, and what the outbox holds.

Built in (gridcase.plugins.builtin.senders): `log` and `webhook`. A city's SMS gateway is a
plugin whose `register_senders` returns an `SmsSender` subclass implementing `send_sms`.
"""

from abc import ABC, abstractmethod
from typing import Any, Protocol

from sqlalchemy import Engine as Database
from sqlalchemy import func, select

from gridcase.core.city import CityProfile
from gridcase.core.db.connection import read
from gridcase.core.db.models import Outbox

OUTBOX = Outbox.__table__
STATUSES = ("pending", "sending", "sent", "failed")

# Notice texts per escalation action; a profile overrides them under notifications.templates.
TEMPLATES = {
    "remind": "【黄灯提醒】案件{number}（{category}）{stage}阶段将于{deadline}到期，请及时处置。",
    "urge": "【红灯催办】案件{number}（{category}）{stage}阶段已于{deadline}超期，请立即处置。",
    "supervise": "【超时督办】案件{number}（{category}）{stage}阶段超期已久（期限{deadline}），"
    "请单位领导督办。",
    "notify": "【时限通知】案件{number}（{category}）{stage}阶段期限{deadline}。",
}
TEMPLATE_FIELDS = ("number", "category", "stage", "deadline", "unit")
OUT_OF_GRID = "【越界提醒】{reporter}在责任网格外上报：案件{number}，网格{grid}。"


def notice_channel(city: CityProfile, rule: dict[str, Any] | None = None) -> str:
    """The sender a notice goes through: its rule's own `channel` (an escalation rung, a digest,
    a bulletin, the out-of-grid alert), else `notifications.channel`, else `log`."""
    return (rule or {}).get("channel") or city.notifications.channel


def notice_channels(city: CityProfile) -> set[str]:
    """Every sender the profile's notices may go through."""
    rules = [
        *city.escalation,
        *city.notifications.digests,
        *city.notifications.bulletins,
        city.intake.out_of_grid or {},
    ]
    return {notice_channel(city)} | {notice_channel(city, rule) for rule in rules}


def outbox_row(
    now, channel: str, recipient: str, case_id: int | None, event: str, text: str, payload: dict
) -> dict:
    """One notice for the outbox, due at once."""
    return {
        "created_at": now, "channel": channel, "recipient": recipient, "case_id": case_id, "event": event,
        "text": text, "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now,
    }  # fmt: skip


def outbox_listing(
    db: Database, status: str | None = None, limit: int = 50, channel: str | None = None
) -> dict[str, Any]:
    """How many notices the outbox holds by status and the newest `limit` (of `status`), of one
    `channel` when given (the 12345 platform's queue and failures on their own), and the
    channels it holds."""
    of_channel = [OUTBOX.c.channel == channel] if channel else []
    shown = [*of_channel, *([OUTBOX.c.status == status] if status else [])]
    with read(db) as connection:
        counts: dict[str, int] = dict(
            connection.execute(
                select(OUTBOX.c.status, func.count()).where(*of_channel).group_by(OUTBOX.c.status)
            ).all()
        )
        rows = connection.execute(select(OUTBOX).where(*shown).order_by(OUTBOX.c.id.desc()).limit(limit))
        return {
            "counts": {s: counts.get(s, 0) for s in STATUSES},
            "rows": [dict(r) for r in rows.mappings()],
            "channels": connection.execute(select(OUTBOX.c.channel).distinct()).scalars().all(),
        }


class Sender(Protocol):
    """Anything with a channel name and a `send` that raises when delivery failed."""

    channel: str

    def send(self, message: dict[str, Any]) -> None: ...


class SmsSender(ABC):
    """Base for SMS gateways: turns an outbox message into `send_sms(recipient, text)`.

    `recipient` is the outbox recipient (`unit:…`, `leader:…`, `role:…`); `phone_numbers`
    maps it to numbers, which a city plugin looks up in its own directory. A notice to a citizen
    (`citizen:<report>`, core/hotline/answers.py) carries the phone the reporter left.
    """

    channel = "sms"

    def send(self, message: dict[str, Any]) -> None:
        if message["recipient"].startswith("citizen:"):
            numbers = [message["payload"]["phone"]]
        else:
            numbers = self.phone_numbers(message["recipient"])
        if not numbers:
            raise LookupError(f"no phone number for {message['recipient']}")
        for number in numbers:
            self.send_sms(number, message["text"])

    @abstractmethod
    def phone_numbers(self, recipient: str) -> list[str]:
        """The numbers a recipient's notices go to."""

    @abstractmethod
    def send_sms(self, number: str, text: str) -> None:
        """Hand one message to the gateway; raise on failure (the outbox retries)."""
