"""The 12345 bridge's outward half: each transition of a case the platform sent is answered in
the transition's own transaction (core/hotline/answers.py), and the answers are POSTed to the
platform by the `hotline` sender, with the outbox's retries. The same hook queues the SMS a
reporter who left a phone gets when their case's public state changes, and the satisfaction
survey's link when it closes.

A city without a `hotline:` section and without `notifications.citizens` gets nothing from it.
"""

import json
import os
import urllib.request
from datetime import timedelta
from typing import Any

from gridcase.core.context import CaseView, HookContext, TransitionView
from gridcase.core.hookspecs import hookimpl
from gridcase.core.hotline.answers import on_transition


class HotlineSender:
    """POSTs each answer as JSON to GRIDCASE_HOTLINE_URL with the platform's token
    (GRIDCASE_HOTLINE_TOKEN, as `Authorization: Bearer …`) and the answer's `Idempotency-Key`,
    the same on every retry. A non-2xx answer, a refusal to connect or a timeout raises, and the
    outbox tries again: every 10 minutes at the most, for three days, so a platform that is down
    for hours loses nothing."""

    channel = "hotline"
    max_backoff = timedelta(minutes=10)
    max_attempts = 6 * 24 * 3

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, message: dict[str, Any]) -> None:
        url = self.url or os.environ.get("GRIDCASE_HOTLINE_URL")
        if not url:
            raise RuntimeError("GRIDCASE_HOTLINE_URL is not set")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.get("idempotency_key") or f"gridcase-outbox-{message['id']}",
        }
        token = self.token or os.environ.get("GRIDCASE_HOTLINE_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            url,
            data=json.dumps(message["payload"], ensure_ascii=False, default=str).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"the 12345 platform answered {response.status}")


@hookimpl
def register_senders() -> list[Any]:
    return [HotlineSender()]


@hookimpl
def during_transition(ctx: HookContext, case: CaseView, transition: TransitionView) -> None:
    assert ctx.connection is not None  # the hook runs inside the transition's transaction
    on_transition(ctx.connection, ctx.profile, case, transition, ctx.now)
