"""`make demo` / `gridcase demo`: a bundled city with a simulated month, served with a login per
role. Local only: the demo passwords are printed and are the same on every machine.

Every printed login can take its role's steps on the simulated month: a unit-scoped role gets
the unit with the most cases in hand, a grid-scoped one (the supervisor's 核实 and 核查) the
top-level grids that hold a case waiting for each of its steps. A demo running from a folder
holds a lock there, so a second `make demo` says so instead of deleting the live database.
"""

import os
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from gridcase.core.db.connection import make_engine, read
from gridcase.core.db.models import Case, CaseUnit, Grid, Person
from gridcase.core.errors import GridcaseError
from gridcase.core.people import roster as people
from gridcase.core.people.accounts import set_password
from gridcase.core.profile.taxonomy import label_zh
from gridcase.core.profile.workflow import workflows

CASE, CASE_UNIT, GRID, PERSON = Case.__table__, CaseUnit.__table__, Grid.__table__, Person.__table__
NOT_A_LOGIN = {"system"}
LOCK = ".demo.lock"


def add_logins(url: str, profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One login per role, named demo_<role>, password demo-<role>, with the unit or grids its
    role's scope needs to see cases it can act on."""
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
            roles = [r for r in profile.get("roles", []) if r["code"] not in NOT_A_LOGIN]
            # the department's own streets first, so the supervisor's reports come back to it
            home = set(connection.execute(select(GRID.c.code).where(GRID.c.unit == busiest)).scalars())
            patrols = {
                r["code"]: patrol(connection, profile, r["code"], home)
                for r in roles
                if r.get("scope") == "grids"
            }
        logins = []
        for role in roles:
            code = role["code"]
            username, password = f"demo_{code}", f"demo-{code}"
            unit = busiest if role.get("scope") == "unit_subtree" else None
            grids = patrols.get(code, [])
            if username in taken:
                people.change(db, profile, username, roles=[code], unit=unit, grids=grids, active=True)
                set_password(db, username, password)
            else:
                person = people.PersonData(
                    username, f"演示{label_zh(role.get('name')) or code}", [code], unit, grids
                )
                people.add(db, profile, person, password)
            logins.append(
                {"username": username, "password": password, "role": code, "unit": unit, "grids": grids}
            )
        return logins
    finally:
        db.dispose()


def patrol(
    connection: Connection, profile: dict[str, Any], role: str, home: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """The fewest top-level grids (a district's streets) that hold an open case for each step
    `role` can take, `home` grids first, then the busiest: a supervisor of these can both 核实
    and 核查, in the streets whose cases the demo's department handles."""
    machines = workflows(profile)
    waiting: dict[str, Counter] = {}  # step → cases waiting for it, by top-level grid
    for workflow, state, path in connection.execute(
        select(CASE.c.workflow, CASE.c.state, CASE.c.grid_path).where(
            CASE.c.state_kind == "open", CASE.c.grid_path.is_not(None)
        )
    ):
        levels = path.strip("/").split("/")
        top = levels[1] if len(levels) > 1 else levels[0]  # below the district, when there is one
        for step in machines[workflow].available(state, {role}) if workflow in machines else ():
            waiting.setdefault(step.code, Counter())[top] += 1
    chosen: list[str] = []
    while uncovered := [c for step, c in waiting.items() if not set(c) & set(chosen)]:
        busiest: Counter[str] = Counter()
        for counts in uncovered:
            busiest.update({grid: 1 for grid in counts})  # steps a grid would cover
        total = sum(uncovered, Counter())
        chosen.append(max(busiest, key=lambda g: (g in home, busiest[g], total[g], g)))
    return sorted(chosen)


@contextmanager
def claim(folder: Path, port: int | None) -> Iterator[None]:
    """Hold `folder` for one demo, and check `port` is free (None: not serving), before anything
    there is touched; a demo already running there or on the port is an error saying what to do."""
    if port is not None and not _free(port):
        raise GridcaseError(
            "port_in_use",
            f"port {port} is in use (a demo already running?); stop what listens there, "
            f"or choose another: --port {port + 1} (make demo PORT={port + 1})",
        )
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / LOCK).open("a+")
    try:
        if not _lock(handle):
            handle.seek(0)
            running = handle.read().strip() or "another demo"
            raise GridcaseError(
                "demo_running",
                f"a demo is already running from {folder}/ ({running}); stop it (Ctrl-C in its "
                "terminal) first, or give this one its own folder and port: --dir demo2 --port 8001 "
                "(make demo DEMO_ARGS='--dir demo2' PORT=8001)",
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}" + (f", port {port}" if port is not None else ""))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def _lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: the port check alone guards a serving demo
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _free(port: int) -> bool:
    with socket.socket() as probe:
        # as uvicorn binds: a port left in TIME_WAIT by a stopped demo is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
