"""A served test city: people of every role with tokens, and one case everybody has an opinion on."""

from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from gridcase.core.people.accounts import create_token
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.web.app import create_app

STREET1 = [120.61, 31.337]  # grid 320508001001001
PEOPLE = {
    # name: (roles, unit, grids)
    "operator": (["operator"], None, []),
    "shift_leader": (["shift_leader"], None, []),
    "dispatcher": (["dispatcher"], None, []),
    "leader": (["leader"], None, []),
    "admin": (["admin"], None, []),
    "water": (["department"], "water", []),
    "water_team": (["department"], "water_north_team", []),
    "city_admin": (["department"], "city_admin", []),
    "supervisor_in": (["supervisor"], None, ["320508001"]),
    "supervisor_out": (["supervisor"], None, ["320508002"]),
    "citizen": (["citizen"], None, []),
    "other_citizen": (["citizen"], None, []),
}


@dataclass
class World:
    client: TestClient
    engine: object
    tokens: dict[str, str]
    ids: dict[str, int]
    case_id: int

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, path: str, who: str | None, **kw):
        return self.client.get(path, headers=self.headers(who), **kw)

    def post(self, path: str, who: str | None, **kw):
        return self.client.post(path, headers={**self.headers(who), **kw.pop("headers", {})}, **kw)


@pytest.fixture
def world(engine) -> World:
    tokens, ids = {}, {}
    for name, (roles, unit, grids) in PEOPLE.items():
        ids[name] = add_person(engine.db, name, name, roles, unit=unit, grids=grids)
        tokens[name] = create_token(engine.db, name, "test", engine.time.now())
    citizen = Actor.of("citizen", id=ids["citizen"])
    case_id = engine.intake(
        {"channel": "app", "point": STREET1, "category": "0101", "kind": "component"}, citizen
    )["case_id"]
    centre = Actor.of("operator", "shift_leader", "dispatcher")
    engine.transition(case_id, "send_verify", centre)
    engine.transition(case_id, "verify", Actor.of("supervisor"), uploads=_photo())
    engine.transition(
        case_id, "file", centre, payload={"category": "0101", "kind": "component", "standard": "loose"}
    )
    engine.transition(case_id, "dispatch", centre, payload={"units": ["water"]})
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as client:
        yield World(client, engine, tokens, ids, case_id)


def _photo():
    from gridcase.core.cases.evidence import Upload

    return [Upload("现场.jpg", b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200))]
