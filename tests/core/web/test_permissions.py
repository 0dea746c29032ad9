"""Every role × every endpoint × an object in and out of its scope: the status, and for reads what
is shown. Denied unless a role and a scope allow."""

import pytest

from .conftest import PEOPLE, STREET1

CENTRE = ["operator", "shift_leader", "dispatcher", "leader", "admin"]
EVERYONE = list(PEOPLE)


def expect(allowed: list[str], yes: int = 200, no: int = 403) -> dict[str | None, int]:
    return {**{who: (yes if who in allowed else no) for who in EVERYONE}, None: 401}


# water_team is below water: the case (dispatched to water) is not in its subtree
CASE_READ = expect([*CENTRE, "water", "supervisor_in", "citizen", "other_citizen"])
REFERENCE = expect(EVERYONE)
ASSESSMENT = expect(CENTRE)


@pytest.mark.parametrize(
    ("path", "matrix"),
    [
        ("/api/v1/cases/{case}", CASE_READ),
        ("/api/v1/cases", expect(EVERYONE)),
        ("/api/v1/taxonomy", REFERENCE),
        ("/api/v1/units", REFERENCE),
        ("/api/v1/grids", REFERENCE),
        ("/api/v1/me", REFERENCE),
        ("/api/v1/assessment?period=2026-10", ASSESSMENT),
        ("/api/v1/assessment/explain?period=2026-10&object=unit:water", ASSESSMENT),
        ("/api/v1/openapi.json", {**expect(EVERYONE), None: 200}),
    ],
)
def test_reads(world, path, matrix):
    got = {who: world.get(path.format(case=world.case_id), who).status_code for who in matrix}
    assert got == matrix


SEES_IN_FULL = {*CENTRE, "water", "supervisor_in", "citizen"}


def test_a_case_is_shown_in_full_only_within_scope(world):
    for who in EVERYONE:
        _shown(world, who)


def _shown(world, who):
    listed = world.get("/api/v1/cases", who).json()["items"]
    assert [c["id"] for c in listed] == ([world.case_id] if who in SEES_IN_FULL else [])
    detail = world.get(f"/api/v1/cases/{world.case_id}", who)
    if who in SEES_IN_FULL:
        assert "events" in detail.json() and "allowed_transitions" in detail.json()
    elif who == "other_citizen":  # somebody else's report: the public fields only
        assert set(detail.json()) >= {"number", "state", "class_code"} and "events" not in detail.json()
        assert "reporter_id" not in detail.json()


def test_signing_for_a_case(world):
    """Only the unit it was dispatched to (or above it) signs; everyone else is refused."""
    everyone_else = [who for who in [*EVERYONE, None] if who != "water"]
    got = {
        who: world.post(f"/api/v1/cases/{world.case_id}/transitions/sign", who, json={})
        for who in everyone_else
    }
    assert {who: r.status_code for who, r in got.items()} == {
        who: 401 if who is None else 403 for who in everyone_else
    }
    signed = world.post(f"/api/v1/cases/{world.case_id}/transitions/sign", "water", json={})
    assert signed.status_code == 200 and signed.json()["state"] == "handling"
    assert signed.json()["events"][-1]["actor_id"] == world.ids["water"]  # the actor is recorded


def test_reporting_through_the_citizen_app(world):
    report = {"channel": "app", "point": STREET1, "category": "0101", "kind": "component"}
    got = {who: world.post("/api/v1/cases", who, json=report).status_code for who in [*EVERYONE, None]}
    assert got == {who: {"citizen": 201, "other_citizen": 201, None: 401}.get(who, 403) for who in got}
