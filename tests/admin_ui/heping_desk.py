"""和平区 (a bundled city) served for browser tests: its centre's people, a point in a grid, and
a clock set where the tests want it. Each test module serves one city and opens one browser, so
the walks stay few and quick. On SQLite only, as city_browser.py says why."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import shapely
import uvicorn

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.db.connection import upgrade
from gridcase.core.engine import Engine
from gridcase.core.people.accounts import set_password
from gridcase.core.places.units import add_person
from gridcase.core.timesource import ManualTime
from gridcase.core.web.app import create_app

from .conftest import CHROMIUM, PASSWORD

GRIDS = Path(__file__).parents[2] / "city_profiles" / "heping" / "grids.geojson"
# name: (display name, roles, unit, grids)
PEOPLE = {
    "operator": ("王丽", ["operator"], None, []),
    "desk": ("张伟", ["operator", "shift_leader", "dispatcher"], None, []),
    "admin": ("赵敏", ["admin"], None, []),
    "leader": ("孙强", ["leader"], None, []),
    "street": ("李娜", ["department"], "street01", []),
    "citizen": ("陈静", ["citizen"], None, []),
}


def unit_grid() -> tuple[str, tuple[float, float]]:
    """A 单元网格 of 太原街 and a point inside it."""
    features = json.loads(GRIDS.read_text(encoding="utf-8"))["features"]
    grid = next(f for f in features if f["properties"]["level"] == "unit_grid")
    point = shapely.geometry.shape(grid["geometry"]).representative_point()
    return grid["properties"]["code"], (round(point.x, 6), round(point.y, 6))


GRID, POINT = unit_grid()


def add_people(engine: Engine) -> dict[str, int]:
    ids = {}
    for username, (name, roles, unit, grids) in PEOPLE.items():
        ids[username] = add_person(engine.db, username, name, roles, unit=unit, grids=grids)
        set_password(engine.db, username, PASSWORD)
    ids["supervisor"] = add_person(engine.db, "supervisor", "周杰", ["supervisor"], grids=[GRID])
    set_password(engine.db, "supervisor", PASSWORD)
    return ids


@contextmanager
def serve(url: str, folder: Path, now: datetime) -> Iterator[tuple[str, Engine]]:
    """和平区 on `url`, migrated and loaded, served over HTTP; the clock stands at `now`."""
    upgrade(url)
    engine = Engine.open(
        "heping", url, time=ManualTime(now), evidence=EvidenceStore(folder / "evidence", max_bytes=500_000)
    )
    engine.load_reference_data()
    add_people(engine)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine=engine), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.db.dispose()


@pytest.fixture(scope="module")
def heping(request, tmp_path_factory):
    """和平区 served, its clock at the test module's NOW: (base URL, engine)."""
    folder = tmp_path_factory.mktemp("heping")
    with serve(f"sqlite:///{folder / 'heping.db'}", folder, request.module.NOW) as served:
        yield served


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for a test module (Debian's: Playwright cannot download its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_as(browser, base: str, username: str, language: str = "zh"):
    """A new page logged in as `username` (the UI in `language`)."""
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page.goto(f"{base}/ui/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/ui/queue**")
    if language != "zh":
        page.goto(f"{base}/ui/lang/{language}?next=/ui/queue")
    return page
