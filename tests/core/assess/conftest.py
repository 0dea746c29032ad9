"""Hand-made assessment data: cases with clocks and events written straight to the tables, so a
test states exactly which facts exist and checks the counts that come back."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from gridcase.core.db.connection import write
from gridcase.core.db.models import Case, CaseEvent, CaseUnit, Clock

CASE, CLOCK, EVENT, CASE_UNIT = (t.__table__ for t in (Case, Clock, CaseEvent, CaseUnit))
OCT = datetime(2026, 10, 1, tzinfo=UTC)  # (08:00 in Shanghai: inside October there)


def at(day: int, hour: int = 2, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Seeder:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.numbers = itertools.count(1)

    def case(
        self,
        unit="water",
        class_code="0101",
        kind="component",
        channel="patrol",
        grid=None,
        clocks=(),
        events=(),
        responsible=None,
    ):
        """One case; clocks are dicts (stage, started, deadline, stopped, by, …); events (code, at)."""
        n = next(self.numbers)
        with write(self.engine.db) as connection:
            case_id = connection.execute(
                insert(CASE).values(
                    number=f"T{n:06d}",
                    workflow="standard",
                    state="handling",
                    state_kind="open",
                    version=1,
                    kind=kind,
                    class_code=class_code,
                    major_code=class_code[:2],
                    urgent=False,
                    channel=channel,
                    lon=120.61,
                    lat=31.337,
                    grid=grid,
                    reported_at=OCT - timedelta(days=40),
                    updated_at=OCT,
                )
            ).inserted_primary_key[0]
            for share_unit, share in responsible or [(unit, 1.0)]:
                connection.execute(
                    insert(CASE_UNIT).values(
                        case_id=case_id,
                        unit=share_unit,
                        role="responsible",
                        share=share,
                        depth=0,
                        active=True,
                        since=OCT,
                    )
                )
            for clock in clocks:
                stopped = clock.get("stopped")
                connection.execute(
                    insert(CLOCK).values(
                        case_id=case_id,
                        stage=clock.get("stage", "case"),
                        owner=clock.get("owner", unit),
                        status=clock.get("status", "stopped" if stopped else "running"),
                        started_at=clock.get("started", OCT - timedelta(days=3)),
                        deadline=clock.get("deadline"),
                        stopped_at=stopped,
                        stopped_by=clock.get("by", "close" if stopped else None),
                        paused_at=clock.get("paused"),
                        superseded=clock.get("superseded", False),
                        extended=clock.get("extended", 0),
                    )
                )
            for seq, (code, moment) in enumerate(events, start=2):
                connection.execute(
                    insert(EVENT).values(
                        case_id=case_id,
                        seq=seq,
                        transition=code,
                        from_state="handling",
                        to_state="handling",
                        actor_roles=[],
                        at=moment,
                        payload={},
                        unit=unit,
                    )
                )
        return case_id

    def closed(self, day: int, on_time: bool, **kw) -> int:
        """A case whose whole-case clock stopped by `close` on `day` of October."""
        stopped = at(day)
        deadline = stopped + (timedelta(hours=5) if on_time else -timedelta(hours=5))
        return self.case(clocks=[{"stopped": stopped, "deadline": deadline}], **kw)

    def overdue_open(self, **kw) -> int:
        return self.case(clocks=[{"deadline": at(20)}], **kw)


@pytest.fixture
def seed(engine):
    return Seeder(engine)
