"""Writing a batch of checked reports in one transaction (see intake.py).

On PostgreSQL each step below is one round trip whatever the batch's size:

1. **Look**: the batch's idempotency keys, in one query; the dedupe locks of the whole batch,
   in one statement with the keys sorted; the open cases near each report, in one search; an
   id for each case the batch may make.
2. **Decide**, in Python: each report is a replay (its key was seen before, or earlier in the
   batch), a duplicate of an open case, a duplicate of a case made earlier in the same batch, or
   a new case.
3. **Write**: the version bumps of the open cases repeated, by id; then the new cases, one
   INSERT a counter key in the keys' order, their numbers claimed inside it (numbering.py);
   then, one multi-row INSERT a table, the batch's units, reports, clocks and events (the new
   cases' first events, and those of the batch's duplicates of them).
4. **Events of duplicates of open cases**, which need the version their bump returned, with the
   notices, which need the numbers.

Every transaction takes its locks in one order (dedupe cells, then case rows by id, then
case-number counters by key), so two batches never wait on each other in a circle.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from itertools import groupby
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select

from gridcase.core.cases.events import INSERT_EVENT, bump, event_row
from gridcase.core.cases.evidence import Stored, Upload
from gridcase.core.cases.idempotency import same_request
from gridcase.core.db.fast import FastInsert, FastQuery, NumberedInsert, pipelined
from gridcase.core.db.models import Case, Outbox, Report, ReportContact
from gridcase.core.db.numbering import case_number
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.dedupe import cells, dedupe_rule, lock_cells, search_duplicates, within
from gridcase.core.intake.plan import NewCase, case_notices, plan_case
from gridcase.core.places.units import INSERT_CASE_UNIT, case_unit_rows

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.intake.quota import Quota
    from gridcase.core.people.actor import Actor

CASE, REPORT, OUTBOX, REPORT_CONTACT = (t.__table__ for t in (Case, Report, Outbox, ReportContact))

# Built once: the inserts go straight to the driver (core/db/fast.py) and the queries are
# constant statements with parameters, which skips SQLAlchemy's per-call construction work.
INSERT_CASE = FastInsert(CASE, returning_id=True)
INSERT_NUMBERED_CASES = NumberedInsert(FastInsert(CASE))
INSERT_REPORT = FastInsert(REPORT, returning_id=True)
INSERT_OUTBOX = FastInsert(OUTBOX)
_ANSWERED = select(
    REPORT.c.case_id,
    REPORT.c.duplicate,
    CASE.c.number,
    REPORT.c.id.label("report_id"),
    REPORT.c.token,
    REPORT.c.request_hash,
).join(CASE, CASE.c.id == REPORT.c.case_id)
BY_KEY = FastQuery(_ANSWERED.where(REPORT.c.idempotency_key == bindparam("key")))
BY_KEYS = FastQuery(  # a batch's keys in one statement
    _ANSWERED.add_columns(REPORT.c.idempotency_key.label("key")).where(
        REPORT.c.idempotency_key.in_(bindparam("keys", expanding=True))
    ),
    prepare=False,  # measured: its generic plan made PostgreSQL's time per intake triple in a minute
)


@dataclass(eq=False)
class Checked:
    """A report that passed every check made without the database (intake.check)."""

    r: dict[str, Any]  # the normalised report (intake.check_report)
    actor: "Actor"
    uploads: list[Upload]
    stored: list[Stored]
    key: str | None  # scoped to its caller (idempotency.scoped)
    digest: str | None  # of the request the key came with (idempotency.digest)
    located: dict[str, Any]
    out_of_grid: dict[str, Any] | None  # the 越界 rule to apply, if any
    quota: "Quota | None" = None  # the rate limit it counted against (quota.py)


def report_token() -> str:
    """A report's Open311 token: random, so that nobody finds another's report by counting."""
    return secrets.token_urlsafe(18)


@dataclass(eq=False)
class _Entry:
    """One report's way through the batch's transaction."""

    c: Checked
    outcome: dict[str, Any] | Exception | None = None
    component: dict[str, Any] | None = None
    earlier: Callable[[], list[dict[str, Any]]] | None = None  # the answer its key had before
    nearby: Callable[[], dict[str, Any] | None] | None = None  # the open case it repeats
    same_as: "_Entry | None" = None  # an earlier report of the batch with the same key
    repeats: dict[str, Any] | None = None  # the open case it duplicates
    joins: "_Entry | None" = None  # the batch's new case it duplicates
    joined: list["_Entry"] = field(default_factory=list)  # the batch's duplicates of its new case
    new: NewCase | None = None
    case_id: int | None = None
    number: str | None = None
    event: dict[str, Any] | None = None
    event_id: Callable[[], int] | None = None
    report_id: int | None = None
    token: str = field(default_factory=report_token)


# The fields of an entry that the batch's earlier steps set, read by the later ones: each states
# the step that set it, and fails loudly if the order of the steps is ever broken.


def _planned(e: _Entry) -> NewCase:
    """The new case entry `e` makes (set by `write_batch` from `plan_case`, for `_decide`'s news)."""
    if e.new is None:
        raise AssertionError("an entry's new case is planned before it is written")
    return e.new


def _case_of(e: _Entry) -> int:
    """The id of the case entry `e` made or repeats (set by `_write`)."""
    if e.case_id is None:
        raise AssertionError("an entry's case id is set when its case is written or bumped")
    return e.case_id


def _number_of(e: _Entry) -> str:
    """The number of the case entry `e` made or repeats (set by `_write`)."""
    if e.number is None:
        raise AssertionError("an entry's case number is set once its case is written")
    return e.number


def _repeated(e: _Entry) -> dict[str, Any]:
    """The open case entry `e` duplicates (set by `_decide`, for the entries of `repeats`)."""
    if e.repeats is None:
        raise AssertionError("only the entries found to repeat an open case are bumped")
    return e.repeats


def _event_of(e: _Entry) -> dict[str, Any]:
    """Entry `e`'s event row (set by `_gather_case_rows` or `_duplicate_event`)."""
    if e.event is None:
        raise AssertionError("an entry's event is made before it is inserted")
    return e.event


def _event_id_of(e: _Entry) -> int:
    """The id of entry `e`'s event (its reader set by `_send_events`)."""
    if e.event_id is None:
        raise AssertionError("an entry's event id is read only after its event was sent")
    return e.event_id()


def _nearby_of(e: _Entry) -> dict[str, Any] | None:
    """The open case entry `e` repeats, if any (its reader set by `_look`)."""
    if e.nearby is None:
        raise AssertionError("the open cases near every entry are looked up before the decision")
    return e.nearby()


def write_batch(
    engine: "Deployment", connection: Connection, checked: list[Checked], now: datetime
) -> list[dict[str, Any] | Exception]:
    """Each report's answer, in order ({case_id, number, duplicate, replay, event} or the
    GridcaseError of the report alone); committed when the caller's transaction is."""
    entries = [_Entry(c) for c in checked]
    live: list[_Entry] = []
    for e in entries:  # a component named by its code is looked up first, one statement each
        try:
            e.component = engine.places.find_component(connection, e.c.r)
            live.append(e)
        except GridcaseError as exc:
            e.outcome = exc
    reserved = _look(engine, connection, live, now)
    news, repeats = _decide(engine, live)
    for e in news:
        case_id = reserved.pop() if reserved else None
        e.new = plan_case(engine, connection, e.c, e.component, 1 + len(e.joined), now, case_id)
    bumped = _write(engine, connection, news, repeats, now) if news or repeats else {}
    notices = [
        row
        for e in live
        if e.case_id is not None
        for row in case_notices(engine, e.c, e.new, e.case_id, _number_of(e), now)
    ]
    if repeats or notices:  # step 4 (see the module's notes)
        with pipelined(connection):
            events = []
            for case_id, group in repeats.items():
                row = bumped[case_id]()
                for seq, e in enumerate(group, start=row["version"] - len(group) + 1):
                    e.event = _duplicate_event(e, seq, row["state"], now)
                    events.append(e)
            _send_events(connection, events)
            INSERT_OUTBOX.many(connection, notices)
    for e in live:
        if e.event is not None:
            event_id = _event_id_of(e)
            if e.c.uploads:
                engine.evidence.attach(connection, _case_of(e), event_id, e.c.uploads, e.c.stored, now)
    return [_answer(e) for e in entries]


def _write(
    engine: "Deployment",
    connection: Connection,
    news: list[_Entry],
    repeats: dict[int, list[_Entry]],
    now: datetime,
) -> dict[int, Callable[[], dict[str, Any]]]:
    """Step 3 (see the module's notes); returns the answers of the open cases' version bumps."""
    rows = _Rows()
    with pipelined(connection):
        bumped = {
            case_id: bump(connection, case_id, now, reports=len(group), events=len(group))
            for case_id, group in sorted(repeats.items())
        }
        for case_id, group in repeats.items():
            for e in group:
                e.case_id, e.number = case_id, _repeated(e)["number"]
                rows.reports.append(e)
        numbers = _send_new_cases(engine, connection, news)
        for e in news:
            _gather_case_rows(engine, e, now, rows)
        # each table once for the whole batch, after the cases its rows belong to
        INSERT_CASE_UNIT.many(connection, rows.units)
        report_ids = INSERT_REPORT.send_many(connection, [_report_row(e, now) for e in rows.reports])
        engine.limits.clocks.insert(connection, rows.clocks)
        _send_events(connection, rows.events)
    for e, report_id in zip(rows.reports, report_ids(), strict=True):
        e.report_id = report_id
    contacts = [{**e.c.r["contact"], "report_id": e.report_id} for e in rows.reports if e.c.r.get("contact")]
    if contacts:  # seldom given: a statement only when some report of the batch has one
        connection.execute(insert(REPORT_CONTACT), contacts)
    for e in news:
        e.number = numbers(e)
        for j in e.joined:
            j.number = e.number
    return bumped


def _look(engine: "Deployment", connection: Connection, live: list[_Entry], now: datetime) -> list[int]:
    """Send step 1 for every report (see the module's notes); returns the reserved case ids."""
    with pipelined(connection):
        lock_cells(connection, sorted({key for e in live for key in cells(engine, e.c.r)}))
        answered = _send_answered(connection, {e.c.key for e in live if e.c.key is not None})
        nearby = cache(search_duplicates(connection, engine, [e.c.r for e in live], now))  # read once
        for i, e in enumerate(live):
            e.earlier = partial(answered, e.c.key) if e.c.key is not None else None
            e.nearby = lambda i=i: nearby()[i]
        ids = INSERT_NUMBERED_CASES.reserve(connection, len(live))  # none where numbers come first
    return sorted(ids(), reverse=True)


def _send_answered(connection: Connection, keys: set[str]) -> Callable[[str], list[dict[str, Any]]]:
    """Send the lookup of what earlier requests with these idempotency keys were answered; the
    answer gives a key's (no row for a key not seen before)."""
    if not keys:
        return lambda key: []
    rows = cache(BY_KEYS.send(connection, {"keys": sorted(keys)}))
    return lambda key: [
        {name: value for name, value in row.items() if name != "key"} for row in rows() if row["key"] == key
    ]


def _decide(engine: "Deployment", live: list[_Entry]) -> tuple[list[_Entry], dict[int, list[_Entry]]]:
    """Step 2: the new cases, and the reports repeating each open case (by its id)."""
    first_with_key: dict[str, _Entry] = {}
    news: list[_Entry] = []
    repeats: dict[int, list[_Entry]] = {}
    for e in live:
        earlier = e.earlier() if e.earlier is not None else None
        open_case = _nearby_of(e)
        if e.c.key is not None:
            if e.c.key in first_with_key:  # a retry that arrived with its first try, or not
                first = first_with_key[e.c.key]
                e.outcome = same_request(e.c.key, first.c.digest, e.c.digest)
                if e.outcome is None:
                    e.same_as = first
                continue
            first_with_key[e.c.key] = e
            if earlier:
                e.outcome = replayed(earlier[0], e.c)
                continue
        if open_case is not None:
            e.repeats = open_case
            repeats.setdefault(open_case["id"], []).append(e)
        elif host := next((n for n in news if _repeats(engine, e, n)), None):
            e.joins = host
            host.joined.append(e)
        else:
            news.append(e)
    return news, repeats


def replayed(earlier: dict[str, Any], c: Checked) -> dict[str, Any] | GridcaseError:
    """Report `c`'s answer when its key was answered before (`earlier`, a row of BY_KEY): that
    answer again, or the refusal when the key came with another request."""
    if c.key is None:
        raise AssertionError("an earlier answer is found by the report's key: it has one")
    return answer_again(earlier, c.key, c.digest)


def answer_again(earlier: dict[str, Any], key: str, digest: str | None) -> dict[str, Any] | GridcaseError:
    """The answer key `key` was given (`earlier`, a row of BY_KEY) to a request with `digest`:
    that answer again, or the refusal when the key came with another request."""
    refusal = same_request(key, earlier["request_hash"], digest)
    if refusal is not None:
        return refusal
    return {**{k: v for k, v in earlier.items() if k != "request_hash"}, "replay": True}


def _repeats(engine: "Deployment", e: _Entry, new: _Entry) -> bool:
    """Whether report `e` repeats the case `new`, made earlier in the same batch: the rule of
    the open cases in the database (dedupe.py), for a case reported this moment."""
    r, other = e.c.r, new.c.r
    if (r["category"], r["info"]["kind"]) != (other["category"], other["info"]["kind"]):
        return False
    radius, window = dedupe_rule(engine, r["info"])
    workflow = engine.catalogue.workflow_for(other)
    return (
        radius > 0
        and window.total_seconds() > 0
        and workflow.kind_of(workflow.initial) == "open"
        and within(engine, r, other)
    )


def _send_new_cases(
    engine: "Deployment", connection: Connection, news: list[_Entry]
) -> Callable[[_Entry], str]:
    """Send the batch's new cases (inside the write step's pipeline), in the order of their
    counters' keys; the answer reads an entry's number. Each sets its entry's `case_id`."""
    sent: list[Callable[[], dict[int, str]]] = []
    claimed: dict[int, str] = {}  # numbers claimed before their cases' INSERTs
    for _, grouped in groupby(
        sorted(news, key=lambda e: _planned(e).counter), key=lambda e: _planned(e).counter
    ):
        group = list(grouped)
        late = [(new, new.late) for new in map(_planned, group) if new.late is not None]
        if late:  # one INSERT for the lot, its numbers claimed inside it (numbering.py)
            rows = [(_reserved(new), new.row) for new, _ in late]
            sent.append(INSERT_NUMBERED_CASES.send_many(connection, rows, late[0][1]))
        for e in group:
            new = _planned(e)
            if new.late is not None:
                e.case_id = _reserved(new)
            else:  # SQLite, or a format the database cannot build: the number first
                number = case_number(connection, engine.city.codes.case_number, new.fields)
                case_id = INSERT_CASE(connection, {**new.row, "number": number})
                if case_id is None:
                    raise AssertionError("INSERT_CASE inserts returning_id: it answers the new case's id")
                e.case_id = case_id
                claimed[case_id] = number
    numbers = cache(lambda: {**claimed, **{i: n for read in sent for i, n in read().items()}})
    return lambda e: numbers()[_case_of(e)]


def _reserved(new: NewCase) -> int:
    """The id reserved for a case whose number the database claims inside its INSERT."""
    if new.case_id is None:
        raise AssertionError("a case numbered inside its INSERT has its id reserved (PostgreSQL)")
    return new.case_id


def _gather_case_rows(engine: "Deployment", e: _Entry, now: datetime, rows: "_Rows") -> None:
    """Add the rows that belong to new case `e` (and to its duplicates in the batch) to `rows`."""
    new, r = _planned(e), e.c.r
    case_id, info, workflow = _case_of(e), r["info"], engine.catalogue.workflow_for(r)
    if new.routing:
        rows.units += case_unit_rows(case_id, "responsible", new.routing["units"], now)
    rows.reports.append(e)
    facts = {
        "class_code": r["category"], "major_code": info["major"]["code"], "kind": info["kind"],
        "standard": r.get("standard"), "area_class": e.c.located.get("area_class"), "urgent": r["urgent"],
        "taxonomy_version": engine.catalogue.taxonomy_version,
    }  # fmt: skip
    clocks, deadlines = engine.limits.clocks.plan(case_id, workflow.starts, now, facts, owner=new.owner)
    channel = engine.catalogue.channels[r["channel"]]
    if channel.get("starts"):  # 民生110: the reply clock, owned by the unit first contacted (首问负责)
        more, changes = engine.limits.clocks.plan(
            case_id, channel["starts"], now, facts, owner=channel.get("first_contact", new.owner)
        )
        clocks, deadlines = clocks + more, deadlines + changes
    rows.clocks += clocks
    payload = {"channel": r["channel"], "grid": e.c.located["grid"]}
    if r.get("classified"):
        payload["classified"] = r["classified"]
    if r.get("item"):
        payload["item"] = r["item"]
    e.event = event_row(
        case_id, 1, "report", None, workflow.initial, e.c.actor, now, payload, deadlines=deadlines,
        unit=new.owner,
    )  # fmt: skip
    rows.events.append(e)
    for seq, j in enumerate(e.joined, start=2):
        j.case_id = case_id
        rows.reports.append(j)
        j.event = _duplicate_event(j, seq, workflow.initial, now)
        rows.events.append(j)


@dataclass
class _Rows:
    """The rows of the batch's new cases and duplicates, gathered to be inserted a table at once."""

    units: list[dict[str, Any]] = field(default_factory=list)
    reports: list[_Entry] = field(default_factory=list)  # the entries whose report to insert
    clocks: list[dict[str, Any]] = field(default_factory=list)
    events: list[_Entry] = field(default_factory=list)  # the entries whose `event` to insert


def _send_events(connection: Connection, entries: list[_Entry]) -> None:
    """Insert the entries' events in one statement; each entry's `event_id` reads its own id."""
    ids = cache(INSERT_EVENT.send_many(connection, [_event_of(e) for e in entries]))  # read once
    for i, e in enumerate(entries):
        e.event_id = lambda i=i: ids()[i]


def _report_row(e: _Entry, now: datetime) -> dict[str, Any]:
    """Report `e`'s row: a duplicate unless its entry made a new case."""
    r = e.c.r
    return {
        "case_id": e.case_id,
        "duplicate": e.new is None,
        "channel": r["channel"],
        "reporter_id": e.c.actor.id,
        "idempotency_key": e.c.key,
        "request_hash": e.c.digest,
        "description": r.get("description"),
        "lon": r["lon"],
        "lat": r["lat"],
        "crs": r["crs"],
        "received_at": now,
        "made_at": r["made_at"],
        "token": e.token,
        "media_url": r.get("media_url"),
    }


def _duplicate_event(e: _Entry, seq: int, state: str, now: datetime) -> dict[str, Any]:
    """The event of a report that repeats an open case: it keeps the case's state."""
    r = e.c.r
    payload = {"channel": r["channel"], "point": [r["lon"], r["lat"]], "description": r["description"]}
    return event_row(_case_of(e), seq, "duplicate_report", state, state, e.c.actor, now, payload)


def _answer(e: _Entry) -> dict[str, Any] | Exception:
    if e.same_as is not None:
        first = _answer(e.same_as)
        if isinstance(first, Exception):
            return first
        return {
            "case_id": first["case_id"],
            "number": first["number"],
            "duplicate": first["duplicate"],
            "report_id": first["report_id"],
            "token": first["token"],
            "replay": True,
        }
    if e.outcome is not None:
        return e.outcome
    return {
        "case_id": e.case_id,
        "number": e.number,
        "duplicate": e.new is None,
        "report_id": e.report_id,
        "token": e.token,
        "replay": False,
        "event": e.event,
    }
