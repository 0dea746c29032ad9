"""Grids and components (部件): the city's geography and its assets.

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

from datetime import date

from sqlalchemy import LargeBinary, true
from sqlmodel import Field

from gridcase.core.db.models.types import TableModel


class Grid(TableModel, table=True):
    __tablename__ = "grid"
    code: str = Field(primary_key=True, max_length=64)
    name: str | None = None
    level: str = Field(index=True, max_length=64)
    parent: str | None = Field(default=None, foreign_key="grid.code", index=True, max_length=64)
    unit: str | None = Field(default=None, max_length=64)
    area_class: str | None = Field(default=None, max_length=64)
    region_class: str | None = Field(default=None, max_length=64)
    path: str = Field(index=True, max_length=1024)
    geometry: bytes = Field(sa_type=LargeBinary)  # WKB, WGS-84
    minx: float
    miny: float
    maxx: float
    maxy: float
    # a grid the profile dropped stays for the cases and people that point at it, but no report
    # is located in it any more
    active: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # "profile" (written by `gridcase db upgrade`) or "import" (`gridcase import grids`, whatever
    # path inserts it); None for grids stored before gridcase kept this (see core/reconcile.py)
    origin: str | None = Field(default="import", max_length=16, sa_column_kwargs={"server_default": "import"})


class Component(TableModel, table=True):
    """部件: GB/T 47678.5 table 2. Unit fields are codes or names as surveyed (not foreign keys)."""

    __tablename__ = "component"
    code: str = Field(primary_key=True, max_length=32)
    class_code: str = Field(index=True, max_length=16)
    name: str | None = None
    grid: str | None = Field(default=None, index=True, max_length=64)
    supervisor_unit: str | None = None
    owner_unit: str | None = None
    maintainer_unit: str | None = None
    state: str | None = Field(default=None, max_length=8)
    initial_date: date | None = None
    changed_date: date | None = None
    source: str | None = Field(default=None, max_length=16)
    lon: float
    lat: float
    note: str | None = None
