"""Case numbers from the profile's format, unique under concurrent intake.

The sequence is claimed with one atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`),
which both SQLite and PostgreSQL serialise per key: no read-then-write race.
"""

import string
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from .db.raw import raw_cursor

_CLAIM_SQL = (
    "INSERT INTO counter (key, value) VALUES (:key, 1) "
    "ON CONFLICT (key) DO UPDATE SET value = counter.value + 1 RETURNING value"
)


def claim(connection: Connection, key: str) -> int:
    """The next value of a counter (straight through the driver: this runs on every intake)."""
    sql = _CLAIM_SQL.replace(":key", "?" if connection.dialect.paramstyle == "qmark" else "%s")
    with raw_cursor(connection, sql) as cursor:
        cursor.execute(sql, (key,))
        return cursor.fetchone()[0]


@lru_cache(maxsize=64)
def _scope_format(fmt: str) -> str:
    """The format without {seq}: the key of the counter a number is drawn from."""
    return "".join(
        literal + ("" if name in (None, "seq") else "{" + name + (":" + spec if spec else "") + "}")
        for literal, name, spec, _ in string.Formatter().parse(fmt)
    )


def case_number(connection: Connection, fmt: str, fields: dict[str, Any]) -> str:
    """Format a new case number; the counter is per everything in the format except {seq}."""
    return fmt.format(**fields, seq=claim(connection, "case:" + _scope_format(fmt).format(**fields)))


def number_fields(
    kind: str, major: str, minor: str, at: datetime, channel: str, district: str
) -> dict[str, Any]:
    return {
        "kind": "C" if kind == "component" else "E",
        "year": at.year,
        "month": at.month,
        "day": at.day,
        "major": major,
        "minor": minor,
        "channel": channel,
        "district": district,
    }
