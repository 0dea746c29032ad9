"""Idempotency keys as integrations use them: each caller's keys are its own, a key reused with
another body is refused, a transition retried with its key answers as its first attempt did, and
keys are forgotten after their window (docs/operations.md)."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from gridcase.core.ops.retention import Retention
from gridcase.core.people.accounts import create_token
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.web.api_cases import fire_once

from .conftest import STREET1

WINDOW = Retention().idempotency_keys  # the default, kept when settings name none


def report(i: int, **extra) -> dict:
    """A report far enough from the others (and the world's case) not to be merged as a duplicate."""
    point = [STREET1[0] + 0.001 * (i + 1), STREET1[1]]
    return {"channel": "camera", "point": point, "category": "0101", "kind": "component", **extra}


def integration(world, name: str) -> dict[str, str]:
    """The headers of a new system account (an integration such as a camera vendor's)."""
    add_person(world.engine.db, name, name, ["system"])
    return {"Authorization": f"Bearer {create_token(world.engine.db, name, 'test', world.engine.time.now())}"}


def count(world, table: str) -> int:
    with world.engine.db.connect() as connection:
        return connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()


def test_two_callers_sending_one_key_with_different_bodies_each_get_their_own_case(world):
    """The issue's same-key test: nothing is silently dropped."""
    vendor_a, vendor_b = integration(world, "vendor_a"), integration(world, "vendor_b")
    key = {"Idempotency-Key": "cam-0001"}
    before = count(world, "report")
    a = world.client.post("/api/v1/cases", json=report(0), headers={**vendor_a, **key})
    b = world.client.post("/api/v1/cases", json=report(5), headers={**vendor_b, **key})
    assert (a.status_code, b.status_code) == (201, 201), b.text
    assert b.json()["replay"] is False and b.json()["case_id"] != a.json()["case_id"]
    # citizens too, through the citizens' channel
    app = {**report(9), "channel": "app"}
    c = world.post("/api/v1/cases", "citizen", json=app, headers=key)
    d = world.post("/api/v1/cases", "other_citizen", json={**app, "point": report(12)["point"]}, headers=key)
    assert (c.status_code, d.status_code) == (201, 201)
    assert len({r.json()["case_id"] for r in (a, b, c, d)}) == 4
    assert count(world, "report") == before + 4
    # each caller's own retry is still its own replay
    again = world.client.post("/api/v1/cases", json=report(5), headers={**vendor_b, **key})
    assert again.status_code == 200 and again.json() == {**b.json(), "replay": True}


def test_a_key_reused_with_another_body_is_refused_and_writes_nothing(world):
    vendor = integration(world, "vendor")
    key = {**vendor, "Idempotency-Key": "cam-0002"}
    first = world.client.post("/api/v1/cases", json=report(0), headers=key)
    assert first.status_code == 201
    before = count(world, "report")
    other = world.client.post("/api/v1/cases", json=report(3, description="另一个"), headers=key)
    assert other.status_code == 422, other.text
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused" and "cam-0002" in error["message"]
    assert count(world, "report") == before
    # the same body in another key order is the same request
    same = dict(reversed(list(report(0).items())))
    assert world.client.post("/api/v1/cases", json=same, headers=key).json()["replay"] is True


def test_open311_takes_an_idempotency_key_scoped_to_its_api_key(world):
    form = {"service_code": "e-0501", "lat": STREET1[1] - 0.004, "long": STREET1[0] + 0.01}
    key = {"Idempotency-Key": "311-1"}

    def post(who: str, **extra):
        data = {"api_key": world.tokens[who], **form, **extra}
        return world.client.post("/open311/v2/requests.json", data=data, headers=key)

    first = post("citizen", description="占道经营")
    assert first.status_code == 201
    retry = post("citizen", description="占道经营")
    assert retry.status_code == 200 and retry.json() == first.json()
    assert post("citizen", description="别的事").status_code == 422
    other = post("other_citizen", description="另一处", long=STREET1[0] + 0.02)
    assert other.status_code == 201 and other.json()[0]["token"] != first.json()[0]["token"]


def sign(world, who: str, key: str, body: dict):
    url = f"/api/v1/cases/{world.case_id}/transitions/sign"
    return world.post(url, who, json=body, headers={"Idempotency-Key": key})


def test_a_transition_retried_with_its_key_answers_as_its_first_attempt(world):
    version = world.get(f"/api/v1/cases/{world.case_id}", "water").json()["version"]
    won = sign(world, "water", "sign-a", {"version": version})
    lost = sign(world, "water", "sign-b", {"version": version})
    assert (won.status_code, lost.status_code) == (200, 409), lost.text
    events = count(world, "case_event")
    for first, key in ((won, "sign-a"), (lost, "sign-b")):
        retry = sign(world, "water", key, {"version": version})
        assert (retry.status_code, retry.content) == (first.status_code, first.content)
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(world, "case_event") == events
    # a key is the caller's own: another person's same key is another request
    assert sign(world, "water_team", "sign-a", {"version": version}).status_code != 200
    refused = sign(world, "water", "sign-a", {"version": version, "reason": "again"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_are_forgotten_after_their_window(world):
    vendor = integration(world, "vendor")
    key = {**vendor, "Idempotency-Key": "cam-0003"}
    assert world.client.post("/api/v1/cases", json=report(0), headers=key).status_code == 201
    version = world.get(f"/api/v1/cases/{world.case_id}", "water").json()["version"]
    assert sign(world, "water", "sign-c", {"version": version}).status_code == 200
    world.engine.time.advance(seconds=WINDOW.total_seconds() - 60)
    world.engine.sweep()
    assert world.client.post("/api/v1/cases", json=report(4), headers=key).status_code == 422
    assert sign(world, "water", "sign-c", {"version": version}).status_code == 200  # still replayed
    world.engine.time.advance(seconds=120)
    world.engine.sweep()
    assert world.client.post("/api/v1/cases", json=report(4), headers=key).status_code == 201
    assert sign(world, "water", "sign-c", {"version": version}).status_code == 409  # tried afresh
    with world.engine.db.connect() as connection:
        keyed = connection.execute(text("SELECT COUNT(*) FROM report WHERE idempotency_key IS NOT NULL"))
        assert keyed.scalar() == 1


def test_tries_of_one_transition_key_at_once_fire_it_once(world):
    water = Actor.of("department", id=world.ids["water"], unit="water")
    events = count(world, "case_event")

    def attempt(_):
        return fire_once(world.engine, water, world.case_id, "sign", {}, [], "sign-race")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(attempt, range(4)))
    assert sorted(replay for _, _, replay in answers) == [False, True, True, True]
    assert {status for status, _, _ in answers} == {200}
    assert count(world, "case_event") == events + 1
