"""Units with their command relations and class history, and the people who log in.

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, false, true
from sqlmodel import Field

from gridcase.core.db.models.types import TableModel, _json, _ts


class Unit(TableModel, table=True):
    __tablename__ = "unit"
    code: str = Field(primary_key=True, max_length=64)
    name: str
    name_en: str | None = None
    kind: str = Field(index=True, max_length=64)
    parent: str | None = Field(default=None, foreign_key="unit.code", index=True, max_length=64)
    unit_class: str | None = Field(default=None, max_length=64)
    level: int | None = None
    calendar: str | None = Field(default=None, max_length=64)
    # "/centre/street1/station1/": a unit's subtree is a prefix query
    path: str = Field(index=True, max_length=1024)
    # a unit the profile dropped stays, with its name, for the cases and history that point at it
    active: bool = Field(default=True, sa_column_kwargs={"server_default": true()})


class UnitCommand(TableModel, table=True):
    """A command relation: a street office commands the stations in its territory."""

    __tablename__ = "unit_command"
    commander: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)
    commanded: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)


class Person(TableModel, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=128)
    name: str
    unit: str | None = Field(default=None, foreign_key="unit.code", index=True, max_length=64)
    roles: list = _json(nullable=False)
    # what assessment reads about the person, e.g. {"performance_pay": 1800} (a ledger's cap)
    attributes: dict | None = _json(nullable=True)
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=256)  # argon2; None: cannot log in
    # set by an administrator (a reset, a new person's): good only for choosing a new one
    password_temporary: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class ApiToken(TableModel, table=True):
    """An API token (also an Open311 api_key). Only its SHA-256 is kept: the token itself is
    shown once, when it is created."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=128)
    token_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)  # the first characters, so people can tell tokens apart
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(default=None)
    revoked_at: datetime | None = _ts(default=None)


class LoginAttempt(TableModel, table=True):
    """Failed logins, for throttling across every worker (core/throttle.py): by address, and by
    address and name."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_who", "username", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=128)
    address: str | None = Field(default=None, max_length=64)
    at: datetime = _ts()


class WebSession(TableModel, table=True):
    """A logged-in session (core/sessions.py). The cookie holds its token, the table only the
    token's SHA-256, as for API tokens: a copied table opens no session. Ending a session is
    deleting its row."""

    __tablename__ = "web_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = _ts()
    seen_at: datetime = _ts(index=True)  # last use, to the minute: the idle lifetime and the purge


class Responsibility(TableModel, table=True):
    """A person's responsibility grids (责任网格)."""

    __tablename__ = "responsibility"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    grid: str = Field(foreign_key="grid.code", primary_key=True, max_length=64)


class UnitClassChange(TableModel, table=True):
    """A unit's class from a moment on, so a past period is ranked with the classes it had."""

    __tablename__ = "unit_class_change"
    unit: str = Field(foreign_key="unit.code", primary_key=True, max_length=64)
    since: datetime = _ts(primary_key=True)
    unit_class: str | None = Field(default=None, max_length=64)


class PatrolPoint(TableModel, table=True):
    """A point of a person's patrol track, as their handset fixed it (the field app). A handset
    sends a point again when an answer is lost: its person and device time make it one point."""

    __tablename__ = "patrol_point"
    __table_args__ = (
        # also the index of a person's day: person_id, then made_at in a range
        UniqueConstraint("person_id", "made_at", name="uq_patrol_point_person_made_at"),
        Index("ix_patrol_point_made_at", "made_at"),  # the sweep's purge of old tracks
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    made_at: datetime = _ts()  # the device's time of the fix
    lon: float
    lat: float
    accuracy: float | None = None  # metres, as the handset reported it
    arrived_at: datetime = _ts()
