"""Every answer carries the security headers, whatever answered it: the JSON API, Open311, the
admin UI, its static files, health checks and errors. The session cookie is HttpOnly and
SameSite=Lax, and Secure with HSTS when the deployment says it is served over TLS."""

import pytest
from starlette.testclient import TestClient

from gridcase.core.people.accounts import set_password
from gridcase.core.places.units import add_person
from gridcase.core.settings import Settings
from gridcase.core.web.app import create_app

PASSWORD = "admin-password"
# one path of each family, and an error of each
PATHS = [
    "/api/v1/me",
    "/api/v1/openapi.json",
    "/api/v1/nowhere",
    "/open311/v2/services.json",
    "/open311/v2/services.xml",
    "/open311/v2/requests/999999.json",
    "/ui/login",
    "/ui/queue",
    "/ui/static/app.css",
    "/ui/static/vendor/htmx.min.js",
    "/ui/static/missing.js",
    "/healthz",
    "/readyz",
    "/nowhere",
]


def served(engine, tls: bool) -> TestClient:
    add_person(engine.db, "admin", "管理员", ["admin"])
    set_password(engine.db, "admin", PASSWORD)
    settings = Settings(tls=True) if tls else None
    return TestClient(
        create_app(settings, engine=engine), base_url="https://testserver" if tls else "http://testserver"
    )


def assert_secure_headers(response, tls: bool) -> None:
    headers = response.headers
    policy = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in headers["content-security-policy"].split(";")
    )
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert ("strict-transport-security" in headers) == tls
    if tls:
        assert int(headers["strict-transport-security"].split("max-age=")[1].split(";")[0]) >= 180 * 86400


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_every_route_family_answers_with_the_security_headers(engine, tls):
    client = served(engine, tls)
    for path in PATHS:
        response = client.get(path, follow_redirects=False)
        assert response.status_code < 500, path
        assert_secure_headers(response, tls)
    logged_in = client.post("/api/v1/session", json={"username": "admin", "password": PASSWORD})
    assert_secure_headers(logged_in, tls)
    assert_secure_headers(client.delete("/api/v1/session"), tls)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_the_session_cookie_is_http_only_same_site_and_secure_over_tls(engine, tls):
    client = served(engine, tls)
    for response in (
        client.post("/api/v1/session", json={"username": "admin", "password": PASSWORD}),
        client.get("/ui/login"),  # the login form's CSRF token rides in a session too
        client.get("/ui/lang/en", follow_redirects=False),
    ):
        for cookie in response.headers.get_list("set-cookie"):
            flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
            assert ("secure" in flags) == tls, cookie
            assert "samesite" in flags and "lax" in cookie.lower(), cookie
            if cookie.startswith("gridcase_session="):
                assert "httponly" in flags, cookie
