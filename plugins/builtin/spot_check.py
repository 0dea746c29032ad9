"""The spot-check mechanism (徐州's 谁处置谁核查): a drawn share of self-checks is re-checked.

The handling department checks its own work (a workflow transition, in the profile). A share of
those self-checks, set by `config: {spot_check: {share: 0.1}}`, is drawn for a supervisor's
re-check on site; a drawn case cannot close until the supervisor has passed it. The draw is a
hash of the case number, so it is the same on every server and on every retry, and a department
cannot know it in advance any better than it can know the number.
"""

import hashlib
from typing import Any

from gridcase.core.hookspecs import hookimpl

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["share"],
    "properties": {"share": {"type": "number", "minimum": 0, "maximum": 1}},
}


def drawn(number: str, share: float) -> bool:
    """Whether the case numbered `number` is among the `share` re-checked."""
    digest = int.from_bytes(hashlib.sha256(number.encode()).digest()[:8], "big")
    return digest / 2**64 < share


def _share(context: dict[str, Any]) -> float:
    return context["profile"].get("config", {}).get("spot_check", {}).get("share", 0.0)


def spot_check_passed(context: dict[str, Any]) -> str | None:
    """A self-checked case drawn for a spot check closes only after the supervisor's re-check."""
    case = context["case"]
    if drawn(case["number"], _share(context)):
        return f"case {case['number']} is drawn for a supervisor's spot check (抽查) before closing"
    return None


@hookimpl
def register_profile_schemas() -> list[dict[str, Any]]:
    return [{"block": "spot_check", "schema": SCHEMA}]


@hookimpl
def register_guards() -> list[dict[str, Any]]:
    return [{"name": "spot_check_passed", "check": spot_check_passed}]
