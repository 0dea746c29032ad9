"""A bundled city (和平) with six weeks of simulated work, served for browser tests of the
workbench's pages, with a login per role.

On SQLite only: what these pages say and do does not depend on the database, and the queries
and writes behind them run on both backends in the tests without a browser (test_pages.py,
test_queues.py, core/…). The browser walks where the database does matter (the field app's
offline sends and conflicts, the 12345 bridge's locked orders, the public site) run on both.

The simulation runs once a test run (tens of seconds); each test module gets its own copy of
the database, served by its own server, at Tuesday 2026-10-13 09:00 Beijing time: September is
the last complete month, October the current one.
"""

import fcntl
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import uvicorn

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.engine import Engine
from gridcase.core.people.roster import PersonData, add
from gridcase.core.settings import Settings
from gridcase.core.simulate import fresh_sqlite, simulate
from gridcase.core.timesource import ManualTime
from gridcase.core.web.app import create_app

from .conftest import CHROMIUM, PASSWORD

CITY = "heping"
NOW = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)  # 09:00 in Shenyang
SIMULATED = date(2026, 9, 1), 42  # to the end of Monday 2026-10-12
STREET = "210102001"  # 太原街街道, a street office's grid
# name: (roles, unit, grids); a department and its street's supervisor, as in `make demo`
PEOPLE = {
    "admin": (["admin"], None, []),
    "desk": (["operator", "shift_leader", "dispatcher"], None, []),
    "leader": (["leader"], None, []),
    "supervisor": (["supervisor"], None, [STREET]),
    "worker": (["supervisor"], None, []),
}
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)"
)


@dataclass
class City:
    base: str
    engine: Engine


def simulated_sqlite(tmp_path_factory) -> Path:
    """The simulated city, simulated once a run: the first test process (of xdist's workers) to
    need it simulates it while the others wait for it, 25 to 45 seconds each saved; every use
    copies it (conftest's session fixture `simulated_city`)."""
    base = tmp_path_factory.getbasetemp()
    # the workers' folders share the run's; without workers the run's own (its parent outlives it)
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "simulated-city"
    shared.mkdir(exist_ok=True)
    city, done = shared / "city.db", shared / "done"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            start, days = SIMULATED
            simulate(
                CITY, fresh_sqlite(city), days, 7, start, reports_per_day=10, evidence=shared / "evidence"
            )
            done.touch()
    return city


@contextmanager
def served(engine: Engine, settings: Settings | None = None) -> Iterator[str]:
    """The engine served on a free port, with the deployment's settings when given."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(engine=engine, settings=settings)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def city(simulated_city, tmp_path_factory) -> Iterator[City]:
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(simulated_city, folder / "city.db")
    url = f"sqlite:///{folder / 'city.db'}"
    engine = Engine.open(CITY, url, time=ManualTime(NOW), evidence=EvidenceStore(folder / "evidence"))
    for username, (roles, unit, grids) in PEOPLE.items():
        add(engine.db, engine.profile, PersonData(username, f"{username}", roles, unit, grids), PASSWORD)
    try:
        with served(engine) as base:
            yield City(base, engine)
    finally:
        engine.db.dispose()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def log_in(browser, base: str, name: str, password: str = PASSWORD, **context):
    """A new browser context (its own cookies) logged in as `name`, on the queue."""
    page = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN", **context).new_page()
    page.goto(f"{base}/ui/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/ui/queue")
    return page


SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def screenshot(page, name: str, full_page: bool = False) -> None:
    """A picture for the docs (docs/screenshots), from the SQLite run only: one file a picture."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
