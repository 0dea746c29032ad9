"""Deductions: points off for each counted case, each case's points split among its units.

A unit's share of a case comes from routing (the responsible units and their shares, 和平's 70/30
一事双责); the `split_case_consequences` hook may replace it. A rule with `split: owner` charges
the unit the case counts against instead (the handling unit, say). A rule with `split:
grid_people` charges every person responsible for the case's grid the rule's full points (和平:
each worker of a problem's grid loses a point); its indicator counts by grid.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select

from gridcase.core.assess.explain import reason
from gridcase.core.assess.facts import key_columns, params
from gridcase.core.assess.periods import Period
from gridcase.core.db.models import CaseUnit
from gridcase.core.places.units import GridPeople

if TYPE_CHECKING:
    from gridcase.core.assess.assessor import Assessor

CASE_UNIT = CaseUnit.__table__


def charge(
    assessor: "Assessor",
    connection: Connection,
    kind: str,
    period: Period,
    now: datetime,
    reasons: bool = False,
) -> dict[str, Any]:
    """{"points": {object key: {rule: points}}, "cases": [one entry per charged case and object]}
    (each case with its reason when `reasons`: explanations want them, totals do not)."""
    points: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cases: list[dict[str, Any]] = []
    counts = {c.code: c for c in assessor.counts}
    people: GridPeople | None = None
    for rule in assessor.assessment.get("deductions", []):
        count = counts[rule["indicator"]]
        # grid_people: the indicator counts a grid's cases, and they are charged to its people
        counted_by = "grid" if rule.get("split") == "grid_people" else kind
        if rule.get("split") == "grid_people" and kind != "person":
            continue
        if not assessor.scoring.applies(count.code, counted_by):
            continue
        columns = key_columns(count.source, counted_by)
        if columns is None:
            continue
        if counted_by != kind and people is None:
            people = GridPeople(connection)
        width = len(columns)
        for row, responsible in _rows_with_shares(assessor, connection, count, counted_by, period, now):
            owner = tuple(row[f"k{i}"] for i in range(width))
            why = (
                reason(count.fact, row, assessor.names, assessor.engine.city.timezone, min(period.end, now))
                if reasons
                else None
            )
            split = (
                [((p,), 1.0) for p in people.of(owner[0])]
                if people is not None and counted_by != kind  # people is set whenever counted_by != kind
                else _split(assessor, rule, row, owner, responsible)
            )
            for key, share in split:
                amount = rule["points"] * float(row["weight"]) * share
                points[key][rule["code"]] += amount
                cases.append(
                    {
                        "key": key,
                        "object": ":".join([kind, *map(str, key)]),
                        "rule": rule["code"],
                        "case_id": row["case_id"],
                        "number": row["number"],
                        "points": round(amount, 4),
                        "share": share,
                        "reason": why,
                    }
                )
    return {"points": {k: dict(v) for k, v in points.items()}, "cases": cases}


def _rows_with_shares(assessor, connection, count, kind, period, now) -> Iterator[tuple[dict, list[dict]]]:
    """The count's rows, each with its case's responsible units and shares (units only)."""
    query = assessor.sql.rows_query(count, kind)
    if kind != "unit":
        for row in connection.execute(query, params(period, now)).mappings():
            yield row, []
        return
    rows = query.subquery()
    joined = rows.outerjoin(
        CASE_UNIT,
        and_(CASE_UNIT.c.case_id == rows.c.case_id, CASE_UNIT.c.role == "responsible", CASE_UNIT.c.active),
    )
    query = (
        select(rows, CASE_UNIT.c.unit.label("share_unit"), CASE_UNIT.c.share)
        .select_from(joined)
        .order_by(rows.c.case_id, CASE_UNIT.c.id)
    )
    for _, run in groupby(
        connection.execute(query, params(period, now)).mappings(), key=itemgetter("case_id")
    ):
        group = list(run)
        units = [{"unit": g["share_unit"], "share": g["share"]} for g in group if g["share_unit"] is not None]
        yield group[0], units


def _split(assessor, rule, row, owner: tuple, responsible: list[dict[str, Any]]) -> list[tuple[tuple, float]]:
    if rule.get("split", "shares") == "owner" or not responsible:
        return [(owner, 1.0)] if owner[0] is not None else []
    hooks = assessor.engine.hooks
    if hooks.listened("split_case_consequences"):
        ctx = hooks.context()
        case = ctx.cases.get(row["case_id"])
        split = hooks.pm.hook.split_case_consequences(
            ctx=ctx, case=case, rule=rule["code"], units=responsible
        )
        responsible = split or responsible
    return [((u["unit"],), float(u["share"])) for u in responsible]
