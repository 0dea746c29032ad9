"""和平 on a fresh database of each backend, at a fixed moment."""

import pytest

from gridcase.core.people.actor import Actor

from ..conftest import unit_grid_centre

CENTRE = Actor.of("operator", "shift_leader", "dispatcher", "leader")


@pytest.fixture
def heping(city_engine):
    return city_engine("heping")


def point_in_street(engine, street: int) -> list[float]:
    """The centre of the first unit grid of street N (grid codes 210102NNN…)."""
    return unit_grid_centre(engine, f"210102{street:03d}")
