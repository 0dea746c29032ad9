"""和平 on a fresh database of each backend, at a fixed moment."""

import pytest
import shapely

from gridcase.core.cases import Actor

CENTRE = Actor.of("operator", "shift_leader", "dispatcher", "leader")


@pytest.fixture
def heping(city_engine):
    return city_engine("heping")


def point_in_street(engine, street: int) -> list[float]:
    """The centre of the first unit grid of street N (grid codes 210102NNN…)."""
    prefix = f"210102{street:03d}"
    feature = next(
        f for f in engine.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid" and f["properties"]["code"].startswith(prefix)
    )  # fmt: skip
    centre = shapely.geometry.shape(feature["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]
