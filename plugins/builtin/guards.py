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


def handling_overdue(context: dict[str, Any]) -> str | None:
    """Only a case whose handling has run past its deadline (和平's 代整治: another unit fixes
    what the owner left undone)."""
    late = [
        c
        for c in context["clocks"]()
        if c["stage"] == "handle" and c["deadline"] and c["deadline"] < context["now"]
    ]
    return None if late else "handling is not overdue: the unit dispatched to still has time"


def subtasks_closed(context: dict[str, Any]) -> str | None:
    """A joint order closes once every sub-task has (禅城's 联合执法: results fed back)."""
    open_ = [t["number"] for t in context["subtasks"]() if t["state_kind"] != "closed"]
    return f"sub-tasks still open: {', '.join(open_)}" if open_ else None


@hookimpl
def register_guards() -> list[dict[str, Any]]:
    return [
        {"name": "verification_not_required", "check": verification_not_required},
        {"name": "handling_overdue", "check": handling_overdue},
        {"name": "subtasks_closed", "check": subtasks_closed},
    ]
