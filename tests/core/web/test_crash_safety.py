"""A real `gridcase serve` under concurrent intakes, killed with SIGKILL and restarted: every
case that got a success response is there, and retrying with the same idempotency keys creates
no duplicates."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import text

from gridcase.core.engine import Engine
from gridcase.core.people.accounts import create_token
from gridcase.core.places.units import add_person

from ...conftest import TESTCITY

GRIDCASE = str(Path(sys.executable).parent / "gridcase")
REPORTS = 120


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db_url: str, port: int, tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ, "GRIDCASE_SWEEP_SECONDS": "0", "GRIDCASE_EVIDENCE_DIR": str(tmp_path / "evidence"),
        "GRIDCASE_REPORTS_PER_MINUTE": "100000",  # a burst of one citizen's reports, and their retries
    }  # fmt: skip
    server = subprocess.Popen(
        [GRIDCASE, "serve", "--profile", str(TESTCITY), "--db", db_url, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not become ready")


def _report(i: int) -> dict:
    return {"channel": "app", "category": "0101", "kind": "component",
            "point": [120.602 + (i % 12) * 0.001, 31.331 + (i // 12) * 0.0005]}  # fmt: skip


def test_acknowledged_intakes_survive_sigkill_and_retries_make_no_duplicates(db_url, tmp_path):
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    add_person(engine.db, "citizen", "市民", ["citizen"])
    headers = {"Authorization": f"Bearer {create_token(engine.db, 'citizen', 'test', engine.time.now())}"}
    port = _port()
    base = f"http://127.0.0.1:{port}/api/v1/cases"
    server = _start(db_url, port, tmp_path)
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()

    def send(indices):
        with httpx.Client(timeout=5) as client:
            for i in indices:
                try:
                    response = client.post(
                        base, json=_report(i), headers={**headers, "Idempotency-Key": f"k-{i}"}
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged[f"k-{i}"] = response.json()["case_id"]

    threads = [threading.Thread(target=send, args=(range(n, REPORTS, 4),)) for n in range(4)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < REPORTS // 3:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait()
    for thread in threads:
        thread.join()
    assert 0 < len(acknowledged) < REPORTS  # killed mid-load

    server = _start(db_url, port, tmp_path)
    try:
        with httpx.Client(timeout=10) as client:
            for key, case_id in acknowledged.items():
                assert client.get(f"{base}/{case_id}", headers=headers).status_code == 200, key
            for i in range(REPORTS):
                response = client.post(
                    base, json=_report(i), headers={**headers, "Idempotency-Key": f"k-{i}"}
                )
                assert response.status_code in (200, 201), response.text
                if f"k-{i}" in acknowledged:
                    assert (
                        response.status_code == 200 and response.json()["case_id"] == acknowledged[f"k-{i}"]
                    )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    with engine.db.connect() as connection:
        reports = connection.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM report")
        ).one()
    assert tuple(reports) == (REPORTS, REPORTS)  # one report per key: no duplicates, nothing lost
    engine.db.dispose()
