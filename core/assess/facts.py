"""Case facts compiled to SQL: every count indicator of a period is one conditional aggregate, and
the indicators of one source (clock runs, events, reports) share one GROUP BY query.

A fact (assessment.facts in the profile) counts one of:

- `clock` runs of a stage, by `measure`: `due`, `done` (stopped by a transition in `by`),
  `on_time` (done by the deadline: pauses and approved extensions have already moved it),
  `late`, `overdue_open` (past the deadline and still open at the period's end) or `started`.
  Which runs are due is the `due` rule; `attempts: last` ignores runs a later run replaced.
- `event`s: transitions that happened in the period, each or once per case (`distinct`), with
  `unless` only those no later transition of the listed ones answered by the cutoff, and with
  `answers` only those whose payload gave one of the listed answers (a survey's satisfaction).
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
    union_all,
)
from sqlalchemy.sql.util import ClauseAdapter

from gridcase.core.assess.periods import Period
from gridcase.core.context import CUTOFF, PERIOD_END, PERIOD_START
from gridcase.core.db.models import Case, CaseEvent, Clock, Report

CLOCK, CASE, EVENT, REPORT = (t.__table__ for t in (Clock, Case, CaseEvent, Report))
EARLIER_EVENT = EVENT.alias("earlier")
SOURCES = ("clock", "event", "report")
# The period's bounds are bound parameters, so each query is built (and compiled) once and reused
START, END = PERIOD_START, PERIOD_END
RUN_COLUMNS = [
    CLOCK.c[name]
    for name in (
        "case_id",
        "stage",
        "owner",
        "actor_id",
        "status",
        "started_at",
        "paused_at",
        "stopped_at",
        "deadline",
        "stopped_by",
        "superseded",
        "extended",
    )
]
OBJECTS = ("unit", "grid", "person", "channel", "class")
DEFAULT_COUNTING = {"due": "done_or_overdue", "attempts": "last", "extended_on_time": True}

_SOURCE_TABLE = {"clock": CLOCK, "event": EVENT, "report": REPORT}
_KEYS: dict[str, dict[str, tuple[ColumnElement[Any], ...] | None]] = {
    "clock": {"unit": (CLOCK.c.owner,), "person": (CLOCK.c.actor_id,)},
    "event": {"unit": (EVENT.c.unit,), "person": (EVENT.c.actor_id,)},
    "report": {"unit": None, "person": (REPORT.c.reporter_id,), "channel": (REPORT.c.channel,)},
}
# which of the clock windows (stopped in the period, open now, open at its end) each measure reads
_WINDOWS = {
    "done": {0},
    "on_time": {0},
    "late": {0},
    "overdue_open": {1, 2},
    "due": {0, 1, 2},
    "started": {0, 1, 2},
}
_CASE_KEYS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "grid": (CASE.c.grid,),
    "channel": (CASE.c.channel,),
    "class": (CASE.c.kind, CASE.c.class_code),
}


def key_columns(source: str, kind: str) -> tuple[ColumnElement[Any], ...] | None:
    """The columns that name an object of `kind` in rows of `source` (None: not attributable)."""
    keys = _KEYS[source]
    return keys[kind] if kind in keys else _CASE_KEYS[kind]


def attributed_key_columns(source: str, kind: str) -> tuple[ColumnElement[Any], ...]:
    """`key_columns` where the caller has checked that `source` is attributable to `kind`."""
    columns = key_columns(source, kind)
    assert columns is not None, f"{source} rows are not attributable to a {kind}"
    return columns


@dataclass(frozen=True)
class Count:
    """One counted column: an indicator's fact, filters and weighting."""

    code: str
    fact: dict[str, Any]
    where: dict[str, Any] = field(default_factory=dict)
    weighted: bool = False

    @property
    def source(self) -> str:
        return next(s for s in SOURCES if s in self.fact)


class FactSQL:
    """Builds the conditions of facts for one profile."""

    def __init__(self, assessment: dict[str, Any], channels: list[dict], multipliers: dict[tuple, float]):
        self.counting = {**DEFAULT_COUNTING, **assessment.get("counting", {})}
        self.channel_kinds: dict[str, list[str]] = {}
        for channel in channels:
            self.channel_kinds.setdefault(channel["kind"], []).append(channel["code"])
        self._queries: dict[tuple, Select] = {}
        self.weighted = bool(multipliers)
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

    def channel_terms(self, column: Any, where: dict[str, Any]) -> list[ColumnElement]:
        terms = []
        if "channels" in where:
            terms.append(column.in_(where["channels"]))
        if "channel_kinds" in where:
            codes = [c for kind in where["channel_kinds"] for c in self.channel_kinds.get(kind, [])]
            terms.append(column.in_(codes) if codes else false())
        return terms

    def case_filter(self, where: dict[str, Any], channel: Any = CASE.c.channel) -> ColumnElement:
        terms = self.channel_terms(channel, where)
        if "kinds" in where:
            terms.append(CASE.c.kind.in_(where["kinds"]))
        if "classes" in where:
            terms.append(
                or_(CASE.c.class_code.in_(where["classes"]), CASE.c.major_code.in_(where["classes"]))
            )
        if "urgent" in where:
            terms.append(CASE.c.urgent.is_(bool(where["urgent"])))
        return and_(true(), *terms)

    def clock_population(
        self, fact: dict[str, Any], narrow: bool = True, superseded_out: bool = False
    ) -> ColumnElement:
        """The runs of the fact's stage its measures choose from. A done-or-overdue measure
        already says when its runs stopped, so only `narrow` (a WHERE) needs the window."""
        s, e, rule = START, END, self.rule(fact, "due")
        c = CLOCK.c
        window: ColumnElement[bool]
        if rule == "done_or_overdue" and not narrow:
            window = true()
        elif rule == "done_or_overdue":
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
        if self.rule(fact, "attempts") == "last" and not superseded_out:
            terms.append(c.superseded.is_(False))
        return and_(*terms)

    def clock_measure(self, fact: dict[str, Any]) -> ColumnElement:
        s, e, rule, c, cutoff = START, END, self.rule(fact, "due"), CLOCK.c, CUTOFF
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

    def condition(self, count: Count, superseded_out: bool = False) -> ColumnElement:
        """Whether a row of the count's source counts (`superseded_out`: the rows hold no
        superseded runs already)."""
        fact, where = count.fact, {**count.fact.get("where", {}), **count.where}
        source = count.source
        if source == "clock":
            population = self.clock_population(fact, narrow=False, superseded_out=superseded_out)
            own = and_(population, self.clock_measure(fact))
        elif source == "event":
            own = and_(EVENT.c.transition.in_(fact["event"]), EVENT.c.at >= START, EVENT.c.at < END)
            for name, answers in sorted((fact.get("answers") or {}).items()):
                own = and_(own, EVENT.c.payload[name].as_string().in_(answers))
            if fact.get("unless"):
                # still outstanding: nothing put it right by the cutoff (和平's 代整治 owner who
                # has not paid for the takeover)
                own = and_(
                    own,
                    ~exists().where(
                        EARLIER_EVENT.c.case_id == EVENT.c.case_id,
                        EARLIER_EVENT.c.transition.in_(fact["unless"]),
                        EARLIER_EVENT.c.at >= EVENT.c.at,
                        EARLIER_EVENT.c.at <= CUTOFF,
                    ),
                )
        else:
            own = and_(REPORT.c.received_at >= START, REPORT.c.received_at < END)
            if fact["report"] == "valid":
                own = and_(
                    own,
                    REPORT.c.duplicate.is_(False),
                    exists().where(
                        EARLIER_EVENT.c.case_id == REPORT.c.case_id,
                        EARLIER_EVENT.c.transition.in_(fact["by"]),
                    ),
                )
        if not where:
            return own
        # a report's own channel, not its case's: a cadre's report that joined an earlier case
        # still counts toward the cadre's quota
        channel = REPORT.c.channel if source == "report" else CASE.c.channel
        return and_(own, self.case_filter(where, channel))

    def source_filter(self, source: str, counts: list[Count]) -> ColumnElement:
        """A WHERE that narrows the source to rows any of `counts` may count (uses the indexes)."""
        if source == "clock":
            return or_(*[self.clock_population(c.fact) for c in counts])
        if source == "event":
            transitions = sorted({t for c in counts for t in c.fact["event"]})
            return and_(EVENT.c.transition.in_(transitions), EVENT.c.at >= START, EVENT.c.at < END)
        return and_(REPORT.c.received_at >= START, REPORT.c.received_at < END)

    def aggregate(self, count: Count, superseded_out: bool = False) -> ColumnElement:
        # FILTER (WHERE …) aggregates: both databases evaluate them faster than SUM(CASE …)
        condition = self.condition(count, superseded_out)
        if count.fact.get("distinct") == "case":
            return func.count(distinct(EVENT.c.case_id)).filter(condition)
        if count.weighted and self.weighted:
            return func.coalesce(func.sum(self.weight).filter(condition), 0)
        return func.count().filter(condition)

    # -- queries --------------------------------------------------------------------------

    def _rows(self, source: str, counts: list[Count], with_case: bool = True) -> tuple[Any, Any, list]:
        """(FROM, adapt, WHERE) for the source's rows these counts may count.

        Clocks, when every count is done-or-overdue, are read as the runs stopped in the period,
        still open, or open at its end: three disjoint ranges of the stopped_at index, which both
        databases read far faster than one OR over the whole table. `adapt` points expressions
        written against the clock table at those runs. Without `with_case` the runs are not
        joined to their cases (nothing counted needs them).
        """
        table = _SOURCE_TABLE[source]
        if source != "clock" or any(self.rule(c.fact, "due") != "done_or_overdue" for c in counts):
            where = [self.source_filter(source, counts)]
            return table.join(CASE, CASE.c.id == table.c.case_id), (lambda expression: expression), where
        s, e, c = START, END, CLOCK.c
        stages: ColumnElement[bool] = c.stage.in_(sorted({count.fact["clock"] for count in counts}))
        if self.only_last_runs(source, counts):
            stages = and_(stages, c.superseded.is_(False))
        windows = [
            and_(c.stopped_at >= s, c.stopped_at < e),
            and_(c.stopped_at.is_(None), c.started_at < e),
            and_(c.stopped_at >= e, c.started_at < e),
        ]
        needed = set().union(*(_WINDOWS[count.fact["measure"]] for count in counts))
        windows = [window for i, window in enumerate(windows) if i in needed]
        runs = union_all(*[select(*RUN_COLUMNS).where(stages, window) for window in windows]).cte("runs")
        if not with_case:
            return runs, ClauseAdapter(runs).traverse, []
        # materialized, so no planner trades the index ranges for a scan of every case
        runs = runs.prefix_with("MATERIALIZED")
        return runs.join(CASE, CASE.c.id == runs.c.case_id), ClauseAdapter(runs).traverse, []

    def only_last_runs(self, source: str, counts: list[Count]) -> bool:
        """Whether every count ignores superseded runs, so the rows can leave them out once."""
        return source == "clock" and all(self.rule(c.fact, "attempts") == "last" for c in counts)

    def counts_query(self, source: str, kind: str, counts: list[Count]) -> Select:
        """One row per object of `kind` with a column per count (built once, then reused)."""
        key = (source, kind, tuple(c.code for c in counts))
        if key not in self._queries:
            self._queries[key] = self._counts_query(source, kind, counts)
        return self._queries[key]

    def _counts_query(self, source: str, kind: str, counts: list[Count]) -> Select:
        with_case = kind in _CASE_KEYS or any(
            c.where or c.fact.get("where") or (c.weighted and self.weighted) for c in counts
        )
        rows, adapt, where = self._rows(source, counts, with_case)
        keys = [adapt(k) for k in attributed_key_columns(source, kind)]
        out = self.only_last_runs(source, counts) and not where  # the runs are filtered already
        columns = [adapt(self.aggregate(c, out)).label(f"c{i}") for i, c in enumerate(counts)]
        return (
            select(*[k.label(f"k{i}") for i, k in enumerate(keys)], *columns)
            .select_from(rows)
            .where(*where)
            .group_by(*keys)
        )

    def rows_query(self, count: Count, kind: str, keys: set[tuple] | None = None) -> Select:
        """The rows behind one count, with the key of the object each counts for (k0, k1 …);
        only those of `keys` when given."""
        source = count.source
        details = {
            "clock": (
                CLOCK.c.stage,
                CLOCK.c.started_at,
                CLOCK.c.deadline,
                CLOCK.c.stopped_at,
                CLOCK.c.stopped_by,
                CLOCK.c.status,
                CLOCK.c.extended,
                CLOCK.c.paused_at,
            ),
            "event": (EVENT.c.transition, EVENT.c.at, EVENT.c.reason, EVENT.c.actor_id),
            "report": (REPORT.c.received_at, REPORT.c.channel, REPORT.c.duplicate),
        }[source]
        rows, adapt, where = self._rows(source, [count])
        weight = self.weight if count.weighted else literal(1.0)
        columns = [adapt(k) for k in attributed_key_columns(source, kind)]
        if keys is not None:
            where.append(
                tuple_(*columns).in_(sorted(keys))
                if len(columns) > 1
                else columns[0].in_([k[0] for k in keys])
            )
        return (
            select(
                CASE.c.id.label("case_id"),
                CASE.c.number,
                CASE.c.kind,
                CASE.c.class_code,
                weight.label("weight"),
                *[adapt(d) for d in details],
                *[k.label(f"k{i}") for i, k in enumerate(columns)],
            )
            .select_from(rows)
            .where(*where, adapt(self.condition(count)))
            .order_by(CASE.c.id)
        )


def params(period: Period, now: datetime) -> dict[str, datetime]:
    """The bound values of a period's queries; a running period counts overdue by now."""
    return {"period_start": period.start, "period_end": period.end, "cutoff": min(period.end, now)}


def run_counts(
    connection: Connection, sql: FactSQL, kind: str, counts: list[Count], period: Period, now: datetime
) -> dict[tuple, dict[str, float]]:
    """{object key: {count code: value}} for every count attributable to objects of `kind`."""
    out: dict[tuple, dict[str, float]] = {}
    for source in SOURCES:
        mine = [c for c in counts if c.source == source and key_columns(source, kind) is not None]
        if not mine:
            continue
        for row in connection.execute(sql.counts_query(source, kind, mine), params(period, now)):
            width = len(attributed_key_columns(source, kind))
            key = tuple(row[:width])
            values = out.setdefault(key, {})
            for i, count in enumerate(mine):
                value = row[width + i] or 0
                values[count.code] = int(value) if float(value).is_integer() else float(value)
    return out
