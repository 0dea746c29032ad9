"""A real `gridcase serve` logs one line per request, with the request id it answers in
`X-Request-ID`, in the form and from the level the settings say; the sweep logs what it fired."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from gridcase.core.engine import Engine
from gridcase.core.people.accounts import create_token
from gridcase.core.places.units import add_person

from ...conftest import TESTCITY
from .test_crash_safety import _port

GRIDCASE = str(Path(sys.executable).parent / "gridcase")


def _serve(db_url: str, tmp_path: Path, **settings: str) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "GRIDCASE_EVIDENCE_DIR": str(tmp_path / "evidence"), **settings}
    server = subprocess.Popen(
        [GRIDCASE, "serve", "--profile", str(TESTCITY), "--db", db_url, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not start:\n" + server.communicate()[1])


def _stop(server: subprocess.Popen) -> list[str]:
    server.terminate()
    return server.communicate(timeout=30)[1].splitlines()


def test_the_server_logs_each_request_as_a_json_line_with_its_request_id(db_url, tmp_path):
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    add_person(engine.db, "wang", "wang", ["operator"])
    token = create_token(engine.db, "wang", "log test", engine.time.now())
    engine.db.dispose()
    server, base = _serve(db_url, tmp_path, GRIDCASE_LOG_FORMAT="json", GRIDCASE_SWEEP_SECONDS="0")
    try:
        mine = httpx.get(
            f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "hotline-42"}
        )
        theirs = httpx.get(f"{base}/api/v1/cases/999999", headers={"X-Request-ID": "<script>"})
    finally:
        lines = _stop(server)
    assert mine.headers["x-request-id"] == "hotline-42"
    assert len(theirs.headers["x-request-id"]) == 32  # an unsafe id is replaced by one of ours
    requests = [json.loads(line) for line in lines if '"gridcase.access"' in line]
    assert [(r["method"], r["path"], r["status"]) for r in requests[-2:]] == [
        ("GET", "/api/v1/me", 200),
        ("GET", "/api/v1/cases/999999", 401),
    ]
    first, second = requests[-2:]
    assert (first["request_id"], first["username"], first["level"]) == ("hotline-42", "wang", "info")
    assert second["request_id"] == theirs.headers["x-request-id"] and second["person"] is None
    assert first["time"].endswith("+00:00") and first["ms"] >= 0


def test_the_log_level_and_text_form_come_from_the_settings(db_url, tmp_path):
    Engine.open(TESTCITY, db_url).db.dispose()
    server, base = _serve(db_url, tmp_path, GRIDCASE_LOG_LEVEL="warning", GRIDCASE_SWEEP_SECONDS="0")
    try:
        httpx.get(f"{base}/healthz")
    finally:
        lines = _stop(server)
    assert not [line for line in lines if "gridcase.access" in line]  # requests are info
    server, base = _serve(db_url, tmp_path, GRIDCASE_SWEEP_SECONDS="0")
    try:
        httpx.get(f"{base}/healthz", headers={"X-Request-ID": "r1"})
    finally:
        lines = _stop(server)
    (line,) = [line for line in lines if "gridcase.access" in line and "request_id=r1" in line]
    assert " INFO gridcase.access: GET /healthz 200 method=GET path=/healthz status=200 " in line


def test_a_bad_log_setting_is_a_clear_error(cli, db_url, monkeypatch):
    monkeypatch.setenv("GRIDCASE_LOG_FORMAT", "xml")
    result = cli("sla", "sweep", "--profile", TESTCITY, "--db", db_url)
    assert (result.code, result.err) == (1, "error: log_format must be one of text, json, not 'xml'\n")
