"""Case numbers from the profile's format, unique under concurrent intake.

The sequence is claimed with one atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`),
which both SQLite and PostgreSQL serialise per key: no read-then-write race, and no gaps.

The claim locks the counter's row until the transaction ends, and every case of a day (with the
usual formats) draws from one counter, so on PostgreSQL the lock's hold time caps new cases a
second: sampled under load, 44% of intake connections were waiting on it. `NumberedInsert`
claims the numbers inside the cases' own INSERT (one for a batch's cases of one counter), sent
with their other rows in one pipeline, so the lock is taken a moment before the commit instead
of four round trips ahead.
"""

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection

from gridcase.core.db.fastinsert import FastInsert
from gridcase.core.db.raw import Sent, raw_cursor

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


def counter_key(fmt: str, fields: dict[str, Any]) -> str:
    """The counter is per everything in the format except {seq}."""
    return "case:" + _scope_format(fmt).format(**fields)


def case_number(connection: Connection, fmt: str, fields: dict[str, Any]) -> str:
    """Format a new case number, claiming the next value of its counter."""
    return fmt.format(**fields, seq=claim(connection, counter_key(fmt, fields)))


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


@dataclass(frozen=True)
class Composed:
    """A number as the database can build it: prefix, the counter's value padded, suffix."""

    key: str
    prefix: str
    width: int
    pad: str
    suffix: str


_PLAIN_INTEGER = re.compile(r"(0?)(\d*)d?")


def composed(fmt: str, fields: dict[str, Any]) -> Composed | None:
    """The number of `fmt` for `fields` in parts, or None when {seq} is not there exactly once
    with a plain integer spec ({seq}, {seq:d}, {seq:05d}, {seq:5d})."""
    parts = list(string.Formatter().parse(fmt))
    seqs = [i for i, (_, name, _, _) in enumerate(parts) if name == "seq"]
    if len(seqs) != 1 or not (integer := _PLAIN_INTEGER.fullmatch(parts[seqs[0]][2] or "")):
        return None

    def text(chosen) -> str:
        return "".join(
            literal
            + ("" if name is None else ("{" + name + (":" + spec if spec else "") + "}").format(**fields))
            for literal, name, spec, _ in chosen
        )

    before, seq, after = parts[: seqs[0]], parts[seqs[0]], parts[seqs[0] + 1 :]
    return Composed(
        key=counter_key(fmt, fields),
        prefix=text(before) + seq[0],
        width=int(integer.group(2) or 0),
        pad="0" if integer.group(1) else " ",
        suffix=text(after),
    )


class NumberedInsert:
    """Rows inserted with the next numbers of one counter, claimed in the same statement
    (PostgreSQL): `WITH claimed AS (INSERT INTO counter …) INSERT INTO t (…) VALUES (…), …`."""

    def __init__(self, insert: FastInsert, column: str = "number") -> None:
        self.insert, self.column = insert, column

    def send_many(
        self, connection: Connection, rows: list[tuple[int, dict[str, Any]]], number: Composed
    ) -> Callable[[], dict[int, str]]:
        """Insert each (id, row) with the counter's next numbers, in order; the answer reads each
        id's number (see `db.raw.Sent`)."""
        at, n = self.insert.columns.index(self.column), number
        sents = []
        for start in range(0, len(rows), self._most):  # within the protocol's 65,535 parameters
            chunk = rows[start : start + self._most]
            params: list[Any] = [n.key, len(chunk), n.prefix, n.width, n.pad, n.suffix]  # _SHARED
            for row_id, row in chunk:
                values = self.insert.values(connection, row)
                params += (row_id, *values[:at], *values[at + 1 :])
            # its text varies with its rows: prepared, each size would be a statement of its own
            sents.append(Sent(connection, self._sql(len(chunk)), params, prepare=False, native=True))
        return lambda: dict(row for sent in sents for row in sent.read(lambda cursor: cursor.fetchall()))

    @property
    def _most(self) -> int:
        return (65_535 - len(_SHARED)) // len(self.insert.columns)

    @cache  # noqa: B019 (the inserts are module constants, made once)
    def _sql(self, rows: int) -> str:
        """The INSERT of `rows` rows with PostgreSQL's own placeholders: the shared ones first
        (_SHARED), then each row's id and values, its number made from the claimed value."""
        columns = self.insert.columns
        at, width = columns.index(self.column), len(columns)  # a row's id and its columns but the number

        def number(k: int) -> str:
            # the counter now holds the last of the claimed values; lpad cuts a longer value
            # short, where Python's format widens the field instead
            seq = f"(value - $2 + {k})::text"
            return f"(SELECT $3 || lpad({seq}, greatest($4, length({seq})), $5) || $6 FROM claimed)"

        def row(r: int) -> str:
            marks = [f"${len(_SHARED) + r * width + j + 1}" for j in range(width)]
            return "(" + ", ".join([*marks[: at + 1], number(r + 1), *marks[at + 1 :]]) + ")"

        names = ", ".join(f'"{c}"' for c in ("id", *columns))
        values = ", ".join(row(r) for r in range(rows))
        return (
            "WITH claimed AS (INSERT INTO counter (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = counter.value + $2 RETURNING value) "
            f'INSERT INTO "{self.insert.table.name}" ({names}) VALUES {values} RETURNING id, "{self.column}"'
        )


_SHARED = ("key", "count", "prefix", "width", "pad", "suffix")  # NumberedInsert's first parameters
