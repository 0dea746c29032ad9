"""The water bureau answers for every overdue case it shares, and is praised for it: a city's
split of consequences and score adjustment, for tests/core/assess/test_assessment_scenarios.py."""

from typing import Any

from gridcase.core.context import CaseView, HookContext, Period, ScoreAdjustment, Share
from gridcase.core.hookspecs import hookimpl


@hookimpl
def split_case_consequences(
    ctx: HookContext, case: CaseView, rule: str, units: list[Share]
) -> list[Share] | None:
    if rule != "overdue" or "water" not in case.units_in("responsible"):
        return None
    return [{"unit": "water", "share": 1.0}]  # the bureau answers for all of it


@hookimpl
def adjust_scores(ctx: HookContext, results: list[dict[str, Any]], period: Period) -> list[ScoreAdjustment]:
    if period.label != "2026-10":
        return []
    return [
        {"object": r["object"], "points": 3.0, "reason": "表扬加分", "cases": []}
        for r in results
        if r["object"] == "unit:water"
    ]
