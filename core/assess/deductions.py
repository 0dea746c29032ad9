"""Deductions: points off for each counted case, each case's points split among its units.

A unit's share of a case comes from routing (the responsible units and their shares, 和平's 70/30
一事双责); the `split_case_consequences` hook may replace it. A rule with `split: owner` charges
the unit the case counts against instead (the handling unit, say).
"""

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from ..db.models import CaseUnit
from .explain import reason
from .facts import key_columns
from .periods import Period

if TYPE_CHECKING:
    from .assessor import Assessor

CASE_UNIT = CaseUnit.__table__
CHUNK = 5000  # ids per IN list: well under SQLite's and PostgreSQL's parameter limits


def charge(
    assessor: "Assessor", connection: Connection, kind: str, period: Period, now: datetime
) -> dict[str, Any]:
    """{"points": {object key: {rule: points}}, "cases": [one entry per charged case and object]}."""
    points: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cases: list[dict[str, Any]] = []
    counts = {c.code: c for c in assessor.counts}
    for rule in assessor.assessment.get("deductions", []):
        count = counts[rule["indicator"]]
        if not assessor.scoring.applies(count.code, kind) or key_columns(count.source, kind) is None:
            continue
        rows = connection.execute(assessor.sql.rows_query(count, period, now, kind)).mappings().all()
        width = len(key_columns(count.source, kind))
        shares = _shares(connection, [r["case_id"] for r in rows]) if kind == "unit" else {}
        for row in rows:
            owner = tuple(row[f"k{i}"] for i in range(width))
            split = _split(assessor, rule, row, owner, shares.get(row["case_id"], []))
            why = reason(count.fact, row, assessor.names, assessor.engine.tz, min(period.end, now))
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
                    }  # fmt: skip
                )
    return {"points": {k: dict(v) for k, v in points.items()}, "cases": cases}


def _split(assessor, rule, row, owner: tuple, responsible: list[dict[str, Any]]) -> list[tuple[tuple, float]]:
    if rule.get("split", "shares") == "owner" or not responsible:
        return [(owner, 1.0)] if owner[0] is not None else []
    case = {"id": row["case_id"], "number": row["number"], "kind": row["kind"], "class": row["class_code"],
            "owner": owner[0], "rule": rule["code"]}  # fmt: skip
    units = assessor.engine.pm.hook.split_case_consequences(case=case, units=responsible) or responsible
    return [((u["unit"],), float(u["share"])) for u in units]


def _shares(connection: Connection, case_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(case_ids), CHUNK):
        rows = connection.execute(
            select(CASE_UNIT.c.case_id, CASE_UNIT.c.unit, CASE_UNIT.c.share)
            .where(
                CASE_UNIT.c.case_id.in_(case_ids[start : start + CHUNK]),
                CASE_UNIT.c.role == "responsible",
                CASE_UNIT.c.active,
            )
            .order_by(CASE_UNIT.c.case_id, CASE_UNIT.c.id)
        )
        for row in rows:
            out[row.case_id].append({"unit": row.unit, "share": row.share})
    return out
