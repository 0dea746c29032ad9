"""The intake rate limit holds across processes: two `gridcase serve` processes on one database
take a citizen's 120 reports a minute between them, not 120 each."""

import time

import httpx2 as httpx

from gridcase.core.accounts import create_token
from gridcase.core.cases import Engine
from gridcase.core.units import add_person
from gridcase.core.web.api_cases import INTAKE_LIMIT

from ...conftest import TESTCITY
from .conftest import STREET1
from .test_request_log import _serve, _stop


def test_two_server_processes_share_one_citizens_limit(db_url, tmp_path):
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    add_person(engine.db, "li", "li", ["citizen"])
    token = create_token(engine.db, "li", "app", engine.clock.now())
    engine.db.dispose()
    servers = [_serve(db_url, tmp_path, GRIDCASE_SWEEP_SECONDS="0") for _ in range(2)]
    if time.time() % 60 > 40:  # the count starts again each whole minute: stay inside one
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
            for i in range(INTAKE_LIMIT.rate + 10)
        ]  # fmt: skip
    finally:
        for server, _ in servers:
            _stop(server)
    statuses = [a.status_code for a in answers]
    assert (statuses.count(201), statuses.count(429)) == (INTAKE_LIMIT.rate, 10), statuses
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited" and 0 < int(refused.headers["Retry-After"]) <= 60
