"""Open311's gaps of issue 22: service codes as a list, tokens nobody can guess, media and contact
fields kept (contact private to staff), a configured base URL, Retry-After and Allow, and a
service list of the classes the city enabled, under their real names."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

import gridcase.city_profiles
from gridcase.core.db.models import Report
from gridcase.core.intake.quota import Limit
from gridcase.core.profile import load_validated
from gridcase.core.settings import Settings
from gridcase.core.web import open311
from gridcase.core.web.app import create_app

from .conftest import STREET1
from .test_open311 import BASE, post

CONTACT = {"email": "li.ming@example.cn", "first_name": "明", "last_name": "李", "phone": "13800138000"}


def test_service_codes_are_a_list_not_the_cross_product_of_kinds_and_codes(world):
    # the world's case is the component c-0101; e-0101 (an event with the same minor code) is
    # not asked for, and c-0501 does not exist: only the two classes named
    post(world, service_code="e-0101")
    post(world, service_code="e-0501", long=STREET1[0] + 0.02)
    asked = world.client.get(f"{BASE}/requests.json?service_code=c-0101,e-0501").json()
    assert sorted(r["service_code"] for r in asked) == ["c-0101", "e-0501"]


def test_tokens_cannot_be_guessed_and_old_ones_still_read(world):
    (first,) = post(world).json()
    assert not re.fullmatch(r"t\d+", first["token"]) and len(first["token"]) >= 20
    with world.engine.db.connect() as connection:
        report_id = connection.execute(Report.__table__.select()).all()[-1].id
    # the token a report's id made before is refused for a report given a random one
    assert world.client.get(f"{BASE}/tokens/t{report_id}.json").status_code == 404
    # a report stored before random tokens has none: its old token still reads
    with world.engine.db.begin() as connection:
        connection.execute(
            update(Report.__table__).where(Report.__table__.c.id == report_id).values(token=None)
        )
    (found,) = world.client.get(f"{BASE}/tokens/t{report_id}.json").json()
    assert found["service_request_id"] == first["service_request_id"]


def test_media_and_contact_are_kept_and_contact_is_seen_by_staff_only(world):
    media = "https://img.example.cn/photos/1.jpg"
    (created,) = post(world, media_url=media, **CONTACT).json()
    number = created["service_request_id"]
    public = [world.client.get(f"{BASE}/requests/{number}.{fmt}").text for fmt in ("json", "xml")]
    for body in public + [world.client.get(f"{BASE}/requests.{fmt}").text for fmt in ("json", "xml")]:
        assert not any(value in body for value in CONTACT.values())
    (request,) = world.client.get(f"{BASE}/requests/{number}.json").json()
    assert request["media_url"] == media
    case_id = world.get("/api/v1/cases", "operator", params={"class": "0501"}).json()["items"][0]["id"]
    (report,) = world.get(f"/api/v1/cases/{case_id}", "operator").json()["reports"]
    assert report["contact"] == CONTACT and report["media_url"] == media
    (own,) = world.get(f"/api/v1/cases/{case_id}", "citizen").json()["reports"]
    assert own["contact"] == CONTACT  # the citizen's own report
    # another citizen whose report joined the case sees the case, never the first one's contact
    post(world, api_key=world.tokens["other_citizen"], description="同一处")
    seen = world.get(f"/api/v1/cases/{case_id}", "other_citizen").text
    assert not any(value in seen for value in CONTACT.values())


@pytest.mark.parametrize("field", ["media_url", "email", "phone"])
def test_a_malformed_media_url_or_contact_is_the_specifications_400(world, field):
    value = {"media_url": "javascript:alert(1)", "email": "x" * 300, "phone": "1" * 300}[field]
    response = post(world, **{field: value})
    assert response.status_code == 400 and field in response.json()[0]["description"]


def test_the_discovery_url_is_the_configured_one_never_the_host_header(engine):
    settings = Settings(public_url="https://12319.example.gov.cn/", sweep_seconds=0)
    with TestClient(create_app(settings=settings, engine=engine)) as client:
        answer = client.get(f"{BASE}/discovery.json", headers={"Host": "evil.example"}).json()
    assert answer["endpoints"][0]["url"] == "https://12319.example.gov.cn/open311/v2/"
    with TestClient(create_app(engine=engine)) as client:  # none configured: a path, no host
        answer = client.get(f"{BASE}/discovery.json", headers={"Host": "evil.example"}).json()
    assert answer["endpoints"][0]["url"] == "/open311/v2/"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_rate_limited_post_says_when_to_come_back(world, fmt, monkeypatch):
    monkeypatch.setitem(world.client.app.state.limits, "open311", Limit("open311", rate=1, per=60))
    assert post(world, fmt=fmt).status_code == 201
    refused = post(world, fmt=fmt, long=STREET1[0] + 0.02)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/open311/v2/requests.json", "GET HEAD POST"),
        ("delete", "/api/v1/cases", "GET HEAD POST"),
        ("put", "/api/v1/session", "DELETE POST"),
        ("post", "/healthz", "GET HEAD"),
        ("post", "/readyz", "GET HEAD"),
        ("delete", "/ui/login", "GET HEAD POST"),  # two routes share the path: both count
        ("put", "/ui/cases/1", "GET HEAD"),
    ],
)
def test_a_method_not_allowed_names_the_allowed_ones(world, method, path, allowed):
    response = world.client.request(method.upper(), path)
    assert response.status_code == 405, response.text
    assert sorted(m.strip() for m in response.headers["Allow"].split(",")) == allowed.split()


@pytest.mark.parametrize(
    "city",
    [
        "standard",
        "heping",
        "taizhou",
        "xuzhou",
        "yichang",
        "chancheng",
    ],
)
def test_the_service_list_is_the_classes_the_city_enabled_under_their_real_names(city):
    profile, _ = load_validated(Path(gridcase.city_profiles.__file__).parent / city)
    _, services = open311.services(SimpleNamespace(profile=profile.plain()))
    assert services and not [s for s in services if "占位" in s["service_name"] + s["group"]]
    assert all(s["service_name"] and s["group"] for s in services)
    xml_services = ET.fromstring(open311._xml("services", services))
    assert len(xml_services) == len(services)
