"""Working-day overrides kept in the database, so an administrator can add a day off or a
make-up working day (调休) without a release; they sit on top of the profile's overrides.

Deadlines are computed when a clock starts, so an override changes only clocks started after
it, except provisional ones (past the published schedule), which the sweep recomputes. An
administrator who entered a year's holidays and 调休 days confirms the year, which ends its
deadlines' provisional state. Each engine reloads both when it starts and before each sweep.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy import and_, delete, insert, select

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import CalendarOverride, CalendarYear
from gridcase.core.errors import GridcaseError

OVERRIDE, YEAR = CalendarOverride.__table__, CalendarYear.__table__
DEFAULT = ""  # the profile's default calendar


def load(db: Database) -> dict[str, dict[date, bool]]:
    """{calendar code ("" for the default): {day: working}}."""
    out: dict[str, dict[date, bool]] = {}
    with read(db) as connection:
        for row in connection.execute(select(OVERRIDE.c.calendar, OVERRIDE.c.day, OVERRIDE.c.working)):
            out.setdefault(row.calendar, {})[row.day] = row.working
    return out


def load_years(db: Database) -> dict[str, frozenset[int]]:
    """{calendar code: the years an administrator confirmed}."""
    out: dict[str, set[int]] = {}
    with read(db) as connection:
        for row in connection.execute(select(YEAR.c.calendar, YEAR.c.year)):
            out.setdefault(row.calendar, set()).add(row.year)
    return {code: frozenset(years) for code, years in out.items()}


def _put(db: Database, table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Replace the row of `key` (an administrator's decision, its latest word kept)."""
    with write(db) as connection:
        connection.execute(delete(table).where(and_(*(table.c[k] == v for k, v in key.items()))))
        connection.execute(insert(table).values(**key, **values))


def _drop(db: Database, table, key: dict[str, Any]) -> bool:
    with write(db) as connection:
        return (
            connection.execute(delete(table).where(and_(*(table.c[k] == v for k, v in key.items())))).rowcount
            > 0
        )


def confirm_year(
    db: Database,
    year: int,
    now: datetime,
    calendar: str = DEFAULT,
    reason: str | None = None,
    by: str | None = None,
) -> None:
    _put(
        db,
        YEAR,
        {"calendar": calendar, "year": year},
        {"reason": reason, "changed_by": by, "changed_at": now},
    )


def unconfirm_year(db: Database, year: int, calendar: str = DEFAULT) -> None:
    if not _drop(db, YEAR, {"calendar": calendar, "year": year}):
        raise GridcaseError("not_found", f"{year} is not confirmed in {calendar or 'the default calendar'}")


def set_override(
    db: Database,
    day: date,
    working: bool,
    now: datetime,
    calendar: str = DEFAULT,
    reason: str | None = None,
    by: str | None = None,
) -> None:
    values = {"working": working, "reason": reason, "changed_by": by, "changed_at": now}
    _put(db, OVERRIDE, {"calendar": calendar, "day": day}, values)


def remove_override(db: Database, day: date, calendar: str = DEFAULT) -> None:
    if not _drop(db, OVERRIDE, {"calendar": calendar, "day": day}):
        raise GridcaseError("not_found", f"no override on {day} in {calendar or 'the default calendar'}")


def listed(db: Database) -> list[dict[str, Any]]:
    with read(db) as connection:
        query = select(OVERRIDE).order_by(OVERRIDE.c.calendar, OVERRIDE.c.day)
        return [dict(r) for r in connection.execute(query).mappings()]
