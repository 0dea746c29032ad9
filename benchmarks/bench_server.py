"""The server (issue 6): HTTP intake under load, and the case list and detail over 1M cases.

A real `gridcase serve` (2 workers) on the test city, with the load generator on the same
machine. Intake posts JSON reports, each with its own Idempotency-Key, 16 in flight, from `wrk`
(Debian's package; intake.lua) when it is installed, else from the async client below, which
costs the machine about ten times wrk's CPU per request and so understates the server. The list
and detail read 1M cases generated inside the database, 4 requests in flight from the client.

GRIDCASE_BENCH_SCALE (default 1) scales the intake's duration, the number of reads and of cases.
GRIDCASE_BENCH_SERVER_LOG names a file for the server's own log (its warnings and errors).
"""

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import text

from gridcase.core.db.connection import upgrade
from gridcase.core.engine import Engine
from gridcase.core.people.accounts import create_token, set_password
from gridcase.core.places.units import add_person

from .bench_assess import _sql
from .bench_engine import scratch_pg
from .figures import Figure

SCALE = float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))
TESTCITY = Path(__file__).parents[1] / "tests" / "profiles" / "testcity"
GRIDCASE = str(Path(sys.executable).parent / "gridcase")
INTAKES = max(300, int(4_000 * SCALE))  # with the async client
INTAKE_SECONDS = max(3, round(10 * SCALE))  # with wrk
READS = max(200, int(2_000 * SCALE))
CASES = int(1_000_000 * SCALE)
IN_FLIGHT = 16  # intake: hotline and app integrations at once
READERS = 4  # list and detail: the centre's staff at their desks
PASSWORD = "benchmark-password"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_log():
    """Where the server's own log goes: GRIDCASE_BENCH_SERVER_LOG names a file, to look into a
    run's errors; by default nowhere, so that writing it costs the server nothing."""
    path = os.environ.get("GRIDCASE_BENCH_SERVER_LOG")
    return open(path, "w") if path else subprocess.DEVNULL  # noqa: SIM115 (the server holds it)


class Server:
    def __init__(self, db_url: str, tmp: Path) -> None:
        self.port = _port()
        env = {**os.environ, "GRIDCASE_SWEEP_SECONDS": "0", "GRIDCASE_EVIDENCE_DIR": str(tmp / "evidence")}
        self.process = subprocess.Popen(
            [GRIDCASE, "serve", "--profile", str(TESTCITY), "--db", db_url, "--port", str(self.port),
             "--workers", os.environ.get("BENCH_WORKERS", "2")],
            env=env, stdout=subprocess.DEVNULL, stderr=_server_log(),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gridcase serve did not become ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


async def _load(
    requests: list[tuple[str, str, dict | None, dict]], in_flight: int = IN_FLIGHT
) -> tuple[float, list[float], int]:
    """(requests per second, latencies in ms, errors) for `requests`, `in_flight` at a time."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            method, url, body, headers = queue.pop()
            start = time.perf_counter()
            try:
                response = await client.request(method, url, json=body, headers=headers)
                ok = response.status_code < 400
            except httpx.TransportError:
                ok = False
            latencies.append((time.perf_counter() - start) * 1000)
            errors += not ok

    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        begin = time.perf_counter()
        await asyncio.gather(*[worker(client) for _ in range(in_flight)])
        took = time.perf_counter() - begin
    return len(requests) / took, latencies, errors


def _percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _token(engine: Engine, username: str, roles: list[str]) -> dict[str, str]:
    add_person(engine.db, username, username, roles)
    return {"Authorization": f"Bearer {create_token(engine.db, username, 'bench', engine.time.now())}"}


def _intake_figures(db_url: str, tmp: Path, backend: str) -> list[Figure]:
    upgrade(db_url)
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    headers = _token(engine, "hotline", ["operator"])  # the 12345 hotline's system posting its reports
    engine.db.dispose()
    server = Server(db_url, tmp)
    try:
        if shutil.which("wrk"):
            token = headers["Authorization"].removeprefix("Bearer ")
            _wrk(server.url, token, 2, "warm-up")
            result = _wrk(server.url, token, INTAKE_SECONDS, "run")
            rate, p99, errors = result["requests"] / result["seconds"], result["p99_ms"], result["errors"]
            note = f"wrk, {INTAKE_SECONDS} s, {result['requests']} reports"
        else:
            rate, p99, errors = _python_intake(server.url, headers, backend)
            note = f"async Python client (no wrk installed), {INTAKES} reports"
    finally:
        server.stop()
    note += f", {IN_FLIGHT} in flight, 2 workers, {errors} errors"
    return [
        Figure(f"server.intake_rate.{backend}", rate, "req/s", ">= 800", note),
        Figure(f"server.intake_p99.{backend}", p99, "ms", "< 100", note),
        Figure(f"server.intake_errors.{backend}", errors, "errors", "<= 0", note),
    ]


def _wrk(url: str, token: str, seconds: int, tag: str) -> dict:
    script = Path(__file__).with_name("intake.lua")
    env = {**os.environ, "GRIDCASE_BENCH_TOKEN": token, "GRIDCASE_BENCH_TAG": tag}
    done = subprocess.run(
        ["wrk", "-t1", f"-c{IN_FLIGHT}", f"-d{seconds}s", "-s", str(script), url],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def _python_intake(url: str, headers: dict, backend: str) -> tuple[float, float, int]:
    rng = random.Random(11)

    def report(n: int) -> tuple[str, str, dict, dict]:
        point = [round(rng.uniform(120.601, 120.639), 6), round(rng.uniform(31.301, 31.339), 6)]
        body = {"channel": "hotline_12345", "category": rng.choice(["0101", "0103"]), "kind": "component", "point": point,
                "description": "基准测试"}  # fmt: skip
        return "POST", f"{url}/api/v1/cases", body, {**headers, "Idempotency-Key": f"{backend}-{n}"}

    asyncio.run(_load([report(-n - 1) for n in range(200)]))  # warm-up
    rate, latencies, errors = asyncio.run(_load([report(n) for n in range(INTAKES)]))
    return rate, _percentile(latencies, 99), errors


def _read_figures(db_url: str, tmp: Path, backend: str) -> list[Figure]:
    upgrade(db_url)
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    with engine.db.begin() as connection:
        for statement in _sql(backend, CASES)[:5]:  # cases, their units and clocks
            connection.execute(text(statement))
    with engine.db.begin() as connection:
        connection.execute(text("ANALYZE"))
    headers = _token(engine, "operator", ["operator"])
    add_person(engine.db, "chief", "chief", ["operator", "leader", "admin"])
    set_password(engine.db, "chief", PASSWORD)
    engine.db.dispose()
    server = Server(db_url, tmp)
    rng = random.Random(13)
    base = f"{server.url}/api/v1/cases"
    lists = [("GET", f"{base}?limit=50", None, headers)] + [
        ("GET", f"{base}?limit=50&state=handling", None, headers) for _ in range(READS // 2)
    ]
    details = [("GET", f"{base}/{rng.randint(1, CASES)}", None, headers) for _ in range(READS)]
    try:
        asyncio.run(_load(lists[:50] + details[:50], READERS))  # warm-up
        _, list_ms, list_errors = asyncio.run(_load(lists, READERS))
        _, detail_ms, detail_errors = asyncio.run(_load(details, READERS))
        pages = _page_figures(server, rng, backend)
    finally:
        server.stop()
    note = f"{CASES:,} cases, {READERS} in flight, 2 workers"
    return [
        Figure(f"server.case_list_p95.{backend}", _percentile(list_ms, 95), "ms", "< 50",
               f"{note}; newest 50 and a state filter, {list_errors} errors"),
        Figure(f"server.case_detail_p95.{backend}", _percentile(detail_ms, 95), "ms", "< 50",
               f"{note}; random cases with units, timeline and clocks, {detail_errors} errors"),
        *pages,
    ]  # fmt: skip


UI_PAGES = {
    "queue": "/ui/queue",
    "queue_filtered": "/ui/queue?light=red",
    "case": None,  # a random case
    "dashboard": "/ui/dashboard",
    "map": "/ui/map",
    "rankings": "/ui/rankings?period=2026-10",
    "taxonomy": "/ui/taxonomy",
}


def _page_figures(server: Server, rng: random.Random, backend: str) -> list[Figure]:
    """The admin UI's pages over the same 1M cases, logged in as a person who sees them all."""
    client = httpx.Client(base_url=server.url, timeout=60)
    form = client.get("/ui/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/ui/login", data={"username": "chief", "password": PASSWORD, "csrf_token": token})
    cookie = {"Cookie": f"gridcase_session={client.cookies['gridcase_session']}"}
    client.close()
    figures = []
    for name, path in UI_PAGES.items():
        count = max(20, READS // 10)
        requests = [
            ("GET", server.url + (path or f"/ui/cases/{rng.randint(1, CASES)}"), None, cookie)
            for _ in range(count)
        ]
        asyncio.run(_load(requests[:8], READERS))  # warm-up: each worker fills its caches
        _, ms, errors = asyncio.run(_load(requests, READERS))
        figures.append(
            Figure(f"server.ui_{name}_p95.{backend}", _percentile(ms, 95), "ms", "< 150",
                   f"{CASES:,} cases, {READERS} in flight, {count} pages, {errors} errors")
        )  # fmt: skip
    return figures


def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        figures += _intake_figures(f"sqlite:///{tmp / 'intake.db'}", tmp, "sqlite")
        figures += _read_figures(f"sqlite:///{tmp / 'reads.db'}", tmp, "sqlite")
        with scratch_pg("gridcase_bench_server") as pg:
            if pg:
                figures += _intake_figures(pg, tmp, "postgresql")
        with scratch_pg("gridcase_bench_server_reads") as pg:
            if pg:
                figures += _read_figures(pg, tmp, "postgresql")
    return figures
