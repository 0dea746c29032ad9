"""Shared fixtures. Tests run against the installed package (`gridcase.*`), never bare names."""

import dataclasses
import os
import textwrap
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from gridcase.core.cli.main import main

TESTS = Path(__file__).parent
REPO = TESTS.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `gridcase ARGS…` in-process, optionally from a folder; returns exit code and output."""

    def run(*args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def _no_deployment_env(monkeypatch):
    """A developer's own deployment settings must not leak into tests."""
    for name in ("GRIDCASE_SETTINGS", "GRIDCASE_PROFILE", "GRIDCASE_DATABASE_URL", "GRIDCASE_PROFILE_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_profile(tmp_path):
    """Write a profile folder from {filename: text} under tmp_path; returns the folder."""

    def write(name: str, files: dict[str, str]) -> Path:
        folder = tmp_path / name
        for filename, text in files.items():
            (folder / filename).parent.mkdir(parents=True, exist_ok=True)
            (folder / filename).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return folder

    return write


# -- the order files are handed to the workers in ---------------------------------------------

# the files that take longest, first: `make test` hands whole files to its workers (--dist
# loadfile) in collection order, and one of these handed out last kept one worker busy for a
# minute while the other had nothing left to do
LONGEST = (
    "admin_ui/test_language.py",
    "test_journey_new_city.py",
    "admin_ui/test_administration.py",
    "core/db/test_upgrade_populated.py",
    "core/web/test_rate_limit.py",
    "simulate/test_compare.py",
    "simulate/test_simulate.py",
    "test_tutorial_street_chief.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return LONGEST.index(path) if path in LONGEST else len(LONGEST)

    items.sort(key=rank)  # stable: each file's tests stay together and in their order


# -- databases: the suite runs on SQLite always, and on PostgreSQL when GRIDCASE_TEST_PG_URL is set --

PG_URL = os.environ.get("GRIDCASE_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    from gridcase.core.db.connection import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_admin():
    """Creates and drops test databases; each test gets a copy of one migrated template."""
    if not PG_URL:
        pytest.skip("GRIDCASE_TEST_PG_URL is not set")
    import psycopg
    from sqlalchemy.engine import make_url

    from gridcase.core.db.connection import upgrade

    url = make_url(PG_URL)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    template = f"gridcase_tpl_{os.getpid()}"
    admin = psycopg.connect(dsn, autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {template}")
    upgrade(url.set(database=template).render_as_string(hide_password=False))
    counter = iter(range(1_000_000))

    def new_database() -> tuple[str, str]:
        name = f"gridcase_t_{os.getpid()}_{next(counter)}"
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name, url.set(database=name).render_as_string(hide_password=False)

    yield admin, new_database
    admin.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    admin.close()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_template):
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path / "gridcase.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    admin, new_database = request.getfixturevalue("pg_admin")
    name, url = new_database()
    yield url
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


TESTCITY = TESTS / "profiles" / "testcity"


def change_setting(engine, section: str | None = None, **fields) -> None:
    """Change a running engine's typed profile (`engine.city`), as a deployment whose profile
    said so would read it at start-up: for the tests that show a setting makes the difference.
    `change_setting(engine, "intake", out_of_grid=None)` changes a section's field;
    `change_setting(engine, escalation=())` a field of the profile itself."""
    if section is not None:
        fields = {section: dataclasses.replace(getattr(engine.city, section), **fields)}
    engine.city = dataclasses.replace(engine.city, **fields)
    engine.hooks.profile = engine.city  # the plugins' ctx.profile


def open_city(city, db_url: str, tmp_path):
    """A city's engine (the test city, or a copy a test changed) on a fresh database, at a fixed
    moment (Tuesday 2026-10-13 09:00 CST), its reference data loaded."""
    from datetime import datetime

    from gridcase.core.cases.evidence import EvidenceStore
    from gridcase.core.engine import Engine
    from gridcase.core.timesource import ManualTime

    eng = Engine.open(
        city,
        db_url,
        time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence", max_bytes=200_000),
    )
    eng.load_reference_data()
    return eng


@pytest.fixture
def engine(db_url, tmp_path):
    """The test city's engine on a fresh database (open_city)."""
    eng = open_city(TESTCITY, db_url, tmp_path)
    yield eng
    eng.db.dispose()
