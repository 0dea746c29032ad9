"""PostgreSQL goes away under the server (a restart, a failover): idle connections are checked
before use and replaced, and a connection lost in use fails only its own request, with a 503 the
client may retry, never a 500."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gridcase.core.db import connection as db_engine


def _drop_server_connections(world) -> int:
    """What a server restart does to the pool: every backend of the city's database ends."""
    admin = create_engine(world.engine.db.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    return ended


@pytest.fixture
def world(world):
    if world.engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    return world


def test_idle_connections_are_checked_and_replaced_before_use(world, monkeypatch):
    assert world.get("/api/v1/cases", "operator").status_code == 200
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE", 0.0)
    assert _drop_server_connections(world) >= 1
    for _ in range(3):
        response = world.get("/api/v1/cases", "operator")
        assert response.status_code == 200, response.text


def test_a_connection_lost_in_use_fails_its_request_with_a_503_and_the_next_one_works(world, monkeypatch):
    assert world.get("/api/v1/cases", "operator").status_code == 200
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE", 3600.0)  # too fresh to be checked
    assert _drop_server_connections(world) >= 1
    lost = world.get("/api/v1/cases", "operator")
    assert lost.status_code == 503
    assert lost.headers["Retry-After"] == "1"
    assert lost.json()["error"]["code"] == "unavailable"
    assert world.get("/api/v1/cases", "operator").status_code == 200
