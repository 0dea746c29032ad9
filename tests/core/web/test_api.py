"""The JSON API's behaviour: intake (JSON, multipart, GCJ-02, idempotency), listing and cursors,
transitions with versions, sessions with CSRF and throttling, hostile input, OpenAPI in step."""

import json

from sqlalchemy import text

from gridcase.core.intake.quota import Limit
from gridcase.core.people.accounts import set_password
from gridcase.core.web.openapi import document

from .conftest import STREET1

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)
REPORT = {"channel": "app", "point": STREET1, "category": "0101", "kind": "component"}


def elsewhere(i: int) -> dict:
    """A report far enough from the others (and the world's case) not to be merged as a duplicate."""
    return {**REPORT, "point": [STREET1[0] + 0.001 * (i + 1), STREET1[1]]}


def count(world, table):
    with world.engine.db.connect() as connection:
        return connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()


def test_intake_with_photos_gcj02_and_an_idempotency_key(world):
    gcj = [STREET1[0] + 0.0045, STREET1[1] - 0.0021]  # roughly where GCJ-02 puts the same spot
    files = [("photo", ("../../etc/passwd.jpg", JPEG, "image/jpeg"))]
    report = json.dumps({**REPORT, "point": gcj, "crs": "gcj02", "description": "井盖丢了"})
    first = world.post(
        "/api/v1/cases",
        "citizen",
        data={"report": report},
        files=files,
        headers={"Idempotency-Key": "app-123"},
    )
    assert first.status_code == 201, first.text
    again = world.post(
        "/api/v1/cases",
        "citizen",
        data={"report": report},
        files=files,
        headers={"Idempotency-Key": "app-123"},
    )
    assert again.status_code == 200 and again.json()["case_id"] == first.json()["case_id"]
    case = world.get(f"/api/v1/cases/{first.json()['case_id']}", "citizen").json()
    assert abs(case["lon"] - STREET1[0]) < 0.01 and case["grid"] == "320508001001001"
    assert [e["filename"] for e in case["evidence"]] == ["passwd.jpg"]  # no path survives


def test_hostile_input_gets_a_clear_4xx_and_leaves_nothing_behind(world):
    before = count(world, "case")
    hostile = '\'); DROP TABLE "case"; -- <script>alert(1)</script>'
    cases = [
        (dict(content=b"{not json", headers={"Content-Type": "application/json"}), 400, "bad_request"),
        (dict(content=b"[1, 2]", headers={"Content-Type": "application/json"}), 400, "bad_request"),
        (dict(content=b"channel=app", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
        (dict(json={**REPORT, "point": [999, 31]}), 422, "invalid_report"),
        (dict(json={**REPORT, "channel": hostile}), 422, "unknown_channel"),
        (dict(json={**REPORT, "category": hostile}), 422, "unknown_category"),
        (dict(json={**REPORT, "description": "x" * 6000}), 422, "invalid_request"),
        (dict(json={**REPORT, "description": "a\u0000b"}), 400, "invalid_text"),
        (
            dict(content=b'{"a": "' + b"x" * 1_100_000 + b'"}', headers={"Content-Type": "application/json"}),
            413,
            "too_large",
        ),
        (
            dict(
                data={"report": json.dumps(REPORT)},
                files=[("photo", ("a.jpg", b"<html>hi</html>", "image/jpeg"))],
            ),
            422,
            "evidence_type",
        ),
    ]
    for kwargs, status, code in cases:
        response = world.post("/api/v1/cases", "citizen", **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    assert count(world, "case") == before
    stored = world.post(
        "/api/v1/cases", "citizen", json={**elsewhere(0), "description": hostile, "address": hostile}
    )
    assert stored.status_code == 201
    shown = world.get(f"/api/v1/cases/{stored.json()['case_id']}", "citizen").json()
    assert shown["description"] == hostile and count(world, "case") == before + 1  # kept as text, nothing ran
    for path in ("/api/v1/cases?state=%00", "/api/v1/components/%00", "/api/v1/components/nearest?class=%00"):
        assert world.get(path, "operator").status_code == 400, path


def test_unknown_things_are_404_and_stale_versions_409(world):
    assert world.get("/api/v1/cases/999999", "operator").status_code == 404
    assert world.get("/api/v1/cases/abc", "operator").status_code == 404
    assert world.post(f"/api/v1/cases/{world.case_id}/transitions/fly", "water", json={}).status_code == 404
    stale = world.post(f"/api/v1/cases/{world.case_id}/transitions/sign", "water", json={"version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["details"]["version"] > 1
    wrong_state = world.post(f"/api/v1/cases/{world.case_id}/transitions/close", "shift_leader", json={})
    assert wrong_state.status_code == 409
    beside = world.post(f"/api/v1/cases/{world.case_id}/transitions/sign", "water", json={"remark": "签收"})
    assert beside.status_code == 422, beside.text  # a field beside payload was dropped without a word
    assert "remark" in beside.json()["error"]["message"]
    missing = world.post(f"/api/v1/cases/{world.case_id}/transitions/sign", "water", json={"payload": []})
    assert missing.status_code == 422


def test_listing_filters_and_cursor_pages(world):
    made = [world.post("/api/v1/cases", "citizen", json=elsewhere(i)).json()["case_id"] for i in range(4)]
    seen, cursor = [], None
    while True:
        page = world.get(
            "/api/v1/cases", "operator", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted([*made, world.case_id], reverse=True)
    dispatched = world.get("/api/v1/cases", "operator", params={"state": "dispatched"}).json()["items"]
    assert [c["id"] for c in dispatched] == [world.case_id]
    by_unit = world.get("/api/v1/cases", "operator", params={"unit": "water"}).json()["items"]
    assert world.case_id in [c["id"] for c in by_unit]
    assert {c["light"] for c in dispatched} <= {"green", "yellow", "red"}
    assert world.get("/api/v1/cases", "operator", params={"light": "purple"}).status_code == 422
    assert world.get("/api/v1/cases", "operator", params={"cursor": "!!"}).status_code == 422


def test_a_session_needs_its_csrf_token_and_logins_are_throttled(world):
    set_password(world.engine.db, "water", "water-password")
    client = world.client
    for _ in range(5):
        assert (
            client.post("/api/v1/session", json={"username": "water", "password": "nope"}).status_code == 401
        )
    throttled = client.post("/api/v1/session", json={"username": "water", "password": "water-password"})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    with world.engine.db.begin() as connection:
        connection.execute(text("DELETE FROM login_attempt"))
    session = client.post("/api/v1/session", json={"username": "water", "password": "water-password"})
    assert session.status_code == 200 and "gridcase_session" in session.cookies
    assert "password" not in client.cookies.get("gridcase_session", "")
    assert client.get("/api/v1/me").json()["username"] == "water"
    url = f"/api/v1/cases/{world.case_id}/transitions/sign"
    assert client.post(url, json={}).json()["error"]["code"] == "csrf"
    signed = client.post(url, json={}, headers={"X-CSRF-Token": session.json()["csrf_token"]})
    assert signed.status_code == 200
    client.delete("/api/v1/session")
    assert client.get("/api/v1/me").status_code == 401


def test_public_intake_is_rate_limited(world, monkeypatch):
    monkeypatch.setitem(world.client.app.state.limits, "intake", Limit("intake", rate=2, per=60))
    statuses = [world.post("/api/v1/cases", "citizen", json=elsewhere(i)).status_code for i in range(3)]
    assert statuses == [201, 201, 429]


def test_the_openapi_document_lists_exactly_the_routes(world):
    doc = world.get("/api/v1/openapi.json", None).json()
    assert doc["openapi"].startswith("3.1")
    served = {
        (method, route.path)
        for route in world.client.app.routes
        if route.path.startswith("/api/v1")
        for method in route.methods - {"HEAD"}
    }
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    assert doc == document(world.engine)


def test_health_and_readiness(world):
    assert world.client.get("/healthz").json() == {"status": "ok"}
    ready = world.client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["revision"]


def test_user_and_token_commands_make_a_working_token(world, cli, db_url):
    from .conftest import PEOPLE  # noqa: F401  (the same test city)

    base = ["--profile", "tests/profiles/testcity", "--db", db_url]
    added = cli("user", "add", "wang", "--role", "department", "--unit", "water", *base)
    assert added.code == 0 and "password (shown once): " in added.out
    token = cli("token", "create", "wang", *base).out.strip()
    me = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["username"], me["unit"]) == ("wang", "water")
    assert cli("user", "add", "li", "--role", "mayor", *base).err.startswith("error: no role 'mayor'")
    paid = cli("user", "add", "zhao", "--role", "supervisor", "--attribute", "performance_pay=1800", *base)
    assert paid.code == 0
    bad = cli("user", "add", "qian", "--role", "supervisor", "--attribute", "performance_pay", *base)
    assert bad.code == 1 and "is not KEY=VALUE" in bad.err
    from sqlalchemy import select

    from gridcase.core.db.models import Person

    person = Person.__table__
    with world.engine.db.connect() as connection:
        stored = dict(connection.execute(select(person.c.username, person.c.attributes)).all())
    assert stored["zhao"] == {"performance_pay": 1800} and "qian" not in stored
    assert cli("token", "revoke", token[:10], *base).code == 0
    assert world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_worker_remembers_who_asked_for_identity_seconds_and_no_longer(world):
    """Requests with a token the worker saw a moment ago skip the database; a revoked token is
    refused once that moment has passed, and one that was refused is not remembered."""
    import time as clock

    from starlette.testclient import TestClient

    from gridcase.core.people.accounts import create_token, revoke_token
    from gridcase.core.settings import Settings
    from gridcase.core.web.app import create_app

    app = create_app(Settings(sweep_seconds=0, identity_seconds=0.5), engine=world.engine)
    with TestClient(app) as client:
        token = create_token(world.engine.db, "water", "phone", world.engine.time.now())
        me = {"Authorization": f"Bearer {token}"}
        assert [client.get("/api/v1/me", headers=me).status_code for _ in range(3)] == [200] * 3
        assert app.state.identities.calls == 1  # the first request looked it up; the others knew
        revoke_token(world.engine.db, token[:10], world.engine.time.now())
        assert client.get("/api/v1/me", headers=me).status_code == 200  # the price, for a moment
        clock.sleep(0.6)
        assert [client.get("/api/v1/me", headers=me).status_code for _ in range(2)] == [401, 401]
        assert app.state.identities.calls == 3  # each refusal was looked up again


def test_each_request_is_one_access_log_record(world, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="gridcase.access"):
        world.get(f"/api/v1/cases/{world.case_id}", "water")
    (line,) = [r.fields for r in caplog.records if r.name == "gridcase.access"]
    assert line["method"] == "GET" and line["status"] == 200 and line["person"] == world.ids["water"]
    assert line["path"] == f"/api/v1/cases/{world.case_id}" and line["ms"] >= 0


def test_the_server_sweeps_time_limits_in_the_background(world):
    import time as clock
    from datetime import timedelta

    from starlette.testclient import TestClient

    from gridcase.core.settings import Settings
    from gridcase.core.web.app import create_app

    world.engine.time.set(world.engine.time.now() + timedelta(days=30))  # every light is due
    with TestClient(create_app(Settings(sweep_seconds=0.05), engine=world.engine)):
        deadline = clock.monotonic() + 10
        while count_fired(world) == 0 and clock.monotonic() < deadline:
            clock.sleep(0.05)
    assert count_fired(world) > 0


def count_fired(world):
    with world.engine.db.connect() as connection:
        return connection.execute(text("SELECT COUNT(*) FROM timer WHERE status = 'fired'")).scalar()


def test_serve_refuses_a_database_that_is_not_migrated(cli, tmp_path):
    from gridcase.core.db.connection import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    refused = cli("serve", "--profile", "tests/profiles/testcity", "--db", url)
    assert refused.code == 1
    assert "the database is at migration 0003" in refused.err and "gridcase db upgrade" in refused.err
