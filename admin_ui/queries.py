"""Finding the few open cases among a city's millions, fast on both databases."""

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql.util import ClauseAdapter

from gridcase.core.cases import scope
from gridcase.core.db.models import Case, CaseUnit, Clock, Report, ReportContact
from gridcase.core.people.actor import Actor

CASE, CASE_UNIT, CLOCK = Case.__table__, CaseUnit.__table__, Clock.__table__
REPORT, CONTACT = Report.__table__, ReportContact.__table__


def open_states(engine):
    """`state IN (the open states of every workflow)`: see in_states."""
    states = {
        code for w in engine.catalogue.workflows.values() for code, s in w.states.items() if s.kind == "open"
    }
    return in_states(engine, sorted(states))


def in_states(engine, states: list[str]):
    """`state IN (states)`, for states few cases are in. Most of a city's cases are closed, so open
    ones must be found through the `state` index. PostgreSQL's statistics say so; SQLite's do not
    (it walked a million cases in id order), so the states are written into the SQL, SQLite is
    told the condition is rare (`likelihood`), and ordering by `id + 0` keeps either from
    preferring the id order."""
    condition = CASE.c.state.in_(bindparam("states", states, expanding=True, literal_execute=True))
    if engine.db.dialect.name == "sqlite":
        return func.likelihood(condition, literal_column("0.001"))
    return condition


def newest_open(engine, actor: Actor, limit: int, *conditions):
    """The ids of the newest open cases the actor sees, by id alone (the state index covers it),
    for an outer query to fetch their details."""
    query = (
        select(CASE.c.id)
        .where(open_states(engine), scope.case_filter(engine, actor, few=True), *conditions)
        .order_by((CASE.c.id + 0).desc())
    )
    return query.limit(limit).scalar_subquery()


def queue_states(engine, actor: Actor) -> dict[str, list[str]]:
    """Per workflow, the open states where one of the person's roles has a step: their queue
    (intake, filing, dispatch, signing, check…). Closed cases are never on a to-do list."""
    found: dict[str, list[str]] = {}
    for code, workflow in engine.catalogue.workflows.items():
        states = [
            s
            for s, state in workflow.states.items()
            if state.kind == "open" and workflow.available(s, actor.roles)
        ]
        if states:
            found[code] = states
    return found


def in_queue(engine, states: dict[str, list[str]]) -> ColumnElement:
    """The cases in `states` (per workflow), through the state index (see in_states). A state's
    code that another workflow has too, where the person has no step, needs the workflow as well."""
    codes = sorted({s for chosen in states.values() for s in chosen})
    if not codes:
        return false()
    condition = in_states(engine, codes)
    workflows = engine.catalogue.workflows
    shared = any(
        s in w.states and s not in states.get(code, ()) for code, w in workflows.items() for s in codes
    )
    if shared:
        by_workflow = [and_(CASE.c.workflow == w, CASE.c.state.in_(chosen)) for w, chosen in states.items()]
        condition = and_(condition, or_(*by_workflow))
    return condition


def nearest_deadline():
    """The case's earliest running deadline: past for a red case, so ordering by it puts the
    overdue first and then the rest by when they fall due (a case with no running clock last)."""
    running = and_(CLOCK.c.case_id == CASE.c.id, CLOCK.c.status == "running")
    return select(func.min(CLOCK.c.deadline)).where(running).scalar_subquery()


def matching(text: str, phones: bool) -> ColumnElement:
    """Cases whose number, address or description holds `text`, or, when it is digits and the
    person reads callers' contacts unmasked (`phones`), whose caller's phone does (a report's
    contact: the hotline's caller, Open311's phone). Someone who sees a phone masked must not
    learn it by searching for it."""
    terms = [
        column.contains(text, autoescape=True)
        for column in (CASE.c.number, CASE.c.address, CASE.c.description)
    ]
    if phones and text.isdigit():
        # OFFSET 0 keeps it a lookup per case through the report's case index: without it
        # PostgreSQL reads and hashes the phones of every report (a third of a city's reports)
        phone = (
            select(CONTACT.c.report_id)
            .where(
                REPORT.c.case_id == CASE.c.id,
                CONTACT.c.report_id == REPORT.c.id,
                CONTACT.c.phone.contains(text, autoescape=True),
            )
            .offset(0)
        )
        terms.append(exists(phone))
    return or_(*terms)


def by_deadline(
    connection: Connection,
    conditions: list[ColumnElement],
    skip: int,
    limit: int,
    now: datetime,
    light: str | None = None,
) -> list[int]:
    """The ids of the cases meeting `conditions`, ordered as nearest_deadline orders them, from
    `skip` on: the running clocks walked in deadline order (their index) until enough cases are
    found, each case tested once it comes up (a lookup by its id: neither database then reads
    every open case, nor hashes a department's units of every case it ever had), and after them
    the cases with no running deadline, by id. A light filter says where to start: a red
    case's nearest deadline has passed, a yellow or green one's has not."""
    case, walked = CASE.alias("queued"), CLOCK.alias("walked")  # aliases: the conditions' own
    adapt = ClauseAdapter(case).traverse  # subqueries on clock and case stay their own
    meets = select(literal(1)).select_from(case).where(case.c.id == walked.c.case_id, *map(adapt, conditions))
    when = {
        "red": walked.c.deadline < now,
        "yellow": walked.c.deadline >= now,
        "green": walked.c.deadline >= now,
    }
    walk = (
        select(walked.c.case_id)
        .where(walked.c.status == "running", when.get(light or "", walked.c.deadline.is_not(None)))
        .where(exists(meets.offset(0)))
        .order_by(walked.c.deadline, walked.c.case_id)
    )
    wanted, batch = skip + limit, 2 * (skip + limit)
    while True:  # a case has a clock or two running: twice the cases wanted is usually enough
        clocks = list(connection.execute(walk.limit(batch)).scalars())
        found = list(dict.fromkeys(clocks))
        if len(found) >= wanted or len(clocks) < batch:
            break
        batch *= 4
    ids = found[skip:wanted]
    if len(ids) < limit and len(clocks) < batch:  # past the last running deadline
        running = exists().where(
            CLOCK.c.case_id == CASE.c.id, CLOCK.c.status == "running", CLOCK.c.deadline.is_not(None)
        )
        rest = select(CASE.c.id).where(*conditions, ~running).order_by(CASE.c.id)
        rest = rest.offset(max(0, skip - len(found))).limit(limit - len(ids))
        ids += list(connection.execute(rest).scalars())
    return ids
