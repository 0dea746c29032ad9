"""Built-in notification senders: `log` and `webhook`. A city's SMS gateway is a plugin
registering a sender for the channel `sms` (anything with `channel` and `send(message)`)."""

import json
import os
import sys
import urllib.request
from typing import Any

from gridcase.core.hookspecs import hookimpl


class LogSender:
    """Writes each notice as a JSON line to the deployment's notice log: the file `notice_log`
    names (settings, or GRIDCASE_NOTICE_LOG), or standard error when it names none or "-".

    It was a logger nobody configured, so notices were marked sent and written nowhere. A
    notice is sent once its line is written and flushed; a file that cannot be written raises,
    and the outbox retries.
    """

    channel = "log"

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    def target(self) -> str:
        from gridcase.core.settings import load_settings

        return self.path or load_settings().notice_log

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(
            {
                "id": message["id"], "idempotency_key": message.get("idempotency_key"),
                "event": message["event"], "recipient": message["recipient"], "case_id": message["case_id"],
                "text": message["text"],
            },
            ensure_ascii=False,
        )  # fmt: skip
        target = self.target()
        if target == "-":
            print(line, file=sys.stderr, flush=True)
            return
        with open(target, "a", encoding="utf-8") as handle:  # appends whole lines: safe across workers
            handle.write(line + "\n")


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
                "Idempotency-Key": message.get("idempotency_key") or f"gridcase-outbox-{message['id']}",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"webhook answered {response.status}")


@hookimpl
def register_senders() -> list[Any]:
    return [LogSender(), WebhookSender()]
