"""Case numbers from the profile's format, unique under concurrent intake.

The sequence is claimed with one atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`),
which both SQLite and PostgreSQL serialise per key: no read-then-write race, and no gaps.

The claim locks the counter's row until the transaction ends, and every case of a day (with the
usual formats) draws from one counter, so on PostgreSQL a new case's number is claimed inside
the case's own INSERT instead, a moment before the commit (`db.fast.NumberedInsert`, which the
database builds from the number's parts, `Composed`); `claim` is the plain way, number first.
"""

import re
import string
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, text

from gridcase.core.db.fast import FastQuery

# every intake on SQLite claims a number: a constant statement, straight through the driver
CLAIM = FastQuery(
    text(
        "INSERT INTO counter (key, value) VALUES (:key, 1) "
        "ON CONFLICT (key) DO UPDATE SET value = counter.value + 1 RETURNING value"
    ).columns(value=Integer)
)


def claim(connection: Connection, key: str) -> int:
    """The next value of a counter."""
    return CLAIM(connection, {"key": key})[0]["value"]


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
