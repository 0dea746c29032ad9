"""`make demo` / `gridcase demo`: a bundled city with a simulated month, served with a login per
role. Local only: the demo passwords are printed and are the same on every machine."""

from typing import Any

from sqlalchemy import func, select

from .accounts import set_password
from .db.engine import make_engine, read
from .db.models import CaseUnit, Person
from .units import add_person

CASE_UNIT, PERSON = CaseUnit.__table__, Person.__table__
NOT_A_LOGIN = {"system"}


def add_logins(url: str, profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One login per role, named demo_<role>, password demo-<role>. A unit-scoped role gets the
    unit with the most cases in hand, so its queue is not empty."""
    centres = [u["code"] for u in profile.get("units", []) if u.get("kind") == "centre"]
    db = make_engine(url)
    try:
        with read(db) as connection:
            busiest = connection.execute(
                select(CASE_UNIT.c.unit)
                .where(CASE_UNIT.c.role == "handling", CASE_UNIT.c.active, CASE_UNIT.c.unit.not_in(centres))
                .group_by(CASE_UNIT.c.unit)
                .order_by(func.count().desc(), CASE_UNIT.c.unit)
                .limit(1)
            ).scalar()
            taken = set(connection.execute(select(PERSON.c.username)).scalars())
        logins = []
        for role in profile.get("roles", []):
            if role["code"] in NOT_A_LOGIN:
                continue
            username, password = f"demo_{role['code']}", f"demo-{role['code']}"
            unit = busiest if role.get("scope") == "unit_subtree" else None
            if username not in taken:
                add_person(db, username, f"演示{role['code']}", [role["code"]], unit=unit)
            set_password(db, username, password)
            logins.append({"username": username, "password": password, "role": role["code"], "unit": unit})
        return logins
    finally:
        db.dispose()
