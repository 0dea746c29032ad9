"""Sessions held in the database: a session ends everywhere at once when its person logs out, is
deactivated, given other roles or a new password, and after its idle and absolute lifetimes,
whichever comes first. A copied cookie is worth nothing once its session ended."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from gridcase.core.db.connection import read
from gridcase.core.db.models import WebSession
from gridcase.core.ops.retention import Retention, purge
from gridcase.core.people import roster as people
from gridcase.core.people.accounts import Lifetimes, set_password
from gridcase.core.places.units import add_person, update_person
from gridcase.core.web.app import create_app
from gridcase.core.web.identity import Recent

PASSWORD = "water-password"


@pytest.fixture
def app(engine):
    add_person(engine.db, "water", "水务", ["department"], unit="water")
    add_person(engine.db, "admin", "管理员", ["admin"])
    for name in ("water", "admin"):
        set_password(engine.db, name, PASSWORD)
    app = create_app(engine=engine)
    # as a served worker remembers who asked: an ended session must not outlive this
    app.state.recent_identities = Recent(3600)
    return app


def api_login(app, name: str = "water") -> TestClient:
    client = TestClient(app)
    done = client.post("/api/v1/session", json={"username": name, "password": PASSWORD})
    assert done.status_code == 200, done.text
    client.headers["X-CSRF-Token"] = done.json()["csrf_token"]
    return client


def copy_of(client: TestClient, app) -> TestClient:
    """Another browser with the same cookie, as an attacker who copied it would have."""
    thief = TestClient(app)
    thief.cookies.set("gridcase_session", client.cookies["gridcase_session"])
    return thief


def me(client: TestClient) -> int:
    return client.get("/api/v1/me").status_code


def test_a_cookie_copied_before_logout_is_refused_after_it(app):
    client = api_login(app)
    thief = copy_of(client, app)
    assert me(thief) == 200
    assert client.delete("/api/v1/session").status_code == 200
    assert me(client) == 401 and me(thief) == 401


def test_a_cookie_copied_before_a_ui_logout_is_refused_after_it(app):
    client = TestClient(app)
    csrf = client.get("/ui/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"username": "water", "password": PASSWORD, "csrf_token": csrf}
    assert client.post("/ui/login", data=form, follow_redirects=False).status_code == 303
    thief = copy_of(client, app)
    queue = client.get("/ui/queue")
    assert thief.get("/ui/queue", follow_redirects=False).status_code == 200
    csrf = queue.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert (
        client.post("/ui/logout", data={"csrf_token": csrf}, headers={"X-CSRF-Token": csrf}).status_code
        == 200
    )
    assert thief.get("/ui/queue", follow_redirects=False).headers["location"].startswith("/ui/login")


def test_deactivation_ends_every_session_of_the_person_at_once(app, engine):
    client, other = api_login(app), api_login(app)
    admin = api_login(app, "admin")
    people.change(engine.db, engine.profile, "water", active=False)
    assert me(client) == 401 and me(other) == 401
    people.change(engine.db, engine.profile, "water", active=True)
    assert me(client) == 401, "reactivated, the person logs in again: the sessions ended"
    assert me(admin) == 200, "someone else's sessions go on"


def test_a_new_password_ends_the_persons_sessions(app, engine):
    client = api_login(app)
    set_password(engine.db, "water", "another-password")
    assert me(client) == 401


def test_other_roles_end_the_persons_sessions_from_the_cli_the_roster_and_the_ui(app, engine, tmp_path):
    client = api_login(app)
    people.change(engine.db, engine.profile, "water", name="水务局")  # a new name is no new rights
    assert me(client) == 200
    people.change(engine.db, engine.profile, "water", roles=["department", "leader"])
    assert me(client) == 401
    client = api_login(app)
    roster = tmp_path / "people.csv"
    roster.write_text("username,roles\nwater,department\n", encoding="utf-8")
    assert people.import_file(engine.db, engine.profile, roster).updated == 1
    assert me(client) == 401
    client = api_login(app)
    update_person(engine.db, "water", ["department"], "water", True)  # what the admin UI saves
    assert me(client) == 200
    update_person(engine.db, "water", ["department"], "water", False)
    assert me(client) == 401


def test_a_session_ends_after_its_idle_and_its_absolute_lifetime(app, engine):
    lifetimes = Lifetimes()
    client = api_login(app)
    engine.time.advance(seconds=(lifetimes.idle - timedelta(minutes=2)).total_seconds())
    assert me(client) == 200  # in use: it goes on
    engine.time.advance(seconds=(lifetimes.idle - timedelta(minutes=2)).total_seconds())
    assert me(client) == 200
    engine.time.advance(seconds=lifetimes.idle.total_seconds() + 60)
    assert me(client) == 401  # left idle

    client = api_login(app)
    used = timedelta()
    while used < lifetimes.absolute - lifetimes.idle / 2:
        assert me(client) == 200
        engine.time.advance(seconds=(lifetimes.idle / 2).total_seconds())
        used += lifetimes.idle / 2
    engine.time.advance(seconds=(lifetimes.idle / 2).total_seconds())
    assert me(client) == 401  # in use all along, but past its absolute lifetime


def test_the_sweep_purges_sessions_that_can_no_longer_be_used(app, engine):
    api_login(app).delete("/api/v1/session")  # logged out: gone at once
    api_login(app)
    kept = api_login(app)

    def sessions() -> int:
        with read(engine.db) as connection:
            return connection.execute(select(func.count()).select_from(WebSession.__table__)).scalar_one()

    assert sessions() == 2
    retention = Retention()
    engine.time.advance(seconds=(retention.sessions - timedelta(minutes=5)).total_seconds())
    assert me(kept) == 200
    engine.time.advance(seconds=600)
    assert purge(engine.db, engine.time.now(), retention)["web_session"] == 1
    assert sessions() == 1 and me(kept) == 200


def test_a_temporary_password_opens_nothing_until_its_person_chooses_their_own(app, engine):
    from gridcase.core.people import administration

    elsewhere = api_login(app)
    temporary = administration.reset_password(engine.db, "water", "admin", engine.time.now())
    assert me(elsewhere) == 401  # the reset ended the sessions
    client = TestClient(app)
    refused = client.post("/api/v1/session", json={"username": "water", "password": temporary})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "password_change_required"
    assert me(client) == 401
    wrong = {"username": "water", "password": "not the temporary one", "new_password": "water-own-2026"}
    assert client.post("/api/v1/session/password", json=wrong).status_code == 401
    same = {"username": "water", "password": temporary, "new_password": temporary}
    assert client.post("/api/v1/session/password", json=same).json()["error"]["code"] == "password_reused"
    short = {"username": "water", "password": temporary, "new_password": "short"}
    assert client.post("/api/v1/session/password", json=short).json()["error"]["code"] == "weak_password"
    chosen = client.post(
        "/api/v1/session/password",
        json={"username": "water", "password": temporary, "new_password": "water-own-2026"},
    )
    assert chosen.status_code == 200 and me(client) == 200  # logged in, as a login would
    assert (
        TestClient(app).post("/api/v1/session", json={"username": "water", "password": temporary}).status_code
        == 401
    )
    again = TestClient(app).post("/api/v1/session", json={"username": "water", "password": "water-own-2026"})
    assert again.status_code == 200
    (change,) = [c for c in administration.history(engine.db) if c["changes"] == {"password": "changed"}]
    assert change["changed_by"] == "water" and change["code"] == "water"
