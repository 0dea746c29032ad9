"""The intake rate limit holds across processes: two `gridcase serve` processes on one database
take a citizen's 30 reports a minute (the deployment's `reports_per_minute`) between them, not
30 each."""

import time

import httpx2 as httpx

from gridcase.core.engine import Engine
from gridcase.core.people.accounts import create_token
from gridcase.core.places.units import add_person

from ...conftest import TESTCITY
from .conftest import STREET1
from .test_request_log import _serve, _stop

LIMIT = 30  # few, so that the reports fit in a minute's window at once (the default is 120)


def test_two_server_processes_share_one_citizens_limit(db_url, tmp_path):
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    add_person(engine.db, "li", "li", ["citizen"])
    token = create_token(engine.db, "li", "app", engine.time.now())
    engine.db.dispose()
    settings = {"GRIDCASE_SWEEP_SECONDS": "0", "GRIDCASE_REPORTS_PER_MINUTE": str(LIMIT)}
    servers = [_serve(db_url, tmp_path, **settings) for _ in range(2)]
    if time.time() % 60 > 50:  # the count starts again each whole minute: stay inside one
        time.sleep(61 - time.time() % 60)
    try:
        answers = [
            httpx.post(
                f"{servers[i % 2][1]}/api/v1/cases",
                json={"channel": "app", "point": [STREET1[0] + (i % 12) * 1e-4, STREET1[1] + (i // 12) * 1e-4], "category": "0101",
                      "kind": "component"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            for i in range(LIMIT + 10)
        ]  # fmt: skip
    finally:
        for server, _ in servers:
            _stop(server)
    statuses = [a.status_code for a in answers]
    assert (statuses.count(201), statuses.count(429)) == (LIMIT, 10), statuses
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited" and 0 < int(refused.headers["Retry-After"]) <= 60


def test_the_limits_are_the_deployments_settings(monkeypatch, tmp_path):
    from gridcase.core.intake.quota import limits
    from gridcase.core.settings import SettingsError, load_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "gridcase.toml").write_text(
        "[gridcase]\nopen311_requests_per_minute = 10\n", encoding="utf-8"
    )
    monkeypatch.setenv("GRIDCASE_REPORTS_PER_MINUTE", "300")
    chosen = limits(load_settings())
    assert (chosen["intake"].rate, chosen["open311"].rate) == (300, 10)
    monkeypatch.setenv("GRIDCASE_REPORTS_PER_MINUTE", "0")
    try:
        load_settings()
    except SettingsError as exc:
        assert str(exc) == "reports_per_minute must be a whole number, 1 or more, not '0'"
    else:
        raise AssertionError("a limit of 0 was taken")
