"""Case facts compiled to SQL: every count indicator of a period is one conditional aggregate, and
the indicators of one source (clock runs, events, reports) share one GROUP BY query.

A fact (assessment.facts in the profile) counts one of:

- `clock` runs of a stage, by `measure`: `due`, `done` (stopped by a transition in `by`),
  `on_time` (done by the deadline: pauses and approved extensions have already moved it),
  `late`, `overdue_open` (past the deadline and still open at the period's end) or `started`.
  Which runs are due is the `due` rule; `attempts: last` ignores runs a later run replaced.
- `event`s: transitions that happened in the period, each or once per case (`distinct`).
- `report`s received in the period, all or only `valid` ones (not a duplicate, and the case went
  through a transition in `by`).

The same conditions select the rows behind a number, so every count explains itself.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
)

from ..db.models import Case, CaseEvent, Clock, Report
from .periods import Period

CLOCK, CASE, EVENT, REPORT = (t.__table__ for t in (Clock, Case, CaseEvent, Report))
EARLIER_EVENT = EVENT.alias("earlier")
SOURCES = ("clock", "event", "report")
OBJECTS = ("unit", "grid", "person", "channel", "class")
DEFAULT_COUNTING = {"due": "done_or_overdue", "attempts": "last", "extended_on_time": True}

_SOURCE_TABLE = {"clock": CLOCK, "event": EVENT, "report": REPORT}
_KEYS = {
    "clock": {"unit": (CLOCK.c.owner,), "person": (CLOCK.c.actor_id,)},
    "event": {"unit": (EVENT.c.unit,), "person": (EVENT.c.actor_id,)},
    "report": {"unit": None, "person": (REPORT.c.reporter_id,), "channel": (REPORT.c.channel,)},
}
_CASE_KEYS = {"grid": (CASE.c.grid,), "channel": (CASE.c.channel,), "class": (CASE.c.kind, CASE.c.class_code)}


def source_of(fact: dict[str, Any]) -> str:
    return next(s for s in SOURCES if s in fact)


def key_columns(source: str, kind: str) -> tuple | None:
    """The columns that name an object of `kind` in rows of `source` (None: not attributable)."""
    keys = _KEYS[source]
    return keys[kind] if kind in keys else _CASE_KEYS[kind]


@dataclass(frozen=True)
class Count:
    """One counted column: an indicator's fact, filters and weighting."""

    code: str
    fact: dict[str, Any]
    where: dict[str, Any] = field(default_factory=dict)
    weighted: bool = False

    @property
    def source(self) -> str:
        return source_of(self.fact)


class FactSQL:
    """Builds the conditions of facts for one profile."""

    def __init__(self, assessment: dict[str, Any], channels: list[dict], multipliers: dict[tuple, float]):
        self.counting = {**DEFAULT_COUNTING, **assessment.get("counting", {})}
        self.channel_kinds: dict[str, list[str]] = {}
        for channel in channels:
            self.channel_kinds.setdefault(channel["kind"], []).append(channel["code"])
        self.weight = (
            case(
                *[
                    (and_(CASE.c.kind == kind, CASE.c.class_code == code), literal(float(m)))
                    for (kind, code), m in sorted(multipliers.items())
                ],
                else_=literal(1.0),
            )
            if multipliers
            else literal(1.0)
        )

    # -- conditions ---------------------------------------------------------------------

    def rule(self, fact: dict[str, Any], name: str) -> Any:
        return fact.get(name, self.counting[name])

    def case_filter(self, where: dict[str, Any]) -> ColumnElement:
        terms = []
        if "channels" in where:
            terms.append(CASE.c.channel.in_(where["channels"]))
        if "channel_kinds" in where:
            codes = [c for kind in where["channel_kinds"] for c in self.channel_kinds.get(kind, [])]
            terms.append(CASE.c.channel.in_(codes) if codes else false())
        if "kinds" in where:
            terms.append(CASE.c.kind.in_(where["kinds"]))
        if "classes" in where:
            terms.append(
                or_(CASE.c.class_code.in_(where["classes"]), CASE.c.major_code.in_(where["classes"]))
            )
        if "urgent" in where:
            terms.append(CASE.c.urgent.is_(bool(where["urgent"])))
        return and_(true(), *terms)

    def clock_population(self, fact: dict[str, Any], period: Period) -> ColumnElement:
        """The runs of the fact's stage its measures choose from."""
        s, e, rule = period.start, period.end, self.rule(fact, "due")
        c = CLOCK.c
        if rule == "done_or_overdue":
            if fact["measure"] == "started":
                window = and_(c.started_at >= s, c.started_at < e)
            else:
                window = or_(
                    and_(c.stopped_at >= s, c.stopped_at < e),
                    and_(c.stopped_at.is_(None), c.started_at < e),
                    and_(c.stopped_at >= e, c.started_at < e),
                )
        elif rule == "deadline_in_period":
            window = and_(c.deadline >= s, c.deadline < e)
        else:
            window = and_(c.started_at >= s, c.started_at < e)
        terms = [c.stage == fact["clock"], window]
        if self.rule(fact, "attempts") == "last":
            terms.append(c.superseded.is_(False))
        return and_(*terms)

    def clock_measure(self, fact: dict[str, Any], period: Period, now: datetime) -> ColumnElement:
        s, e, rule, c = period.start, period.end, self.rule(fact, "due"), CLOCK.c
        cutoff = min(e, now)  # a period still running: overdue means overdue by now
        completed = c.stopped_by.in_(fact["by"])
        in_time = or_(c.deadline.is_(None), c.stopped_at <= c.deadline)
        if not self.rule(fact, "extended_on_time"):
            in_time = and_(in_time, c.extended == 0)
        if rule == "done_or_overdue":
            done = and_(completed, c.stopped_at >= s, c.stopped_at < e)
            overdue = and_(
                c.started_at < e,
                c.deadline < cutoff,
                or_(c.stopped_at.is_(None), c.stopped_at >= e),
                or_(c.paused_at.is_(None), c.paused_at >= e),  # shelved (挂账) at the end: not overdue
            )
            due = or_(done, overdue)
        else:  # a cohort: the runs whose deadline (or start) fell in the period, however they ended
            abandoned = and_(c.stopped_by.is_not(None), not_(completed))
            due = not_(abandoned)
            done = completed
            overdue = and_(c.stopped_at.is_(None), c.status != "paused", c.deadline < cutoff)
        measures = {
            "due": due,
            "done": done,
            "on_time": and_(done, in_time),
            "late": and_(done, not_(in_time)),
            "overdue_open": overdue,
            "started": and_(c.started_at >= s, c.started_at < e),
        }
        return measures[fact["measure"]]

    def condition(self, count: Count, period: Period, now: datetime) -> ColumnElement:
        """Whether a row of the count's source counts."""
        fact, where = count.fact, {**count.fact.get("where", {}), **count.where}
        source = count.source
        if source == "clock":
            own = and_(self.clock_population(fact, period), self.clock_measure(fact, period, now))
        elif source == "event":
            own = and_(
                EVENT.c.transition.in_(fact["event"]), EVENT.c.at >= period.start, EVENT.c.at < period.end
            )
        else:
            own = and_(REPORT.c.received_at >= period.start, REPORT.c.received_at < period.end)
            if fact["report"] == "valid":
                own = and_(
                    own,
                    REPORT.c.duplicate.is_(False),
                    exists().where(
                        EARLIER_EVENT.c.case_id == REPORT.c.case_id,
                        EARLIER_EVENT.c.transition.in_(fact["by"]),
                    ),
                )
        return and_(own, self.case_filter(where)) if where else own

    def source_filter(self, source: str, counts: list[Count], period: Period) -> ColumnElement:
        """A WHERE that narrows the source to rows any of `counts` may count (uses the indexes)."""
        if source == "clock":
            return or_(*[self.clock_population(c.fact, period) for c in counts])
        if source == "event":
            transitions = sorted({t for c in counts for t in c.fact["event"]})
            return and_(
                EVENT.c.transition.in_(transitions), EVENT.c.at >= period.start, EVENT.c.at < period.end
            )
        return and_(REPORT.c.received_at >= period.start, REPORT.c.received_at < period.end)

    def aggregate(self, count: Count, period: Period, now: datetime) -> ColumnElement:
        condition = self.condition(count, period, now)
        if count.fact.get("distinct") == "case":
            return func.count(distinct(case((condition, EVENT.c.case_id), else_=None)))
        weight = self.weight if count.weighted else literal(1)
        return func.coalesce(func.sum(case((condition, weight), else_=0)), 0)

    # -- queries --------------------------------------------------------------------------

    def counts_query(
        self, source: str, kind: str, counts: list[Count], period: Period, now: datetime
    ) -> Select:
        """One row per object of `kind` with a column per count."""
        keys = key_columns(source, kind)
        table = _SOURCE_TABLE[source]
        columns = [self.aggregate(c, period, now).label(f"c{i}") for i, c in enumerate(counts)]
        return (
            select(*[k.label(f"k{i}") for i, k in enumerate(keys)], *columns)
            .select_from(table.join(CASE, CASE.c.id == table.c.case_id))
            .where(self.source_filter(source, counts, period))
            .group_by(*keys)
        )

    def rows_query(
        self, count: Count, period: Period, now: datetime, kind: str, keys: set[tuple] | None = None
    ) -> Select:
        """The rows behind one count, with the key of the object each counts for (k0, k1 …);
        only those of `keys` when given."""
        source, table = count.source, _SOURCE_TABLE[count.source]
        details = {
            "clock": (
                CLOCK.c.stage, CLOCK.c.started_at, CLOCK.c.deadline, CLOCK.c.stopped_at, CLOCK.c.stopped_by,
                CLOCK.c.status, CLOCK.c.extended, CLOCK.c.paused_at,
            ),
            "event": (EVENT.c.transition, EVENT.c.at, EVENT.c.reason, EVENT.c.actor_id),
            "report": (REPORT.c.received_at, REPORT.c.channel, REPORT.c.duplicate),
        }[source]  # fmt: skip
        weight = self.weight if count.weighted else literal(1.0)
        columns = key_columns(source, kind)
        query = (
            select(
                CASE.c.id.label("case_id"),
                CASE.c.number,
                CASE.c.kind,
                CASE.c.class_code,
                weight.label("weight"),
                *details,
                *[k.label(f"k{i}") for i, k in enumerate(columns)],
            )  # fmt: skip
            .select_from(table.join(CASE, CASE.c.id == table.c.case_id))
            .where(self.source_filter(source, [count], period), self.condition(count, period, now))
            .order_by(CASE.c.id)
        )
        if keys is not None:
            query = query.where(
                tuple_(*columns).in_(sorted(keys))
                if len(columns) > 1
                else columns[0].in_([k[0] for k in keys])
            )
        return query


def run_counts(
    connection: Connection, sql: FactSQL, kind: str, counts: list[Count], period: Period, now: datetime
) -> dict[tuple, dict[str, float]]:
    """{object key: {count code: value}} for every count attributable to objects of `kind`."""
    out: dict[tuple, dict[str, float]] = {}
    for source in SOURCES:
        mine = [c for c in counts if c.source == source and key_columns(source, kind) is not None]
        if not mine:
            continue
        for row in connection.execute(sql.counts_query(source, kind, mine, period, now)):
            width = len(key_columns(source, kind))
            key = tuple(row[:width])
            values = out.setdefault(key, {})
            for i, count in enumerate(mine):
                value = row[width + i] or 0
                values[count.code] = int(value) if float(value).is_integer() else float(value)
    return out
