"""Records administrators and assessment keep: published bulletins and ledgers, calendar
overrides and the taxonomy and setting edits. The append-only ones say so.

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

from datetime import date, datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from gridcase.core.db.models.types import TableModel, _json, _ts


class AssessmentSnapshot(TableModel, table=True):
    """A published assessment (通报). Append-only: publishing again adds a version."""

    __tablename__ = "assessment_snapshot"
    __table_args__ = (UniqueConstraint("period", "scope", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=64)
    scope: str = Field(max_length=256)  # object kind and filters, e.g. "unit" or "unit class=A"
    version: int
    published_at: datetime = _ts()
    published_by: str | None = Field(default=None, max_length=128)
    digest: str = Field(max_length=64)
    content: dict = _json(nullable=False)


class LedgerEntry(TableModel, table=True):
    """A money (or points) entry in a ledger: deductions turned into money, cost transfers.

    Append-only: a correction is a new entry.
    """

    __tablename__ = "ledger_entry"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True, max_length=64)
    object: str = Field(index=True, max_length=128)  # "unit:jiefang", "person:17"
    amount: float
    points: float | None = None
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    period: str | None = Field(default=None, max_length=64)
    reason: str
    source: str = Field(max_length=128)  # "snapshot:12", a plugin's name …
    at: datetime = _ts()


class CalendarOverride(TableModel, table=True):
    """An administrator's working-day override: a day off or a make-up working day (调休),
    for the default calendar ("") or a named one. It applies to clocks started after it."""

    __tablename__ = "calendar_override"
    calendar: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    working: bool
    reason: str | None = None
    changed_by: str | None = Field(default=None, max_length=128)
    changed_at: datetime = _ts()


class CalendarYear(TableModel, table=True):
    """A year an administrator confirmed for a calendar: its holidays and 调休 days are entered
    as overrides, so its deadlines are no longer provisional (years the `holidays` package
    publishes need no row)."""

    __tablename__ = "calendar_year"
    calendar: str = Field(primary_key=True, max_length=64)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    reason: str | None = None
    changed_by: str | None = Field(default=None, max_length=128)
    changed_at: datetime = _ts()


class TaxonomyChange(TableModel, table=True):
    """An administrator's edit of a minor class, on top of the profile (append-only).

    `changes` holds the fields set and `previous` what they were, so a revert is one more
    change; `id` is the taxonomy version a new case records."""

    __tablename__ = "taxonomy_change"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    code: str = Field(max_length=16)
    changes: dict = Field(sa_column=Column(JSON, nullable=False))
    previous: dict = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    changed_by: str = Field(max_length=128)
    changed_at: datetime = _ts()
    reverts: int | None = Field(default=None, foreign_key="taxonomy_change.id")


class SettingChange(TableModel, table=True):
    """An administrator's edit of a time-limit rule or an assessment composite, or of a person's
    account (core/people/administration.py); append-only."""

    __tablename__ = "setting_change"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # rule | composite | person
    code: str = Field(max_length=64)
    changes: dict = Field(sa_column=Column(JSON, nullable=False))
    previous: dict = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    changed_by: str = Field(max_length=128)
    changed_at: datetime = _ts()
    reverts: int | None = Field(default=None, foreign_key="setting_change.id")
