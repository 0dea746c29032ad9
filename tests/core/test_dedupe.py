"""The advisory locks that keep simultaneous reports of one problem from both making a case
(core/dedupe.py): any two reports close enough to be duplicates must share a lock, and reports far
apart should not queue behind each other."""

import math
import random

import pytest

from gridcase.core.dedupe import lock_keys, search_box
from gridcase.core.gridindex import metres_scale


def _keys(lon, lat, radius, code="0101"):
    return set(lock_keys("component", code, search_box(lon, lat, radius), radius))


def _offset(lon, lat, metres, bearing):
    sx, sy = metres_scale(lat)
    return lon + metres * math.sin(bearing) / sx, lat + metres * math.cos(bearing) / sy


@pytest.mark.parametrize("radius", [5, 30, 100, 500])
def test_two_reports_within_the_radius_always_share_a_lock(radius):
    rng = random.Random(radius)
    for _ in range(3000):
        lon, lat = rng.uniform(73, 135), rng.uniform(-59, 59)
        other = _offset(lon, lat, rng.uniform(0, radius * 0.999), rng.uniform(0, 2 * math.pi))
        assert _keys(lon, lat, radius) & _keys(*other, radius), (lon, lat, other)


def test_a_report_on_a_cell_edge_shares_a_lock_with_its_neighbour_across_it():
    radius = 30
    cell = 4 * radius / metres_scale(0)[1]
    edge = math.ceil(120.61 / cell) * cell  # a meridian of the lattice
    west, east = (edge - 1e-7, 31.337), (edge + 1e-7, 31.337)
    assert _keys(*west, radius) & _keys(*east, radius)


def test_a_report_takes_at_most_four_locks_and_far_ones_take_others():
    radius = 30
    assert all(len(_keys(120.6 + i * 1e-5, 31.3, radius)) <= 4 for i in range(200))
    assert all(len(_keys(100.0, lat, radius)) <= 4 for lat in range(0, 60, 3))
    here = _keys(120.61, 31.337, radius)
    assert not here & _keys(*_offset(120.61, 31.337, 10 * radius, 1.0), radius)  # 300 m away
    assert not here & _keys(120.61, 31.337, radius, code="0103")  # another class
