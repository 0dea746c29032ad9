"""The work queue (issue 25): the queue page, searched and filtered, over 1M cases.

A real `gridcase serve` (2 workers) on the test city, its database filled inside the database
(INSERT … SELECT) with a city's two years: 1M cases, 1.2% of them open (the last weeks' backlog,
in every stage of the loop), each with its report, running or stopped clocks, responsible and
handling units, a grid and an address; a third of the reports came by hotline with the caller's
phone. Two people read their queues, 4 pages in flight: the centre's desk (operator, shift
leader and dispatcher: every open case is on their list) and a department's handler. Each page
is a mix of the queue as it opens, a search (address, description, phone, number) and filters
(light, class, unit, grid, channel, period, a later page).

GRIDCASE_BENCH_SCALE (default 1) scales the number of cases and of pages read.
"""

import asyncio
import os
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import text

from gridcase.core.db.connection import upgrade
from gridcase.core.engine import Engine
from gridcase.core.people.accounts import set_password
from gridcase.core.places.units import add_person

from .bench_engine import scratch_pg
from .bench_server import READERS, TESTCITY, Server, _load, _percentile
from .figures import Figure

SCALE = float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))
CASES = int(1_000_000 * SCALE)
PAGES = max(40, int(400 * SCALE))
PASSWORD = "benchmark-password"
# r(i, k): pseudo-random numbers 0..999 from the case number, the same on both databases, one
# multiplier per k so that the k are independent of each other (a prime modulus mixes them)
R = "(({i} * {m}) % 1000003 % 1000)"
MULTIPLIERS = (2654435761, 2246822519, 3266489917, 2869860233, 3432918353, 2654435789, 4294967291, 3572626607)
# the open cases' states, each with its share (‰ of the open) and the stage whose clock runs
OPEN = [
    ("reported", 50, "accept"),
    ("pending_file", 50, "file"),
    ("pending_dispatch", 150, "dispatch"),
    ("dispatched", 150, "handle"),
    ("handling", 450, "handle"),
    ("pending_check", 100, "check"),
    ("pending_close", 50, "close"),
]
UNITS = ["water", "city_admin", "street1", "street2", "police", "sanitation1"]
CHANNELS = ["patrol", "hotline_12345", "hotline_12319", "app", "camera"]


def _choose(expression: str, values: list[str]) -> str:
    """A CASE expression picking values[expression % len(values)]."""
    whens = " ".join(f"WHEN {n} THEN '{v}'" for n, v in enumerate(values))
    return f"(CASE ({expression}) % {len(values)} {whens} END)"


def statements(dialect: str, cases: int, now: datetime, grids: list[tuple[str, str]]) -> list[str]:
    """INSERT … SELECT statements making `cases` cases, their reports, contacts, units and clocks."""
    i = "i"
    r = {k: R.format(i=i, m=m) for k, m in enumerate(MULTIPLIERS)}
    start = (now - timedelta(days=730)).timestamp()
    step = 730 * 86400 / cases
    reported = f"({start:.0f} + {i} * {step:.6f})"
    is_open = f"({i} > {cases} - {int(cases * 0.03)} AND {r[0]} < 400)"
    bounds, state, stage = 0, "CASE", "CASE"
    for code, share, clock in OPEN:
        bounds += share
        state += f" WHEN {r[1]} < {bounds} THEN '{code}'"
        stage += f" WHEN {r[1]} < {bounds} THEN '{clock}'"
    state += " END"
    stage += " END"
    if dialect == "sqlite":
        ts = "(strftime('%Y-%m-%d %H:%M:%S', {0}, 'unixepoch') || '.000000')"
        series = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {cases}) "
        source, false, true = "FROM n", "0", "1"
        digits = f"substr('0000000' || {i}, -8, 8)"
    else:
        ts = "to_timestamp({0})"
        series = ""
        source, false, true = f"FROM generate_series(1, {cases}) AS i", "false", "true"
        digits = f"lpad({i}::text, 8, '0')"

    def t(expression: str) -> str:
        return ts.format(expression)

    grid = _choose(f"{i} * 7", [code for code, _ in grids])
    grid_path = _choose(f"{i} * 7", [path for _, path in grids])
    unit = _choose(f"{r[2]}", UNITS)
    channel = _choose(f"{r[3]}", CHANNELS)
    # open cases fall due from two days ago to three days ahead: a tenth or so overdue
    deadline = f"({now.timestamp():.0f} - 172800 + {r[4]} * 432)"
    rows = [
        f'{series}INSERT INTO "case" (id, number, workflow, state, state_kind, version, kind, class_code, '
        "major_code, urgent, channel, description, address, lon, lat, grid, grid_path, verified, report_count, "
        "taxonomy_version, reported_at, updated_at, closed_at) "
        f"SELECT {i}, '2026' || {digits}, 'standard', CASE WHEN {is_open} THEN {state} ELSE 'closed' END, "
        f"CASE WHEN {is_open} THEN 'open' ELSE 'closed' END, 1, 'component', "
        f"CASE WHEN {r[5]} < 500 THEN '0101' ELSE '0103' END, '01', {false}, {channel}, "
        f"'井盖破损 第' || {i} || '号', '测试路' || ({i} % 997) || '号', 120.61, 31.32, {grid}, {grid_path}, "
        f"{true}, 1, 0, {t(reported)}, {t(reported)}, CASE WHEN {is_open} THEN NULL ELSE {t(reported + ' + 86400')} END "
        f"{source}",
        f"{series}INSERT INTO report (id, case_id, channel, duplicate, description, lon, lat, crs, received_at) "
        f"SELECT {i}, {i}, {channel}, {false}, '井盖破损', 120.61, 31.32, 'wgs84', {t(reported)} {source}",
        f"{series}INSERT INTO report_contact (report_id, first_name, phone) "
        f"SELECT {i}, '市民', '139' || {digits} {source} WHERE {r[3]} % 5 IN (1, 2)",
        f"{series}INSERT INTO case_unit (case_id, unit, role, share, depth, active, since) "
        f"SELECT {i}, {unit}, 'responsible', 1.0, 0, {true}, {t(reported)} {source}",
        f"{series}INSERT INTO case_unit (case_id, unit, role, share, depth, active, since) "
        f"SELECT {i}, {unit}, 'handling', 1.0, 1, {true}, {t(reported)} {source} "
        f"WHERE {is_open} AND {r[1]} >= 250 AND {r[1]} < 900",
        f"{series}INSERT INTO clock (case_id, stage, status, started_at, stopped_at, deadline, yellow_at, owner, "
        "superseded, extended) "
        f"SELECT {i}, CASE WHEN {is_open} THEN {stage} ELSE 'handle' END, "
        f"CASE WHEN {is_open} THEN 'running' ELSE 'stopped' END, {t(reported)}, "
        f"CASE WHEN {is_open} THEN NULL ELSE {t(reported + ' + 86400')} END, "
        f"CASE WHEN {is_open} THEN {t(deadline)} ELSE {t(reported + ' + 172800')} END, "
        f"CASE WHEN {is_open} THEN {t(deadline + ' - 20000')} ELSE {t(reported + ' + 138240')} END, "
        f"{unit}, {false}, 0 {source}",
        f"{series}INSERT INTO clock (case_id, stage, status, started_at, deadline, yellow_at, owner, superseded, "
        f"extended) SELECT {i}, 'case', 'running', {t(reported)}, {t(deadline + ' + 259200')}, "
        f"{t(deadline + ' + 200000')}, {unit}, {false}, 0 {source} WHERE {is_open} AND {r[1]} >= 100",
    ]
    if dialect == "postgresql":  # ids given explicitly: the sequences must move past them
        rows += [
            "SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), (SELECT max(id) FROM \"case\"))",
            "SELECT setval(pg_get_serial_sequence('report', 'id'), (SELECT max(id) FROM report))",
        ]
    return rows


def populate(engine: Engine, cases: int, now: datetime) -> None:
    with engine.db.connect() as connection:
        grids = connection.execute(
            text("SELECT code, path FROM grid WHERE level = 'unit_grid' ORDER BY code")
        ).all()
    with engine.db.begin() as connection:
        for statement in statements(engine.db.dialect.name, cases, now, [tuple(g) for g in grids]):
            connection.execute(text(statement))
    with engine.db.begin() as connection:
        connection.execute(text("ANALYZE"))


def _pages(rng: random.Random, now: datetime) -> list[str]:
    """The queue pages people open: as it opens, searched, filtered."""
    today = now.astimezone(UTC).date()
    week = (today - timedelta(days=7)).isoformat()
    return [
        "/ui/queue",
        f"/ui/queue?q=测试路{rng.randint(1, 996)}号",
        f"/ui/queue?q=第{CASES - rng.randint(1, CASES // 40)}号",
        f"/ui/queue?q=139{CASES - rng.randint(1, CASES // 40):08d}",
        f"/ui/queue?q=2026{CASES - rng.randint(1, CASES // 40):08d}",
        "/ui/queue?light=red&class=component:0101",
        f"/ui/queue?unit=water&channel=hotline_12345&from={week}&to={today.isoformat()}",
        "/ui/queue?grid=320508001&page=5",
        "/ui/queue?state=handling&light=yellow",
    ]


def _login(server: Server, username: str) -> dict[str, str]:
    client = httpx.Client(base_url=server.url, timeout=60)
    form = client.get("/ui/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/ui/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    cookie = {"Cookie": f"gridcase_session={client.cookies['gridcase_session']}"}
    client.close()
    return cookie


def _figures(db_url: str, tmp: Path, backend: str) -> list[Figure]:
    upgrade(db_url)
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    now = datetime.now(UTC)
    populate(engine, CASES, now)
    for username, roles, unit in (
        ("desk", ["operator", "shift_leader", "dispatcher"], None),
        ("handler", ["department"], "water"),
    ):
        add_person(engine.db, username, username, roles, unit=unit)
        set_password(engine.db, username, PASSWORD)
    engine.db.dispose()
    server = Server(db_url, tmp)
    rng = random.Random(25)
    try:
        desk, handler = _login(server, "desk"), _login(server, "handler")
        requests = []
        for n in range(PAGES):
            pages = _pages(rng, now)
            who = handler if n % 4 == 3 else desk
            requests.append(("GET", server.url + pages[n % len(pages)], None, who))
        asyncio.run(_load(requests[:16], READERS))  # warm-up: each worker fills its caches
        _, ms, errors = asyncio.run(_load(requests, READERS))
        # each kind of page alone, to say which is slowest
        kinds = []
        for n, path in enumerate(_pages(rng, now)):
            _, alone, _ = asyncio.run(_load([("GET", server.url + path, None, desk)] * 20, READERS))
            kinds.append((_percentile(alone, 95), n))
    finally:
        server.stop()
    slowest, which = max(kinds)
    note = (
        f"{CASES:,} cases ({int(CASES * 0.012):,} open), {READERS} in flight, 2 workers, {PAGES} pages "
        f"(the queue as it opens, searches and filters, a desk's and a department's), {errors} errors; "
        f"slowest kind alone: {_pages(random.Random(0), now)[which].split('?')[-1][:40]} at {slowest:.0f} ms"
    )
    return [Figure(f"queue.page_p95.{backend}", _percentile(ms, 95), "ms", "< 150", note)]


def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        figures += _figures(f"sqlite:///{Path(tmp) / 'queue.db'}", Path(tmp), "sqlite")
        with scratch_pg("gridcase_bench_queue") as pg:
            if pg:
                figures += _figures(pg, Path(tmp), "postgresql")
    return figures
