"""A bundled city on a fresh database of each backend, at a fixed moment (Tuesday 2026-10-13
09:00 CST)."""

from datetime import UTC, datetime

import pytest

from gridcase.core.cases import Engine
from gridcase.core.clock import ManualClock
from gridcase.core.evidence import EvidenceStore


@pytest.fixture
def city_engine(db_url, tmp_path):
    opened = []

    def open_city(name: str) -> Engine:
        engine = Engine.open(
            name, db_url, clock=ManualClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
            evidence=EvidenceStore(tmp_path / "evidence"),
        )  # fmt: skip
        engine.load_reference_data()
        opened.append(engine)
        return engine

    yield open_city
    for engine in opened:
        engine.db.dispose()
