"""The takeover-payment mechanism (和平's 代整治 settlement): what data alone cannot say.

When the centre hands an overdue problem to the street office or community (the `take_over`
transition), its cost is charged to the owner. The owner then pays (`pay_takeover`). An owner
who neither fixed the problem nor paid for its fixing loses all award eligibility: the
profile's `takeover_unpaid` fact counts takeovers no payment has answered, and the monthly award
is `barred_by` it. This guard keeps the payment to the cases it belongs to.
"""

from typing import Any

from gridcase.core.hookspecs import hookimpl


def takeover_unpaid(context: dict[str, Any]) -> str | None:
    """Only a case taken over whose cost has not been paid since."""
    fired = [e["transition"] for e in context["events"]()]
    if "take_over" not in fired:
        return "the case was not taken over (代整治): there is no takeover cost to pay"
    if "pay_takeover" in fired[len(fired) - fired[::-1].index("take_over") :]:
        return "the takeover's cost has already been paid"
    return None


@hookimpl
def register_guards() -> list[dict[str, Any]]:
    return [{"name": "takeover_unpaid", "check": takeover_unpaid}]
