"""Time limits (issue 4): deadline computation, and one sweep among a million open timers.

GRIDCASE_BENCH_SCALE (default 1) scales the number of open timers.
"""

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text, update

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.db.connection import upgrade
from gridcase.core.db.models import Timer
from gridcase.core.engine import Engine
from gridcase.core.people.actor import Actor
from gridcase.core.profile import load_validated
from gridcase.core.sla import sweep
from gridcase.core.sla.deadlines import Deadlines
from gridcase.core.timesource import ManualTime

from .bench_engine import PROFILE_YAML, scratch_pg
from .figures import Figure

CST = ZoneInfo("Asia/Shanghai")
N = 100_000
SCALE = float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))
OPEN_TIMERS = int(1_000_000 * SCALE)
DUE = 1_000
TIMER = Timer.__table__
NOW = datetime(2026, 10, 13, 6, tzinfo=UTC)


def _sweep_figures(url: str, tmp: Path, backend: str) -> list[Figure]:
    upgrade(url)
    engine = Engine.open(tmp / "bench", url, time=ManualTime(NOW), evidence=EvidenceStore(tmp / "ev"))
    engine.load_reference_data()
    from gridcase.core.places import grids

    grids.import_features(
        engine.db,
        grids.lattice((117.0, 34.1, 117.4, 34.4), "320300", ["district", "street"], [10], [3]),
        engine.profile,
        replace=True,
    )
    engine.places.reload_grids()
    case_id = engine.intake(
        {"channel": "patrol", "point": [117.1, 34.2], "category": "0101", "kind": "component"},
        Actor.of("supervisor"),
    )["case_id"]
    clock_id = engine.case(case_id)["clocks"][0]["id"]
    later = NOW + timedelta(days=30)
    rows = [
        {
            "clock_id": clock_id,
            "case_id": case_id,
            "kind": "red",
            "rung": None,
            "due_at": later,
            "status": "pending",
        }
    ] * 50_000
    with engine.db.begin() as connection:
        for _ in range(OPEN_TIMERS // 50_000):
            connection.execute(insert(TIMER), rows)
        due = [
            {
                "clock_id": clock_id,
                "case_id": case_id,
                "kind": "escalation" if n % 2 else "red",
                "rung": "urge" if n % 2 else None,
                "due_at": NOW - timedelta(minutes=1),
                "status": "pending",
            }
            for n in range(DUE)
        ]
        connection.execute(insert(TIMER), due)
        due_ids = [r[0] for r in connection.execute(select(TIMER.c.id).where(TIMER.c.due_at <= NOW))]
        open_count = connection.execute(
            select(func.count()).select_from(TIMER).where(TIMER.c.status == "pending")
        ).scalar_one()
        if backend == "postgresql":
            connection.execute(text("ANALYZE timer"))
    sweeps, selects = [], []
    for _ in range(5):
        with engine.db.begin() as connection:
            connection.execute(
                update(TIMER)
                .where(TIMER.c.id.in_(due_ids))
                .values(status="pending", fired_at=None, fired_by=None)
            )
        start = time.perf_counter()
        fired = sweep.sweep(engine, NOW)
        sweeps.append(time.perf_counter() - start)
        assert len(fired) == DUE, len(fired)
        start = time.perf_counter()
        with engine.db.connect() as connection:
            connection.execute(
                select(TIMER)
                .where(TIMER.c.status == "fired", TIMER.c.due_at <= NOW)
                .order_by(TIMER.c.id)
                .limit(10_000)
            ).all()
        selects.append(time.perf_counter() - start)
    engine.db.dispose()
    took, baseline = statistics.median(sweeps), statistics.median(selects)
    note = f"{open_count} open timers, {DUE} due (half escalations writing notices)"
    return [
        Figure(f"sla.sweep.{backend}", took * 1000, "ms", "< 200", note),
        Figure(
            f"sla.sweep_ratio_to_select.{backend}",
            took / baseline,
            "x",
            "",
            "vs an indexed SELECT of the same due rows",
        ),
    ]


def run() -> list[Figure]:
    profile, _ = load_validated("standard")
    deadlines = Deadlines(profile.plain())
    rng = random.Random(5)
    base = datetime(2026, 1, 5, tzinfo=CST)
    starts = [base + timedelta(minutes=rng.randrange(0, 300 * 24 * 60)) for _ in range(N)]
    cases = [
        {
            "kind": "component",
            "class_code": "0101",
            "major_code": "01",
            "standard": rng.choice(["damaged", "loose", "surround", "missing"]),
        }
        for _ in range(N)
    ]
    for start, case in zip(starts[:1000], cases[:1000], strict=True):  # warm the day cache
        deadlines.compute("handle", case, start)
    begin = time.perf_counter()
    for start, case in zip(starts, cases, strict=True):
        deadlines.compute("handle", case, start)
    rate = N / (time.perf_counter() - begin)
    begin = time.perf_counter()
    for start in starts:
        start + timedelta(minutes=240)
    baseline = N / (time.perf_counter() - begin)
    figures = [
        Figure(
            "sla.deadline_computation",
            rate,
            "deadlines/s",
            ">= 100000",
            "立结案标准 rows of 4 work_hour to 5 work_day, holidays and 调休 included",
        ),
        Figure(
            "sla.deadline_ratio_to_timedelta", rate / baseline, "x", "", "vs adding a timedelta, same run"
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "bench").mkdir()
        (tmp / "bench" / "profile.yaml").write_text(PROFILE_YAML, encoding="utf-8")
        figures += _sweep_figures(f"sqlite:///{tmp / 'sla.db'}", tmp, "sqlite")
        with scratch_pg("gridcase_bench_sla") as pg:
            if pg:
                figures += _sweep_figures(pg, tmp, "postgresql")
    return figures
