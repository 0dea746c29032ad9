"""`gridcase simulate`: a realistic, reproducible month of work through the real engine.

    result = simulate("heping", "sqlite:///demo.db", days=30, seed=1, start=date(2026, 10, 1))
    result["figures"]["closure_rate"]

The workload (workload.py) is generated from the profile's `simulation` section; each city reads
it onto its own grids, classes and channels (city.py); the loop (run.py) fires the workflow's
transitions as the simulated people would; the figures (figures.py) are read back from the
database, which `gridcase serve` can then open.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gridcase.core.cases.evidence import EvidenceStore, default_root
from gridcase.core.db.connection import make_engine, read, upgrade
from gridcase.core.db.models import Case
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.profile import load_validated
from gridcase.core.settings import settings_path
from gridcase.core.simulate.figures import figures
from gridcase.core.simulate.run import Simulation, Tally
from gridcase.core.simulate.workload import Incident, Workload, incidents, timezone_of
from gridcase.core.timesource import ManualTime

__all__ = ["Incident", "Workload", "incidents", "open_city", "simulate", "workload_of", "period_of"]


@dataclass(frozen=True)
class Period:
    start: datetime  # local midnight of the first day, in UTC
    end: datetime
    label: str  # an assessment period: 2026-10-01..2026-10-30


def period_of(start: date, days: int, timezone: str) -> Period:
    zone = ZoneInfo(timezone)
    first = datetime.combine(start, time(), zone).astimezone(UTC)
    last = start + timedelta(days=days - 1)
    return Period(first, first + timedelta(days=days), f"{start.isoformat()}..{last.isoformat()}")


def workload_of(engine: Engine, reports_per_day: int | None = None) -> Workload:
    return Workload.of(engine.profile, sorted(engine.catalogue.classes)).scaled(reports_per_day)


def open_city(
    profile: str,
    database_url: str,
    start: date,
    days: int,
    evidence: Path | None = None,
    resume: bool = False,
):
    """A migrated database with the profile's units and grids, on a clock at the start of the
    period; returns the engine and the period. The database must hold no case, or with
    `resume` none reported from the period's start on (a city's next fortnight)."""
    loaded, pm = load_validated(profile)
    period = period_of(start, days, timezone_of(loaded.plain()))
    upgrade(database_url)
    db = make_engine(database_url)
    with read(db) as connection:
        existing, last = connection.execute(
            select(func.count(), func.max(Case.__table__.c.reported_at))
        ).one()
    where = make_url(database_url).render_as_string(hide_password=True)
    if existing and not resume:
        db.dispose()
        raise GridcaseError(
            "conflict",
            f"the database already holds {existing} cases; simulate into a new one ({where}), "
            f"or add days after them with --continue",
        )
    if existing and last >= period.start:
        db.dispose()
        local = last.astimezone(ZoneInfo(timezone_of(loaded.plain())))
        raise GridcaseError(
            "conflict",
            f"the database's last case was reported at {local:%Y-%m-%d %H:%M}; "
            f"continue from {local.date() + timedelta(days=1)} or later",
        )
    engine = Engine(
        loaded,
        pm,
        db,
        time=ManualTime(period.start),
        evidence=EvidenceStore(evidence or default_root(database_url, settings_path())),
    )
    engine.load_reference_data()
    return engine, period


def fresh_sqlite(path: Path) -> str:
    """A new SQLite database at `path`: an earlier run's file there is replaced."""
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    return f"sqlite:///{path.resolve()}"


def simulate(
    profile: str,
    database_url: str,
    days: int,
    seed: int,
    start: date,
    reports_per_day: int | None = None,
    stream: list[Incident] | None = None,
    progress: Callable[[int], None] | None = None,
    evidence: Path | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Run `days` days from `start`; `stream` replays a given workload instead of the profile's;
    `resume` adds them to a database whose cases all came before `start`."""
    if days < 1:
        raise GridcaseError("invalid", "--days must be at least 1")
    engine, period = open_city(profile, database_url, start, days, evidence, resume)
    try:
        if stream is None:
            stream = incidents(workload_of(engine, reports_per_day), start, days, seed)
        tally: Tally = Simulation(engine, period.start, period.end, progress).run(stream)
        return {
            "profile": engine.profile["name"],
            "title": engine.profile.get("title", {}),
            "seed": seed,
            "start": start.isoformat(),
            "days": days,
            "tally": {
                "reports": tally.reports,
                "cases": tally.cases,
                "duplicates": tally.duplicates,
                "rejected_at_intake": tally.rejected,
                "fired": dict(sorted(tally.fired.items())),
                "refused": dict(sorted(tally.refused.items())),
                "mechanisms": dict(sorted(tally.mechanisms.items())),
                "notices": dict(sorted(tally.notices.items())),
                "classified": dict(sorted(tally.classified.items())),
                "sweeps": tally.sweeps,
            },
            "figures": figures(engine, period.start, period.end, period.label),
        }
    finally:
        engine.db.dispose()
