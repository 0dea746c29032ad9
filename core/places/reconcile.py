"""A live database's units and grids brought in line with the profile, in place (`gridcase db
upgrade`, and an db loading its reference data).

Cases, people, events and assessments point at units and grids by code, so nothing is deleted:
what the profile adds is inserted, what it changes is updated, and what it drops is deactivated.
A deactivated unit or grid keeps its name for the history, and no new report is located in a
deactivated grid. `plan` only reads, so a dry run shows exactly what `apply` would write.

A grid has an origin. Grids imported with `gridcase import grids` belong to the import: the
profile never writes over them or deactivates them, even when it has a grid of the same code.
Grids stored before gridcase kept an origin have none: one the profile still has becomes the
profile's, and the others are left as they are, since an imported grid and one the profile has
since dropped look the same.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy import Engine as Database

from gridcase.core.db.connection import read, write
from gridcase.core.errors import GridImportError
from gridcase.core.places import grids
from gridcase.core.places.units import (
    COMMAND,
    GRID,
    PERSON,
    UNIT,
    command_rows,
    record_class,
    unit_rows,
    upsert,
)

PROFILE, IMPORT = "profile", "import"


@dataclass(frozen=True)
class Change:
    kind: str  # "unit" or "grid"
    action: str  # "added", "updated" or "deactivated"
    code: str
    fields: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The code, with the fields an update changed."""
        return self.code + (f" ({', '.join(self.fields)})" if self.fields else "")


@dataclass
class Plan:
    """What the profile asks of the database: the changes, the rows that make them, and what was
    left alone and why."""

    changes: list[Change] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"unit": [], "grid": []})
    commands: list[dict[str, str]] | None = None  # the unit commands, when they changed
    classes: list[tuple[str, str | None]] = field(default_factory=list)  # units with a new class
    notes: list[str] = field(default_factory=list)
    units: int = 0  # how many the profile has
    grids: int = 0

    def write(
        self, kind: str, row: dict[str, Any], old: dict[str, Any] | None, extra: tuple[str, ...] = ()
    ) -> None:
        """Write `row` if it differs from the stored `old` (None: there is none)."""
        changed = tuple(k for k in row if old is not None and old[k] != row[k]) + extra
        if old is None or changed:
            self.rows[kind].append(row)
            self.changes.append(Change(kind, "added" if old is None else "updated", row["code"], changed))

    def lines(self, shown_added: int = 20) -> list[str]:
        """What changed, one line per kind and action, by code. Every update and deactivation is
        named; of the additions (a new database's whole city) only the first `shown_added`."""
        out = []
        for action in ("added", "updated", "deactivated"):
            for kind in ("unit", "grid"):
                done = [c for c in self.changes if c.kind == kind and c.action == action]
                named = done[:shown_added] if action == "added" else done
                more = f", … and {len(done) - len(named)} more" if len(done) > len(named) else ""
                if done:
                    codes = ", ".join(c.label for c in named)
                    out.append(f"{kind}s {action} ({len(done)}): {codes}{more}")
        return out + self.notes

    def summary(self) -> str:
        counts = []
        for kind in ("unit", "grid"):
            done = [c.action for c in self.changes if c.kind == kind]
            each = ", ".join(f"{done.count(a)} {a}" for a in ("added", "updated", "deactivated"))
            counts.append(f"{kind}s: {each}")
        return "; ".join(counts)


def plan(connection: Connection, profile: dict[str, Any]) -> Plan:
    """The changes that make the stored units and grids match the profile. Raises
    GridImportError when the profile's grids do not fit the stored ones."""
    out = Plan()
    _plan_units(connection, profile, out)
    _plan_grids(connection, profile, out)
    return out


def _stored(connection: Connection, table: Table) -> dict[str, dict[str, Any]]:
    return {r["code"]: dict(r) for r in connection.execute(select(table).order_by(table.c.path)).mappings()}


def _plan_units(connection: Connection, profile: dict[str, Any], out: Plan) -> None:
    stored = _stored(connection, UNIT)
    commands = command_rows(profile)
    held = {(r["commander"], r["commanded"]) for r in connection.execute(select(COMMAND)).mappings()}
    wanted = {(r["commander"], r["commanded"]) for r in commands}
    if held != wanted:
        out.commands = commands
    recommanded = {commander for commander, _ in held ^ wanted}
    rows = unit_rows(profile)  # parents first, as the foreign key on a unit's parent needs
    out.units = len(rows)
    for row in rows:
        old = stored.get(row["code"])
        out.write("unit", {**row, "active": True}, old, ("commands",) if row["code"] in recommanded else ())
        if old is None or old["unit_class"] != row["unit_class"]:
            out.classes.append((row["code"], row["unit_class"]))
    wanted_codes = {r["code"] for r in rows}
    for code, old in stored.items():
        if code not in wanted_codes and old["active"]:
            out.changes.append(Change("unit", "deactivated", code))
            _note_people_of(connection, code, out)


def _note_people_of(connection: Connection, unit: str, out: Plan) -> None:
    """A deactivated unit's people keep their logins, and its queue: say who is left there."""
    names = (
        connection.execute(
            select(PERSON.c.username)
            .where(PERSON.c.unit == unit, PERSON.c.active)
            .order_by(PERSON.c.username)
        )
        .scalars()
        .all()
    )
    if names:
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        out.notes.append(
            f"unit {unit} is deactivated but {len(names)} people still belong to it ({shown}): "
            f"move them with gridcase user set NAME --unit CODE, or --inactive"
        )


def _plan_grids(connection: Connection, profile: dict[str, Any], out: Plan) -> None:
    doc = profile.get("grids") or {}
    features = doc.get("features") or []
    stored = _stored(connection, GRID)
    codes = {(f.get("properties") or {}).get("code") for f in features}
    # the stored grids the profile does not write: imported ones, and unknown ones it lacks
    others = {
        c: g for c, g in stored.items() if g["origin"] == IMPORT or (g["origin"] is None and c not in codes)
    }
    if features:
        rows, problems = grids.check_features(doc, profile, {c: g["path"] for c, g in others.items()})
        if problems:
            raise GridImportError(problems)
    else:
        rows = []
    out.grids = len(rows)
    paths = {c: g["path"] for c, g in stored.items()}
    for row in sorted(rows, key=lambda r: r["path"].count("/")):  # parents first
        if row["code"] in others:
            out.notes.append(f"kept imported grid {row['code']} (the profile has a grid of that code)")
            continue
        paths[row["code"]] = row["path"]
        out.write("grid", {**row, "active": True, "origin": PROFILE}, stored.get(row["code"]))
    # a grid below one whose path changed moves with it: subtrees are path prefixes
    for code, other in sorted(others.items(), key=lambda kv: kv[1]["path"].count("/")):
        path = (paths[other["parent"]] if other["parent"] in paths else "/") + f"{code}/"
        if path != other["path"]:
            paths[code] = path
            out.write("grid", {**other, "path": path}, other)
    unknown = sorted(c for c, g in others.items() if g["origin"] is None)
    if unknown:
        out.notes.append(
            f"left {len(unknown)} grids alone that the profile lacks and nothing says were imported "
            f"({', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''})"
        )
    for code, old in stored.items():
        if code not in codes and old["origin"] == PROFILE and old["active"]:
            out.changes.append(Change("grid", "deactivated", code))


def apply(connection: Connection, planned: Plan, now: datetime) -> None:
    """Write a plan, in the caller's transaction."""
    for kind, table in (("unit", UNIT), ("grid", GRID)):
        by_keys: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row in planned.rows[kind]:  # in order, so a parent is written before its children
            by_keys.setdefault(frozenset(row), []).append(row)
        for rows in by_keys.values():
            upsert(connection, table, rows, "code")
        gone = [c.code for c in planned.changes if c.kind == kind and c.action == "deactivated"]
        if gone:
            connection.execute(update(table).where(table.c.code.in_(gone)).values(active=False))
    if any(change.kind == "grid" for change in planned.changes):
        grids.mark_changed(connection)
    if planned.commands is not None:
        connection.execute(delete(COMMAND))
        if planned.commands:
            connection.execute(insert(COMMAND), planned.commands)
    for unit, unit_class in planned.classes:
        record_class(connection, unit, unit_class, now)


def reconcile(db: Database, profile: dict[str, Any], now: datetime | None = None) -> Plan:
    """Plan and apply in one transaction of its own."""
    with write(db) as connection:
        planned = plan(connection, profile)
        apply(connection, planned, now or datetime.now(UTC))
    return planned


def preview(db: Database, profile: dict[str, Any]) -> Plan:
    with read(db) as connection:
        return plan(connection, profile)
