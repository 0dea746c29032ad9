"""The people of a deployment: adding, changing, listing and importing them, each person wholly
or not at all.

Whatever a person points at (roles, unit, responsibility grids) is looked up first, so that a
refusal names it (`no grid '999'`) instead of surfacing as a FOREIGN KEY error, and a person
with their grids and password is written in one transaction: a refused password leaves no
half-made login behind. Roles and units may be given by code or by their Chinese name, as a
roster kept in Excel names them.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy import Engine as Database

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Grid, Person, Responsibility, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.people.accounts import end_sessions_if_rights_changed, hash_password
from gridcase.core.profile.taxonomy import label_zh
from gridcase.core.tables import read_table
from gridcase.core.text import check_fields

PERSON, RESPONSIBILITY, UNIT, GRID = (t.__table__ for t in (Person, Responsibility, Unit, Grid))
USERNAME_LENGTH = 128  # the column's
# a roster's header → the field; English names as `user add` spells its options, Chinese as
# rosters are usually headed
COLUMNS = {
    "username": "username", "login": "username", "登录名": "username", "用户名": "username",
    "账号": "username", "帐号": "username",
    "name": "name", "姓名": "name", "名字": "name",
    "roles": "roles", "role": "roles", "角色": "roles",
    "unit": "unit", "单位": "unit", "部门": "unit", "所属单位": "unit",
    "grids": "grids", "grid": "grids", "网格": "grids", "责任网格": "grids",
    "attributes": "attributes", "属性": "attributes",
}  # fmt: skip
LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")
ATTRIBUTE_SEPARATORS = re.compile(r"[;；\n]+")  # an attribute's value may hold commas


@dataclass
class PersonData:
    username: str
    name: str
    roles: list[str]
    unit: str | None = None
    grids: list[str] = field(default_factory=list)
    attributes: dict[str, Any] | None = None


def parse_attributes(items: Iterable[str]) -> dict[str, Any]:
    """`performance_pay=1800` → 1800.0; `classes=event:0501,event:0504` → a list; else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GridcaseError("invalid_attribute", f"attribute {item.strip()!r} is not KEY=VALUE")
        value = value.strip()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            out[key.strip()] = number
        else:
            out[key.strip()] = [v.strip() for v in value.split(",") if v.strip()] if "," in value else value
    return out


class Directory:
    """What a person may point at: the profile's roles, the database's units and grids."""

    def __init__(self, profile: dict[str, Any], connection: Connection) -> None:
        roles = profile.get("roles", [])
        self.roles = {role["code"]: role["code"] for role in roles}
        for role in roles:  # a code wins over a name that happens to spell it
            self.roles.setdefault(label_zh(role.get("name")) or role["code"], role["code"])
        self.units: dict[str, str] = {}
        for code, name in connection.execute(select(UNIT.c.code, UNIT.c.name)):
            self.units[code] = code
            self.units.setdefault(name, code)
        self.grids = set(connection.execute(select(GRID.c.code)).scalars())

    def role(self, text: str) -> str:
        if text not in self.roles:
            raise GridcaseError("invalid_role", f"no role {text!r}")
        return self.roles[text]

    def unit(self, text: str | None) -> str | None:
        if not text:
            return None
        if text not in self.units:
            raise GridcaseError("invalid_unit", f"no unit {text!r}")
        return self.units[text]

    def grid(self, code: str) -> str:
        if code not in self.grids:
            raise GridcaseError("invalid_grid", f"no grid {code!r}")
        return code

    def resolve(self, person: PersonData) -> PersonData:
        """The person with role and unit names made codes; an error names the first unknown one."""
        if not person.username or len(person.username) > USERNAME_LENGTH:
            raise GridcaseError("invalid_username", f"a username has 1 to {USERNAME_LENGTH} characters")
        roles = list(dict.fromkeys(self.role(r) for r in person.roles))
        if not roles:
            raise GridcaseError("invalid_role", "a person needs at least one role")
        grids = list(dict.fromkeys(self.grid(g) for g in person.grids))
        return PersonData(
            person.username, person.name, roles, self.unit(person.unit), grids, person.attributes
        )


def add(
    db: Database,
    profile: dict[str, Any],
    person: PersonData,
    password: str | None = None,
    temporary: bool = False,
) -> int:
    """Add a person, with a password (None: cannot log in until one is set), `temporary` when an
    administrator chose it for them; all or nothing."""
    hashed = hash_password(password) if password is not None else None
    with write(db) as connection:
        resolved = Directory(profile, connection).resolve(person)
        if connection.execute(select(PERSON.c.id).where(PERSON.c.username == person.username)).first():
            raise GridcaseError("conflict", f"a person named {person.username!r} already exists")
        return _insert(connection, resolved, hashed, temporary)


def _insert(
    connection: Connection, person: PersonData, password_hash: str | None, temporary: bool = False
) -> int:
    person_id = connection.execute(
        insert(PERSON)
        .values(
            username=person.username,
            name=person.name,
            unit=person.unit,
            roles=person.roles,
            active=True,
            attributes=person.attributes or None,
            password_hash=password_hash,
            password_temporary=temporary,
        )
        .returning(PERSON.c.id)
    ).scalar_one()
    _set_grids(connection, person_id, person.grids)
    return person_id


def _set_grids(connection: Connection, person_id: int, grids: list[str]) -> None:
    connection.execute(delete(RESPONSIBILITY).where(RESPONSIBILITY.c.person_id == person_id))
    if grids:
        connection.execute(insert(RESPONSIBILITY), [{"person_id": person_id, "grid": g} for g in grids])


KEEP: Any = object()  # `change`: leave this field as it is


def change(
    db: Database,
    profile: dict[str, Any],
    username: str,
    *,
    name: str | None = None,
    roles: list[str] | None = None,
    unit: Any = KEEP,
    grids: list[str] | None = None,
    attributes: dict[str, Any] | None = None,
    active: bool | None = None,
) -> None:
    """Change what is given: roles and grids are replaced, attributes merged (a value of None
    removes the key), `unit=None` clears the unit."""
    with write(db) as connection:
        row = connection.execute(select(PERSON).where(PERSON.c.username == username)).mappings().first()
        if row is None:
            raise GridcaseError("not_found", f"no person {username!r}")
        directory = Directory(profile, connection)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if roles is not None:
            values["roles"] = directory.resolve(PersonData(username, row["name"], roles)).roles
        if unit is not KEEP:
            values["unit"] = directory.unit(unit)
        if attributes:
            merged = {**(row["attributes"] or {}), **attributes}
            values["attributes"] = {k: v for k, v in merged.items() if v is not None} or None
        if active is not None:
            values["active"] = active
        if grids is not None:
            _set_grids(connection, row["id"], [directory.grid(g) for g in dict.fromkeys(grids)])
        if values:
            connection.execute(update(PERSON).where(PERSON.c.id == row["id"]).values(**values))
            end_sessions_if_rights_changed(connection, row["id"], dict(row), values)


def listing(db: Database) -> list[dict[str, Any]]:
    """Every person by username, with their grids and whether they have a password."""
    with read(db) as connection:
        people = _existing(connection)
    return sorted(
        ({k: v for k, v in p.items() if k != "password_hash"} for p in people), key=lambda p: p["username"]
    )


# -- import --


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    without_password: int = 0  # of the people in the file
    problems: list[str] = field(default_factory=list)  # "LINE: reason"

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


def import_file(db: Database, profile: dict[str, Any], path: Path) -> ImportReport:
    """Create or update the people of a CSV or .xlsx roster, one person a row. A bad row is
    listed by line and skipped; every good row is kept. A column the file lacks is left as it is
    on people who exist; an empty unit, grids or attributes cell clears it. Passwords are never
    imported."""
    header, rows = read_table(path)
    fields = _fields(path, header)
    report = ImportReport()
    with write(db) as connection:
        directory = Directory(profile, connection)
        existing = {p["username"]: p for p in _existing(connection)}
        seen: dict[str, int] = {}
        for line, cells in rows:
            given = {fields[i]: cells[i].strip() for i in fields if i < len(cells)}
            try:
                check_fields(given)  # core/text.py's rule, as at every entry point
                username = given.get("username") or given.get("name") or ""
                if username in seen:
                    raise GridcaseError("conflict", f"{username} is on line {seen[username]} too")
                old = existing.get(username)
                person = directory.resolve(_person(username, given, old))
            except GridcaseError as exc:
                report.rejected += 1
                report.problems.append(f"{line}: {exc.message}")
                continue
            seen[username] = line
            if old is None:
                _insert(connection, person, None)
                report.created += 1
                report.without_password += 1
                continue
            report.without_password += not old["has_password"]
            if _same(old, person):
                report.unchanged += 1
                continue
            values = {
                "name": person.name,
                "roles": person.roles,
                "unit": person.unit,
                "attributes": person.attributes,
            }
            connection.execute(update(PERSON).where(PERSON.c.id == old["id"]).values(**values))
            end_sessions_if_rights_changed(connection, old["id"], old, values)
            _set_grids(connection, old["id"], person.grids)
            report.updated += 1
    return report


def _fields(path: Path, header: list[str]) -> dict[int, str]:
    """Column index → field."""
    fields: dict[int, str] = {}
    for index, title in enumerate(header):
        if not title:
            continue
        known = COLUMNS.get(title.lower())
        if known is None:
            raise GridcaseError(
                "invalid_file",
                f"{path}: unknown column {title!r}; the columns are username (登录名), name (姓名), "
                "roles (角色), unit (单位), grids (网格) and attributes (属性)",
            )
        if known in fields.values():
            raise GridcaseError("invalid_file", f"{path}: two columns for {known}")
        fields[index] = known
    if not {"username", "name"} & set(fields.values()):
        raise GridcaseError("invalid_file", f"{path} needs a name or username column (姓名 or 登录名)")
    return fields


def _person(username: str, given: dict[str, str], old: dict[str, Any] | None) -> PersonData:
    """The row's person; a column the file lacks keeps an existing person's value."""
    if old is None:
        old = {"name": username, "roles": [], "unit": None, "grids": [], "attributes": None}
    attributes = (
        parse_attributes(a for a in ATTRIBUTE_SEPARATORS.split(given["attributes"]) if a.strip()) or None
        if "attributes" in given
        else old["attributes"]
    )
    return PersonData(
        username,
        given.get("name") or old["name"],
        _split(given["roles"]) if "roles" in given else old["roles"],
        given["unit"] if "unit" in given else old["unit"],
        _split(given["grids"]) if "grids" in given else old["grids"],
        attributes,
    )


def _split(cell: str) -> list[str]:
    return [item for item in LIST_SEPARATORS.split(cell) if item]


def _existing(connection: Connection) -> list[dict[str, Any]]:
    """Every person with their grids; `has_password` says whether they can log in."""
    grids: dict[int, list[str]] = {}
    for person_id, grid in connection.execute(
        select(RESPONSIBILITY.c.person_id, RESPONSIBILITY.c.grid).order_by(RESPONSIBILITY.c.grid)
    ):
        grids.setdefault(person_id, []).append(grid)
    return [
        {**row, "grids": grids.get(row["id"], []), "has_password": row["password_hash"] is not None}
        for row in connection.execute(select(PERSON)).mappings()
    ]


def _same(old: dict[str, Any], new: PersonData) -> bool:
    before = (old["name"], list(old["roles"]), old["unit"], sorted(old["grids"]), old["attributes"] or None)
    return before == (new.name, new.roles, new.unit, sorted(new.grids), new.attributes)
