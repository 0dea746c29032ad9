"""Open311 GeoReport v2, in both formats, every endpoint and its errors."""

import xml.etree.ElementTree as ET

import pytest

from .conftest import STREET1

BASE = "/open311/v2"


def xml(response):
    assert response.headers["content-type"].startswith("text/xml")
    return ET.fromstring(response.content)


def test_discovery_in_both_formats(world):
    as_json = world.client.get(f"{BASE}/discovery.json").json()
    (endpoint,) = as_json["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml(world.client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]


def test_services_and_a_service_definition(world):
    services = world.client.get(f"{BASE}/services.json").json()
    manhole = next(s for s in services if s["service_code"] == "c-0101")
    assert set(manhole) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert manhole["metadata"] is True and manhole["type"] == "realtime"
    assert "e-0502" not in {s["service_code"] for s in services}  # disabled in the test city
    root = xml(world.client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and root.find("service/service_code").text
    definition = world.client.get(f"{BASE}/services/c-0101.json").json()
    (attribute,) = definition["attributes"]
    assert attribute["code"] == "standard" and attribute["datatype"] == "singlevaluelist"
    assert {"key", "name"} == set(attribute["values"][0])
    root = xml(world.client.get(f"{BASE}/services/c-0101.xml"))
    assert root.tag == "service_definition" and root.find("attributes/attribute/values/value/key") is not None


def post(world, fmt="json", **fields):
    data = {
        "api_key": world.tokens["citizen"],
        "service_code": "e-0501",
        "lat": STREET1[1] - 0.004,
        "long": STREET1[0] + 0.01,
        "description": "占道经营",
        **fields,
    }
    return world.client.post(f"{BASE}/requests.{fmt}", data=data)


def test_posting_a_request_then_reading_it_back_by_id_and_by_token(world):
    created = post(world)
    assert created.status_code == 201, created.text
    (answer,) = created.json()
    number, token = answer["service_request_id"], answer["token"]
    (request,) = world.client.get(f"{BASE}/requests/{number}.json").json()  # a one-element array
    assert request["status"] == "open" and request["service_code"] == "e-0501"
    case = world.get("/api/v1/cases", "operator", params={"class": "0501"}).json()["items"][0]
    responsible = [u["unit"] for u in world.engine.case(case["id"])["units"] if u["role"] == "responsible"]
    names = {u["code"]: u["name"] for u in world.get("/api/v1/units", "operator").json()}
    assert request["agency_responsible"] == names[responsible[0]]
    assert request["expected_datetime"].endswith("Z")
    assert request["lat"] == pytest.approx(STREET1[1] - 0.004)
    assert world.client.get(f"{BASE}/tokens/{token}.json").json() == [
        {"service_request_id": number, "token": token}
    ]
    root = xml(world.client.get(f"{BASE}/requests/{number}.xml"))
    assert root.tag == "service_requests" and len(root) == 1  # one element, still a list
    assert root.find("request/service_request_id").text == number
    posted_xml = xml(post(world, fmt="xml", long=STREET1[0] + 0.02))
    assert posted_xml.find("request/service_request_id").text
    (again,) = post(world, description="同一处占道经营").json()  # joins the first request's case
    assert again["service_request_id"] == number and again["token"] != token
    assert again["service_notice"] and world.client.get(f"{BASE}/tokens/{again['token']}.json").json() == [
        {"service_request_id": number, "token": again["token"]}
    ]


def test_listing_requests_with_filters(world):
    post(world)
    everything = world.client.get(f"{BASE}/requests.json").json()
    assert {r["service_code"] for r in everything} == {"c-0101", "e-0501"}
    assert [
        r["service_code"] for r in world.client.get(f"{BASE}/requests.json?service_code=e-0501").json()
    ] == ["e-0501"]
    assert world.client.get(f"{BASE}/requests.json?status=closed").json() == []
    assert xml(world.client.get(f"{BASE}/requests.xml?status=closed")).tag == "service_requests"  # empty list
    later = world.client.get(
        f"{BASE}/requests.json?start_date=2030-01-01T00:00:00Z&end_date=2030-02-01T00:00:00Z"
    )
    assert later.json() == []
    number = everything[0]["service_request_id"]
    assert len(world.client.get(f"{BASE}/requests.json?service_request_id={number}").json()) == 1
    assert world.client.get(f"{BASE}/requests.json?jurisdiction_id=testcity").status_code == 200


def test_no_extension_and_no_accept_header_still_answers(world):
    response = world.client.get(f"{BASE}/services", headers={"Accept": ""})
    assert response.status_code == 200 and isinstance(response.json(), list)
    assert xml(world.client.get(f"{BASE}/services", headers={"Accept": "text/xml"})).tag == "services"


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("method", "path", "fields", "status"),
    [
        ("get", "/services/c-9999", None, 404),
        ("get", "/requests/NOPE", None, 404),
        ("get", "/tokens/t999999", None, 404),
        ("get", "/requests?status=pending", None, 400),
        ("get", "/requests?start_date=yesterday", None, 400),
        ("get", "/requests?jurisdiction_id=elsewhere", None, 404),
        ("get", "/nothing", None, 404),
        ("post", "/requests", {"api_key": "gc_wrong"}, 403),
        ("post", "/requests", {"api_key": ""}, 403),
        ("post", "/requests", {"service_code": ""}, 400),
        ("post", "/requests", {"lat": "north"}, 400),
        ("post", "/requests", {"service_code": "c-9999"}, 404),
    ],
)
def test_errors_are_the_specifications_list(world, fmt, method, path, fields, status):
    if method == "get":
        base, _, query = path.partition("?")
        response = world.client.get(f"{BASE}{base}.{fmt}" + (f"?{query}" if query else ""))
    else:
        data = {
            "api_key": world.tokens["citizen"],
            "service_code": "e-0501",
            "lat": "31.33",
            "long": "120.62",
            **fields,
        }
        response = world.client.post(f"{BASE}{path}.{fmt}", data=data)
    assert response.status_code == status, response.text
    if fmt == "json":
        (error,) = response.json()
        assert error["code"] == status and error["description"]
    else:
        root = xml(response)
        assert root.tag == "errors" and root.find("error/code").text == str(status)


def test_a_department_key_may_not_post(world):
    response = world.client.post(
        f"{BASE}/requests.json",
        data={"api_key": world.tokens["water"], "service_code": "e-0501", "lat": "31.33", "long": "120.62"},
    )
    assert response.status_code == 403


def test_a_post_with_files_or_a_broken_body_is_the_specifications_400(world):
    files = [("media", ("x.jpg", b"\xff\xd8\xff", "image/jpeg"))]
    response = world.client.post(
        f"{BASE}/requests.json", data={"api_key": world.tokens["citizen"]}, files=files
    )
    assert response.status_code == 400 and response.json()[0]["code"] == 400
