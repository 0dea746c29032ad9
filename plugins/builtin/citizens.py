"""The guards of what citizens do after a case is closed, each within the city's window
(`public:` in the profile, docs/public-site.md): "not fixed" reopens the case (`reopen_window`),
and the satisfaction survey is answered once per closing (`survey_window`), by the reporter or,
for a case the 12345 platform sent, by the platform's 回访 if it came first."""

from datetime import datetime, timedelta
from typing import Any

from gridcase.core.hookspecs import hookimpl
from gridcase.core.hotline.orders import SURVEY_ANSWERS


def _since_closing(context: dict[str, Any], days: int | None, what: str) -> str | None:
    if days is None:
        return f"this city does not take {what}"
    closed_at: datetime | None = context["case"].get("closed_at")
    if closed_at is None:  # closed before closing times were kept: nothing says when
        return f"the case has no closing time, so {what} cannot be dated"
    if context["now"] > closed_at + timedelta(days=days):
        return f"{what} is taken within {days} days of closing; this case closed earlier"
    return None


def reopen_window(context: dict[str, Any]) -> str | None:
    """A closed case reopens ("not fixed") only where the city allows it, within its days."""
    return _since_closing(context, context["city"].public.reopen_days, '"not fixed" (reopening)')


def survey_window(context: dict[str, Any]) -> str | None:
    """The satisfaction survey is answered once per closing, within the city's days."""
    refusal = _since_closing(context, context["city"].public.survey_days, "a satisfaction survey")
    if refusal:
        return refusal
    closed_at = context["case"]["closed_at"]
    answered = [e for e in context["events"]() if e["transition"] in SURVEY_ANSWERS and e["at"] >= closed_at]
    return "the survey of this closing has been answered already" if answered else None


@hookimpl
def register_guards() -> list[dict[str, Any]]:
    return [
        {"name": "reopen_window", "check": reopen_window},
        {"name": "survey_window", "check": survey_window},
    ]
