"""Knowing who asks: one statement gives the person of a token or a session with their
responsibility grids, whatever characters a city's grid codes use."""

from sqlalchemy import insert, select

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Grid
from gridcase.core.people.accounts import create_token, person_by_id, person_by_token, revoke_token
from gridcase.core.places.units import add_person

GRID = Grid.__table__


def _grid_like(engine, code: str, new_code: str) -> None:
    with write(engine.db) as connection:
        row = connection.execute(select(GRID).where(GRID.c.code == code)).mappings().one()
        connection.execute(insert(GRID).values({**row, "code": new_code}))


def test_a_person_comes_with_every_responsibility_grid_by_token_and_by_id(engine):
    _grid_like(engine, "320508001", "320508001,north")  # a pattern of the city's own may allow it
    grids = ["320508001", "320508002", "320508001,north"]
    person_id = add_person(engine.db, "zhou", "周", ["supervisor"], grids=grids)
    add_person(engine.db, "wu", "吴", ["operator"])
    token = create_token(engine.db, "zhou", "handset", engine.time.now())
    with read(engine.db) as connection:
        by_token = person_by_token(connection, token)
        by_id = person_by_id(connection, person_id)
        other = person_by_id(connection, person_id + 1)
    assert by_token["username"] == by_id["username"] == "zhou"
    assert by_token["grids"] == by_id["grids"] == frozenset(grids)
    assert other["username"] == "wu" and other["grids"] == frozenset()
    revoke_token(engine.db, token[:10], engine.time.now())
    with read(engine.db) as connection:
        assert person_by_token(connection, token) is None
