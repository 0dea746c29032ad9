"""Built-in notification senders: `log` and `webhook`. A city's SMS gateway is a plugin
registering a sender for the channel `sms` (anything with `channel` and `send(message)`)."""

import json
import logging
import os
import urllib.request
from typing import Any

from gridcase.core.hookspecs import hookimpl


class LogSender:
    """Writes each notice to the `gridcase.notify` logger (the default channel)."""

    channel = "log"

    def __init__(self) -> None:
        self.log = logging.getLogger("gridcase.notify")

    def send(self, message: dict[str, Any]) -> None:
        self.log.info("%s → %s: %s", message["event"], message["recipient"], message["text"])


class WebhookSender:
    """POSTs each notice as JSON to GRIDCASE_WEBHOOK_URL; a non-2xx answer or a timeout raises,
    and the outbox retries with back-off."""

    channel = "webhook"

    def __init__(self, url: str | None = None, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout

    def send(self, message: dict[str, Any]) -> None:
        url = self.url or os.environ.get("GRIDCASE_WEBHOOK_URL")
        if not url:
            raise RuntimeError("GRIDCASE_WEBHOOK_URL is not set")
        body = {k: message[k] for k in ("id", "recipient", "case_id", "event", "text", "payload")}
        request = urllib.request.Request(
            url,
            data=json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": f"gridcase-outbox-{message['id']}",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"webhook answered {response.status}")


@hookimpl
def register_senders() -> list[Any]:
    return [LogSender(), WebhookSender()]
