"""A bundled city on a fresh database of each backend, at a fixed moment (Tuesday 2026-10-13
09:00 CST)."""

import dataclasses
from datetime import UTC, datetime

import pytest

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.engine import Engine
from gridcase.core.timesource import ManualTime


@pytest.fixture
def city_engine(db_url, tmp_path):
    opened = []

    def open_city(name: str) -> Engine:
        engine = Engine.open(
            name, db_url, time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
            evidence=EvidenceStore(tmp_path / "evidence"),
        )  # fmt: skip
        engine.load_reference_data()
        opened.append(engine)
        return engine

    yield open_city
    for engine in opened:
        engine.db.dispose()


@pytest.fixture
def switch_off():
    """Turn a mechanism off in a running engine, for the tests that show the mechanism is what
    makes the difference: `switch_off(engine, "standard", separate=())` changes the workflow,
    `switch_off(engine, "yimen", "raise", moves=())` one transition, and
    `switch_off(engine, "standard", "take_over")` removes a transition."""

    def off(engine, workflow: str, transition: str | None = None, **fields) -> None:
        machine = engine.catalogue.workflows[workflow]
        if transition is None:
            engine.catalogue.workflows[workflow] = dataclasses.replace(machine, **fields)
            return
        transitions = dict(machine.transitions)
        if fields:
            transitions[transition] = dataclasses.replace(transitions[transition], **fields)
        else:
            del transitions[transition]
        engine.catalogue.workflows[workflow] = dataclasses.replace(machine, transitions=transitions)

    return off


def unit_grid_centre(engine, prefix: str) -> list[float]:
    """The centre of the first unit grid whose code starts with `prefix` (a street's, a county's)."""
    import shapely

    feature = next(
        f for f in engine.profile["grids"]["features"]
        if f["properties"]["level"] == "unit_grid" and f["properties"]["code"].startswith(prefix)
    )  # fmt: skip
    centre = shapely.geometry.shape(feature["geometry"]).centroid
    return [round(centre.x, 6), round(centre.y, 6)]
