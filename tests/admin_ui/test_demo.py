"""`make demo` as a newcomer meets it: a process serving a simulated month, and the logins it
prints. Each login can take its role's steps, the printed logins alone walk a case around the
whole loop in a real browser, and a second demo leaves the running one alone."""

import base64
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import shapely
from playwright.sync_api import expect
from sqlalchemy import select

from gridcase.core.cases.scope import case_filter
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Grid, Person
from gridcase.core.engine import Engine
from gridcase.core.people.accounts import person_by_id
from gridcase.core.people.actor import Actor
from gridcase.core.profile import load_validated
from gridcase.core.profile.workflow import workflows

from .conftest import CHROMIUM
from .test_browser import PHOTO_JS, fire, log_in

CASE, GRID, PERSON = Case.__table__, Grid.__table__, Person.__table__
LOGIN = re.compile(r"^  (demo_\w+)\s+(\S+)\s+(\w+)(?:\s+unit (\S+))?(?:\s+grids (\S+))?$")


@dataclass
class Demo:
    base: str
    port: int
    folder: Path
    database: Path
    logins: dict[str, dict]  # role → {username, password, unit, grids}
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def logins_of(output: str) -> dict[str, dict]:
    """The logins a demo printed under `log in as:`, by role."""
    found = {}
    for line in output.split("log in as:\n", 1)[1].splitlines():
        match = LOGIN.match(line)
        if match:
            username, password, role, unit, grids = match.groups()
            found[role] = {
                "username": username,
                "password": password,
                "unit": unit,
                "grids": grids.split(",") if grids else [],
            }
    return found


def cases_in(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute('SELECT count(*) FROM "case"').fetchone()[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`gridcase demo` over three light days, as its own process, until it serves."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    port = free_port()
    output = folder.parent / "output.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCASE_")} | {"PYTHONUNBUFFERED": "1"}
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gridcase.core.cli.main", "demo", "--days", "3", "--reports-per-day", "60",
             "--port", str(port), "--dir", str(folder)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=folder.parent,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, output.read_text()
        assert time.monotonic() < deadline, output.read_text()
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.25)
    yield Demo(base, port, folder, folder / "heping.db", logins_of(output.read_text()), process)
    process.terminate()
    process.wait(timeout=30)


def test_every_printed_login_can_take_its_roles_steps(demo):
    profile = load_validated("heping")[0].plain()
    machines = workflows(profile)
    assert set(demo.logins) == {r["code"] for r in profile["roles"]} - {"system"}
    engine = Engine.open("heping", f"sqlite:///{demo.database}")
    try:
        with read(engine.db) as connection:
            for role, login in demo.logins.items():
                person_id = connection.execute(
                    select(PERSON.c.id).where(PERSON.c.username == login["username"])
                ).scalar_one()
                person = person_by_id(connection, person_id)
                actor = Actor(person["id"], frozenset(person["roles"]), person["unit"], person["grids"])
                steps = {
                    (step.code, case.id)
                    for case in connection.execute(
                        select(CASE.c.id, CASE.c.workflow, CASE.c.state).where(
                            CASE.c.state_kind == "open", case_filter(engine, actor)
                        )
                    )
                    for step in machines[case.workflow].available(case.state, {role})
                }
                # a step on an open case; a citizen's (not fixed, the survey) follow their own case's closing
                acts = any(
                    role in t.roles and any(m.states[s].kind == "open" for s in t.sources)
                    for m in machines.values()
                    for t in m.transitions.values()
                )
                reports = any(role in c.get("roles", []) for c in profile["channels"])
                if acts:
                    assert steps, f"{login['username']} sees no case to act on"
                else:  # 市民, 干部 report; the administrator configures
                    assert reports or role == "admin", role
                if role == "supervisor":  # the supervisor's 核实 and 核查
                    assert {"verify", "check_pass"} <= {code for code, _ in steps}
            # what the supervisor reports in its streets comes back to the demo's department
            department, supervisor = demo.logins["department"], demo.logins["supervisor"]
            territorial = {
                g.unit
                for g in connection.execute(select(GRID.c.unit).where(GRID.c.code.in_(supervisor["grids"])))
            }
            assert department["unit"] in territorial
    finally:
        engine.db.dispose()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)")
def test_the_printed_logins_close_the_loop_in_a_browser(demo, browser, tmp_path):
    """受理 → 核实 → 立案 → 派遣 → 签收 → 处置 → 核查 → 结案, each step by the login printed
    for its role, on a hotline report in the supervisor's grid dispatched to the department."""
    logins, base = demo.logins, demo.base

    def page_of(role: str):
        return log_in(browser, base, logins[role]["username"], logins[role]["password"])

    profile = load_validated("heping")[0].plain()
    patrolled = next(
        f for f in profile["grids"]["features"] if f["properties"]["code"] in logins["supervisor"]["grids"]
    )
    point = shapely.geometry.shape(patrolled["geometry"]).representative_point()

    operator = page_of("operator")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(base64.b64decode(operator.evaluate(PHOTO_JS).split(",", 1)[1]))
    operator.get_by_role("link", name="受理上报").click()
    operator.get_by_label("来源渠道").select_option("hotline_12345")
    operator.get_by_label("问题类别").select_option(index=1)
    operator.get_by_label("经度").fill(str(point.x))
    operator.get_by_label("纬度").fill(str(point.y))
    operator.get_by_label("地址").fill("演示路1号")
    operator.get_by_label("问题描述").fill("市民来电：演示闭环的第一件案件")
    operator.get_by_role("button", name="提交").click()
    operator.wait_for_url(re.compile(r".*/ui/cases/\d+$"))
    case_url = operator.url
    assert operator.locator(".state").inner_text() == "已上报"
    fire(operator, "send_verify")

    def step(role: str, code: str, **given) -> object:
        page = pages.get(role) or pages.setdefault(role, page_of(role))
        page.goto(case_url)
        fire(page, code, **given)
        return page

    pages = {"operator": operator}
    step("supervisor", "verify", photo=photo)
    step("shift_leader", "file")
    dispatcher = pages.setdefault("dispatcher", page_of("dispatcher"))
    dispatcher.goto(case_url)
    dispatcher.locator('details.transition:has(form[data-transition="dispatch"]) summary').click()
    dispatcher.locator('form[data-transition="dispatch"] select[name=units]').select_option(
        logins["department"]["unit"]
    )
    with dispatcher.expect_response(lambda r: "/transitions/dispatch" in r.url) as answer:
        dispatcher.locator('form[data-transition="dispatch"] button[type=submit]').click()
    assert answer.value.status == 200, answer.value.text()
    step("department", "sign")
    step("department", "handle", photo=photo, reason="已处置完毕")
    step("supervisor", "check_pass", photo=photo)
    closed = step("shift_leader", "close")
    expect(closed.locator(".state")).to_have_text("已结案")  # once htmx has swapped the answer in


def test_a_second_demo_leaves_the_running_one_alone(demo, cli, tmp_path):
    """Run last in this file: on the code before the fix, the second demo deleted the first's
    database."""
    before = (demo.database.stat().st_ino, cases_in(demo.database))
    same = cli("demo", "--days", "1", "--port", demo.port, "--dir", demo.folder)
    assert same.code == 1 and same.err.startswith(f"error: port {demo.port} is in use"), same.err
    elsewhere = cli("demo", "--days", "1", "--port", free_port(), "--dir", demo.folder)
    assert elsewhere.code == 1, elsewhere.err
    assert elsewhere.err.startswith(
        f"error: a demo is already running from {demo.folder}/ (pid {demo.process.pid}"
    )
    assert "--dir demo2 --port 8001" in elsewhere.err and "Traceback" not in elsewhere.err + same.err
    assert (demo.database.stat().st_ino, cases_in(demo.database)) == before
    assert urllib.request.urlopen(f"{demo.base}/healthz", timeout=5).status == 200
    assert demo.process.poll() is None
