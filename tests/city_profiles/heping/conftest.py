"""和平 on a fresh database of each backend, at a fixed moment."""

from datetime import UTC, datetime

import pytest
import shapely

from gridcase.core.cases import Actor, Engine
from gridcase.core.clock import ManualClock
from gridcase.core.evidence import EvidenceStore

CENTRE = Actor.of("operator", "shift_leader", "dispatcher", "leader")


@pytest.fixture
def heping(db_url, tmp_path):
    engine = Engine.open(
        "heping", db_url, clock=ManualClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence"),
    )  # fmt: skip
    engine.load_reference_data()
    yield engine
    engine.db.dispose()


def point_in_street(engine, street: int) -> list[float]:
    """The centre of the first unit grid of street N (grid codes 210102NNN…)."""
    prefix = f"210102{street:03d}"
    feature = next(
        f for f in engine.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid" and f["properties"]["code"].startswith(prefix)
    )  # fmt: skip
    centre = shapely.geometry.shape(feature["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]
