"""People who use the admin UI, logged in through its own login form."""

import re
import shutil
from dataclasses import dataclass, field

import pytest
from starlette.testclient import TestClient

from gridcase.core.people.accounts import set_password
from gridcase.core.places.units import add_person
from gridcase.core.web.app import create_app

PASSWORD = "correct horse battery"
STREET1 = (120.61, 31.337)  # a point in grid 320508001001001, street1, where 0101 goes to water
PEOPLE = {
    # name: (roles, unit, grids)
    "admin": (["admin"], None, []),
    # a small centre's desk: takes calls, files and dispatches
    "zhang": (["operator", "shift_leader", "dispatcher"], None, []),
    "water": (["department"], "water", []),
    "city_admin": (["department"], "city_admin", []),
    "supervisor": (["supervisor"], None, ["320508001"]),
    "leader": (["leader"], None, []),
    "citizen": (["citizen"], None, []),
}
JPEG = b"\xff\xd8\xff\xe0" + bytes(2000)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def add_people(engine) -> dict[str, int]:
    ids = {}
    for name, (roles, unit, grids) in PEOPLE.items():
        ids[name] = add_person(engine.db, name, name, roles, unit=unit, grids=grids)
        set_password(engine.db, name, PASSWORD)
    return ids


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@dataclass
class Desk:
    """One person's browser session without a browser: cookie, CSRF token, htmx headers."""

    client: TestClient
    csrf: str = ""
    pages: dict = field(default_factory=dict)

    def get(self, path: str, htmx: bool = False, **kw):
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(path, headers=headers, **kw)

    def post(self, path: str, data=None, files=None, csrf: bool = True, **kw):
        headers = {"HX-Request": "true", **({"X-CSRF-Token": self.csrf} if csrf else {})}
        return self.client.post(path, data=data, files=files, headers=headers, **kw)


@pytest.fixture
def ui(engine):
    ids = add_people(engine)
    app = create_app(engine=engine)

    def desk(name: str) -> Desk:
        client = TestClient(app, base_url="http://testserver")
        token = csrf_of(client.get("/ui/login").text)
        done = client.post(
            "/ui/login",
            data={"username": name, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        return Desk(client, csrf_of(client.get("/ui/queue").text))

    desk.ids = ids
    desk.engine = engine
    desk.app = app
    return desk


@pytest.fixture
def browser():
    """Debian's Chromium, headless (Playwright cannot download its own browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def simulated_city(tmp_path_factory):
    """The simulated city of city_browser, once a run: here, not in each test module that
    serves it, where each module's copy of the fixture simulated it again."""
    from .city_browser import simulated_sqlite

    return simulated_sqlite(tmp_path_factory)
