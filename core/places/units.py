"""Units and people in the database, from the profile (units, see reconcile.py) and from
administrators (people)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gridcase.core.db.connection import write
from gridcase.core.db.fast import FastInsert
from gridcase.core.db.models import CaseUnit, Grid, Person, Responsibility, Unit, UnitClassChange, UnitCommand
from gridcase.core.errors import GridcaseError
from gridcase.core.people.accounts import end_sessions_if_rights_changed
from gridcase.core.profile.taxonomy import label_zh

UNIT, COMMAND, PERSON, RESPONSIBILITY, CASE_UNIT, CLASS_CHANGE, GRID = (
    t.__table__ for t in (Unit, UnitCommand, Person, Responsibility, CaseUnit, UnitClassChange, Grid)
)


def upsert(connection: Connection, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(table)
    update = {c: getattr(statement.excluded, c) for c in rows[0] if c != key}
    connection.execute(statement.on_conflict_do_update(index_elements=[key], set_=update), rows)


def unit_rows(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Units with their paths ("/centre/street1/"), parents before children."""
    specs = {u["code"]: u for u in profile.get("units", [])}

    def path(code: str) -> str:
        parent = specs[code].get("parent")
        return (path(parent) if parent in specs else "/") + f"{code}/"

    rows = []
    for code, spec in specs.items():
        name = spec.get("name")
        rows.append(
            {
                "code": code,
                "name": label_zh(name),
                "name_en": name.get("en") if isinstance(name, dict) else None,
                "kind": spec["kind"],
                "parent": spec.get("parent"),
                "unit_class": spec.get("class"),
                "level": spec.get("level"),
                "calendar": spec.get("calendar"),
                "path": path(code),
            }
        )
    return sorted(rows, key=lambda r: r["path"].count("/"))


def command_rows(profile: dict[str, Any]) -> list[dict[str, str]]:
    """The profile's command relations: a street office commands the stations in its territory."""
    return [
        {"commander": u["code"], "commanded": c}
        for u in profile.get("units", [])
        for c in u.get("commands", [])
    ]


def set_unit_class(engine: Engine, unit: str, unit_class: str | None, since: datetime) -> None:
    """Move a unit to another class from `since` on (periods ending before keep the old one)."""
    with write(engine) as connection:
        if (
            connection.execute(update(UNIT).where(UNIT.c.code == unit).values(unit_class=unit_class)).rowcount
            != 1
        ):
            raise GridcaseError("not_found", f"no unit {unit!r}")
        record_class(connection, unit, unit_class, since)


def record_class(connection: Connection, unit: str, unit_class: str | None, since: datetime) -> None:
    """The unit's class from `since` on, so assessment ranks a past period with the classes
    units had then."""
    same_moment = and_(CLASS_CHANGE.c.unit == unit, CLASS_CHANGE.c.since == since)
    connection.execute(delete(CLASS_CHANGE).where(same_moment))
    connection.execute(insert(CLASS_CHANGE).values(unit=unit, since=since, unit_class=unit_class))


def add_person(
    engine: Engine,
    username: str,
    name: str,
    roles: list[str],
    unit: str | None = None,
    grids: Sequence[str] = (),
    attributes: dict[str, Any] | None = None,
) -> int:
    with write(engine) as connection:
        if connection.execute(select(PERSON.c.id).where(PERSON.c.username == username)).first():
            raise GridcaseError("conflict", f"a person named {username!r} already exists")
        key = connection.execute(
            insert(PERSON).values(
                username=username, name=name, unit=unit, roles=list(roles), active=True, attributes=attributes
            )
        ).inserted_primary_key
        if key is None:
            raise RuntimeError("an INSERT of a single row gives its primary key")
        person_id: int = key[0]
        if grids:
            connection.execute(insert(RESPONSIBILITY), [{"person_id": person_id, "grid": g} for g in grids])
    return person_id


def check_person(profile: dict[str, Any], roles: list[str], unit: str | None) -> None:
    """A person's roles come from the profile and their unit is one of its units."""
    known = {r["code"] for r in profile.get("roles", [])}
    unknown = [r for r in roles if r not in known]
    if unknown or not roles:
        raise GridcaseError(
            "invalid_role",
            f"unknown role {', '.join(unknown)}; the profile has {', '.join(sorted(known))}"
            if unknown
            else "a person needs at least one role",
        )
    if unit and unit not in {u["code"] for u in profile.get("units", [])}:
        raise GridcaseError("invalid_unit", f"no unit {unit!r} in this city")


def update_person(engine: Engine, username: str, roles: list[str], unit: str | None, active: bool) -> None:
    """Other roles or a deactivation end the person's sessions (see accounts.py)."""
    with write(engine) as connection:
        before = connection.execute(select(PERSON).where(PERSON.c.username == username)).mappings().first()
        if before is None:
            raise GridcaseError("not_found", f"no person {username!r}")
        after = {"roles": list(roles), "unit": unit, "active": active}
        connection.execute(update(PERSON).where(PERSON.c.id == before["id"]).values(**after))
        end_sessions_if_rights_changed(connection, before["id"], dict(before), after)


def subtree(connection: Connection, unit: str) -> set[str]:
    """The unit and every unit below it."""
    path = connection.execute(select(UNIT.c.path).where(UNIT.c.code == unit)).scalar_one_or_none()
    if path is None:
        return set()
    return set(connection.execute(select(UNIT.c.code).where(UNIT.c.path.startswith(path))).scalars())


INSERT_CASE_UNIT = FastInsert(CASE_UNIT)


def add_case_units(
    connection: Connection,
    case_id: int,
    role: str,
    units: list[dict[str, Any]],
    now: datetime,
    depth: int = 0,
) -> None:
    """Give units a part in a case: `units` are {"unit", "share"} (responsible) or handlers."""
    INSERT_CASE_UNIT.many(connection, case_unit_rows(case_id, role, units, now, depth))


def case_unit_rows(
    case_id: int, role: str, units: list[dict[str, Any]], now: datetime, depth: int = 0
) -> list[dict[str, Any]]:
    """The rows `add_case_units` inserts, for a caller that inserts many cases' at once."""
    return [
        {
            "case_id": case_id,
            "unit": u["unit"],
            "role": role,
            "share": u.get("share", 1.0),
            "depth": depth,
            "active": True,
            "since": now,
        }
        for u in units
    ]


RELEASE_CASE_UNITS = (
    update(CASE_UNIT)
    .where(
        CASE_UNIT.c.case_id == bindparam("case_"), CASE_UNIT.c.role == bindparam("role_"), CASE_UNIT.c.active
    )
    .values(active=False)
)


def release_case_units(connection: Connection, case_id: int, role: str) -> None:
    """Those units no longer hold the case (rows stay, inactive, for the history)."""
    connection.execute(RELEASE_CASE_UNITS, {"case_": case_id, "role_": role})


class GridPeople:
    """The active people responsible for a grid or for any grid above it (责任网格), read once:
    the supervisors a task-timeout alert reaches, the workers a problem in the grid costs a point."""

    def __init__(self, connection: Connection) -> None:
        self.paths = dict(connection.execute(select(GRID.c.code, GRID.c.path)).all())
        self.people: dict[str, list[int]] = {}
        for person_id, grid in connection.execute(
            select(RESPONSIBILITY.c.person_id, RESPONSIBILITY.c.grid)
            .join(PERSON, PERSON.c.id == RESPONSIBILITY.c.person_id)
            .where(PERSON.c.active)
            .order_by(RESPONSIBILITY.c.person_id)
        ):
            self.people.setdefault(grid, []).append(person_id)

    def of(self, grid: str | None) -> list[int]:
        chain = (self.paths.get(grid) or "").strip("/").split("/") if grid else []
        return list(dict.fromkeys(p for g in chain for p in self.people.get(g, ())))
