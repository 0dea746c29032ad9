"""One corpus of hostile text and bodies, sent to every JSON endpoint that takes a body or a query
and to Open311's form: each is refused with a 400 or 422, nothing of it is stored, and good
reports sent at the same time from other threads are all taken (a failed write once broke
pooled connections, so that most concurrent requests got 503 for seconds)."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

from .conftest import STREET1

BAD_TEXT = ["x\ud800", "\udfff", "a\x00b", "\x01", "\x08", "\x0b", "\x1b[31m", "\x7f", "\x85", "\ufffe"]
BAD_BODIES = [
    b"[" * 100_000,  # a RecursionError 500 on every JSON endpoint, login included
    b'{"a":' * 50_000,
    b"{not json",
    b"\xff\xfe{}",
    b'{"a": NaN}',
    b'{"channel": "app", "point": [1e999, 31]}',
]
REPORT = {"channel": "app", "point": STREET1, "category": "0101", "kind": "component"}
# a number where text belongs, text where numbers belong, values outside the published lists
BAD_REPORTS = [
    {**REPORT, "channel": 1},
    {**REPORT, "channel": ["app"]},
    {**REPORT, "crs": 5},
    {**REPORT, "crs": "mars"},
    {**REPORT, "point": [str(STREET1[0]), str(STREET1[1])]},
    {**REPORT, "point": [True, False]},
    {**REPORT, "standard": "not-a-standard"},
    {**REPORT, "kind": "weather"},
]


def _json(world, method, path, who, body, raw=None):
    content = raw if raw is not None else json.dumps(body).encode()  # \ud800 escaped, as clients send it
    headers = {**world.headers(who), "Content-Type": "application/json"}
    return world.client.request(method, path, content=content, headers=headers)


def _form(world, fields):
    """A form POST; a lone surrogate sent as the bytes a careless client's encoder makes of it."""
    body = "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return world.client.post("/open311/v2/requests.json", content=body.encode(), headers=headers)


def _attacks(world):
    """(what, response) for every hostile request."""
    transition = f"/api/v1/cases/{world.case_id}/transitions/sign"
    bodies = [
        ("/api/v1/session", None, {"username": "operator", "password": "x"}),
        ("/api/v1/cases", "citizen", {**REPORT, "description": "d", "address": "a"}),
        (transition, "water", {"reason": "r", "payload": {"note": "n"}}),
    ]
    for path, who, good in bodies:
        for raw in BAD_BODIES:
            yield f"{path} {raw[:12]!r}", _json(world, "POST", path, who, None, raw)
        for field in good:
            for bad in BAD_TEXT:
                body = {**good, field: {"note": bad} if isinstance(good[field], dict) else bad}
                yield f"{path} {field}={bad!r}", _json(world, "POST", path, who, body)
        for bad in BAD_TEXT:  # in a field's name
            yield f"{path} key {bad!r}", _json(world, "POST", path, who, {**good, bad: "v"})
    for body in BAD_REPORTS:
        yield f"report {body}", _json(world, "POST", "/api/v1/cases", "citizen", body)
    multipart = {"report": json.dumps({**REPORT, "description": "a\x01b"})}
    yield "multipart", world.post("/api/v1/cases", "citizen", data=multipart, files=[("x", ("a", b"a"))])
    # a field's bytes that are not UTF-8: Starlette alone would read them as latin-1 text
    raw = (
        b'--b0\r\nContent-Disposition: form-data; name="report"\r\n\r\n'
        + json.dumps(REPORT).encode()
        + b'\r\n--b0\r\nContent-Disposition: form-data; name="address"\r\n\r\nNo.\xff\xfe 1'
        + b"\r\n--b0--\r\n"
    )
    headers = {**world.headers("citizen"), "Content-Type": "multipart/form-data; boundary=b0"}
    yield "multipart latin-1", world.client.post("/api/v1/cases", content=raw, headers=headers)
    for bad in BAD_TEXT[2:]:  # a URL cannot carry a lone surrogate; percent-encoded, the rest
        for path, name in (("/api/v1/cases", "state"), ("/api/v1/grids", "level"), ("/api/v1/cases", "from")):
            yield (
                f"{path}?{name}={bad!r}",
                world.client.get(path, params={name: bad}, headers=world.headers("operator")),
            )
        yield f"component {bad!r}", world.get(f"/api/v1/components/{quote(bad)}", "operator")
    form = {
        "api_key": world.tokens["citizen"],
        "service_code": "c-0101",
        "lat": str(STREET1[1]),
        "long": str(STREET1[0]),
        "description": "d",
    }
    for field in ("description", "address_string", "service_code", "attribute[standard]"):
        for bad in BAD_TEXT:
            yield (
                f"open311 {field}={bad!r}",
                _form(world, {**form, field: bad}),
            )
    yield (
        "open311 standard",
        world.client.post(
            "/open311/v2/requests.json", data={**form, "attribute[standard]": "not-a-standard"}
        ),
    )
    yield (
        "open311 attribute",
        world.client.post("/open311/v2/requests.json", data={**form, "attribute[colour]": "red"}),
    )
    for bad in BAD_TEXT[2:]:
        yield f"open311 query {bad!r}", world.client.get("/open311/v2/requests.json", params={"status": bad})


def _count(world, table):
    with world.engine.db.connect() as connection:
        return connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar()


def test_every_hostile_input_is_refused_stores_nothing_and_harms_no_one_else(world):
    before = {t: _count(world, t) for t in ("case", "report", "case_event")}
    stop, good = threading.Event(), []

    def report_well(i):
        n = 0
        while (not stop.is_set() or n < 3) and n < 25:  # within a citizen's 120 reports a minute
            body = {**REPORT, "point": [STREET1[0] + 0.002 * (i + 1), STREET1[1] + 0.0001 * n]}
            good.append(world.post("/api/v1/cases", "other_citizen", json=body).status_code)
            n += 1

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(report_well, i) for i in range(4)]
        try:
            wrong = [
                f"{what}: {response.status_code} {response.text[:200]}"
                for what, response in _attacks(world)
                if response.status_code not in (400, 422)
            ]
        finally:
            stop.set()
        for future in running:
            future.result()
    assert wrong == []
    assert good and set(good) <= {200, 201}, good
    taken = good.count(201)
    assert _count(world, "report") == before["report"] + taken  # only the good reports
    assert _count(world, "case_event") >= before["case_event"] + taken
    with world.engine.db.connect() as connection:
        texts = connection.execute(
            text("SELECT description FROM report WHERE description IS NOT NULL")
        ).scalars()
        assert not any(ch in value for value in texts for ch in "\x00\x01\x08\x0b\x1b\x7f\x85\ufffe")


def test_the_refusal_in_the_operations_guide_is_what_the_server_answers(world):
    """docs/operations.md: the example of a refused report, sent as written."""
    guide = (Path(__file__).parents[3] / "docs" / "operations.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"<!-- example: refused -->\n```json\n(.*?)```", guide, flags=re.S)
    example = json.loads(example)
    response = world.post("/api/v1/cases", "citizen", json=example["request"])
    assert (response.status_code, response.json()) == (example["status"], example["answer"])
