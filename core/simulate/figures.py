"""The period's figures from what the engine recorded: the same tables `gridcase serve` and
`gridcase assess` read, so the figures hold for any database a simulation leaves.

- 立案数 (filed): cases that started a whole-case clock, plus those fixed on the spot;
- 结案率: cases ended by a closing transition (one that does not stop every clock, as a
  rejection or voiding does) among those filed;
- 按期结案率: of the closed cases with a whole-case clock, those closed by its deadline;
- 即办率: cases closed without ever reaching a handling unit, among those filed.
"""

from collections import Counter, defaultdict
from datetime import datetime
from statistics import mean
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from gridcase.core.assess.assessor import Assessor
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, CaseEvent, Clock, Report
from gridcase.core.profile.taxonomy import label_zh

if TYPE_CHECKING:
    from gridcase.core.engine import Engine

CASE, EVENT, CLOCK, REPORT = (t.__table__ for t in (Case, CaseEvent, Clock, Report))
WHOLE_CASE, HANDLING = "case", "handle"


def _endings(engine: "Engine") -> set[tuple[str, str]]:
    """(workflow, transition) pairs that end a case well: into a closed state, not stopping '*'."""
    return {
        (code, t.code)
        for code, workflow in engine.catalogue.workflows.items()
        for t in workflow.transitions.values()
        if t.target and workflow.kind_of(t.target) == "closed" and "*" not in t.stops
    }


def figures(engine: "Engine", start: datetime, end: datetime, period: str | None = None) -> dict[str, Any]:
    endings = _endings(engine)
    names = {u["code"]: label_zh(u.get("name")) or u["code"] for u in engine.profile.get("units", [])}
    kinds = {u["code"]: u.get("kind") for u in engine.profile.get("units", [])}
    with read(engine.db) as connection:
        reports = connection.execute(
            select(func.count()).where(REPORT.c.received_at >= start, REPORT.c.received_at < end)
        ).scalar_one()
        cases = {
            row.id: row
            for row in connection.execute(
                select(CASE.c.id, CASE.c.workflow, CASE.c.state_kind, CASE.c.routing_rule).where(
                    CASE.c.reported_at >= start, CASE.c.reported_at < end, CASE.c.parent_id.is_(None)
                )
            )
        }
        ended = {
            row.case_id
            for row in connection.execute(
                select(EVENT.c.case_id, EVENT.c.transition, CASE.c.workflow)
                .join(CASE, CASE.c.id == EVENT.c.case_id)
                .where(
                    CASE.c.reported_at >= start,
                    CASE.c.reported_at < end,
                    CASE.c.state_kind == "closed",
                    EVENT.c.transition.in_({code for _, code in endings}),
                )
            )
            if (row.workflow, row.transition) in endings
        }
        clocks = connection.execute(
            select(
                CLOCK.c.case_id, CLOCK.c.stage, CLOCK.c.status, CLOCK.c.started_at, CLOCK.c.stopped_at,
                CLOCK.c.deadline, CLOCK.c.owner, CLOCK.c.superseded,
            )
            .join(CASE, CASE.c.id == CLOCK.c.case_id)
            .where(CASE.c.reported_at >= start, CASE.c.reported_at < end)
        ).all()  # fmt: skip
    whole: dict[int, Any] = {}
    handled: set[int] = set()
    overdue: Counter = Counter()
    workload: Counter = Counter()
    stage_hours: dict[str, list[float]] = defaultdict(list)
    for c in clocks:
        if c.stage == WHOLE_CASE:
            whole[c.case_id] = c
        if c.stage == HANDLING:
            handled.add(c.case_id)
            if not c.superseded and c.owner:
                workload[kinds.get(c.owner) or "other"] += 1
            finished = c.stopped_at or end
            if c.deadline is not None and finished > c.deadline and c.owner:
                overdue[c.owner] += 1
        if c.status == "stopped" and c.stopped_at is not None:
            stage_hours[c.stage].append((c.stopped_at - c.started_at).total_seconds() / 3600)
    on_the_spot = {cid for cid in ended if cid not in handled and cid not in whole}
    filed = set(whole) | on_the_spot
    closed = ended & filed
    timed = [whole[cid] for cid in closed if cid in whole]
    on_time = [c for c in timed if c.deadline is None or c.stopped_at <= c.deadline]
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "reports": reports,
        "cases": len(cases),
        "filed": len(filed),
        "closed": len(closed),
        "closure_rate": _rate(len(closed), len(filed)),
        "on_time_rate": _rate(len(on_time), len(timed)),
        "on_the_spot": len(on_the_spot),
        "on_the_spot_rate": _rate(len(on_the_spot), len(filed)),
        "open": sum(1 for c in cases.values() if c.state_kind == "open"),
        # which routing rule sent each case (a city's own rule is one of its mechanisms)
        "routing": dict(sorted(Counter(c.routing_rule or "none" for c in cases.values()).items())),
        "stage_hours": {stage: round(mean(hours), 2) for stage, hours in sorted(stage_hours.items())},
        "workload_by_unit_kind": dict(sorted(workload.items())),
        "overdue_by_unit": [
            {"unit": unit, "name": names.get(unit, unit), "overdue": n} for unit, n in overdue.most_common(10)
        ],
        "ranking": _ranking(engine, period) if period else None,
    }


def _ranking(engine: "Engine", period: str, size: int = 5) -> dict[str, list[dict[str, Any]]]:
    result = Assessor(engine).assess(period, by="unit")
    scored = sorted(
        (o for o in result["objects"] if o["final"] is not None), key=lambda o: (-o["final"], o["code"])
    )
    row = [{"unit": o["code"], "name": o["name"], "score": o["final"]} for o in scored]
    return {"top": row[:size], "bottom": row[size:][-size:][::-1]}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
