"""Finding the few open cases among a city's millions, fast on both databases."""

from sqlalchemy import bindparam, func, literal_column, select

from gridcase.core.cases import scope
from gridcase.core.db.models import Case
from gridcase.core.people.actor import Actor

CASE = Case.__table__


def open_states(engine):
    """`state IN (the open states of every workflow)`: see in_states."""
    states = {code for w in engine.workflows.values() for code, s in w.states.items() if s.kind == "open"}
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
        .where(open_states(engine), scope.case_filter(engine, actor), *conditions)
        .order_by((CASE.c.id + 0).desc())
    )
    return query.limit(limit).scalar_subquery()
