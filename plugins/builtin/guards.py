"""Built-in transition guards."""

from typing import Any

from gridcase.core.hookspecs import hookimpl


def verification_not_required(context: dict[str, Any]) -> str | None:
    """A report from a channel that needs 核实 cannot skip verification on its way to filing."""
    case, profile = context["case"], context["profile"]
    channel = next((c for c in profile.get("channels", []) if c.get("code") == case.get("channel")), None)
    if channel and channel.get("verify") and not case.get("verified"):
        return f"reports from channel {channel['code']!r} need on-site verification (核实) before filing"
    return None


@hookimpl
def register_guards() -> list[dict[str, Any]]:
    return [{"name": "verification_not_required", "check": verification_not_required}]
