"""The hostile-input corpus (tests/core/web/test_hostile_input.py) sent to every admin UI form, as
a logged-in person with the CSRF token: each bad value, in every field and as a field's name,
is a 400 or 422 naming the field in the page's error area, and nothing of it is stored."""

import io
import zipfile
from urllib.parse import quote

from sqlalchemy import select, update
from starlette.testclient import TestClient

from gridcase.admin_ui.views import FIELDS
from gridcase.core.assess.assessor import Assessor
from gridcase.core.assess.bulletin import render
from gridcase.core.db.models import Case, Unit
from gridcase.core.text import first_illegal

from ..core.web.test_hostile_input import BAD_TEXT
from .conftest import PASSWORD, STREET1, csrf_of
from .test_pages import dispatched, new_case

# tables a refused request may touch: a failed login is counted, a session is kept alive
UNSTORED = {"login_attempt", "rate_count", "web_session", "clock"}


def _body(fields: dict) -> bytes:
    """A form body; a lone surrogate sent as the bytes a careless client's encoder makes of it."""

    def encoded(value: str) -> str:
        return quote(value.encode("utf-8", "surrogatepass"))

    pairs = [
        (name, item)
        for name, value in fields.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in pairs).encode()


def _post(desk, path: str, fields: dict):
    headers = {
        "HX-Request": "true",
        "X-CSRF-Token": desk.csrf,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return desk.client.post(path, content=_body(fields), headers=headers)


def _forms(ui):
    """(who, path, a good form) for every form the UI posts."""
    zhang, admin = ui("zhang"), ui("admin")
    case_id = new_case(zhang)
    edited = {"name_zh": "上水井盖", "enabled": "on", "unit": "water", "reason": "r", "standard_rows": "0"}
    assert admin.post("/ui/taxonomy/component/0101", data=edited).status_code == 200
    with ui.engine.db.connect() as connection:  # the edit's change, to revert
        change_id = connection.exec_driver_sql("SELECT max(id) FROM taxonomy_change").scalar()
    intake = {
        "channel": "leader",
        "category": "component:0101",
        "lon": str(STREET1[0]),
        "lat": str(STREET1[1]),
        "description": "d",
        "address": "a",
        "idempotency_key": "k",
    }
    return [
        (zhang, "/ui/cases", intake),
        (zhang, f"/ui/cases/{case_id}/transitions/reject", {"reason": "r", "note": "n"}),
        (zhang, "/ui/cases/bulk", {"cases": [str(case_id)], "transition": "accept", "reason": "r"}),
        (admin, "/ui/taxonomy/component/0101", {**edited, "aliases": "a", "standards-0-code": "c"}),
        (admin, "/ui/taxonomy/event/05/new", {"code": "0590", "name_zh": "新", "reason": "r"}),
        (admin, f"/ui/taxonomy/changes/{change_id}/revert", {"reason": "r"}),
        (admin, "/ui/config/units/water/class", {"class": "water"}),
        (admin, "/ui/config/people", {"username": "zhao", "name": "赵", "roles": ["operator"], "unit": ""}),
        (admin, "/ui/config/people/zhang", {"roles": ["operator"], "unit": "", "active": "on"}),
        (admin, "/ui/config/calendar", {"day": "2026-12-31", "working": "no", "reason": "r", "calendar": ""}),
        (admin, "/ui/config/rules/file", {"limit": "15 minute", "reason": "r"}),
        (admin, "/ui/config/composites/supervisor", {"weight-valid": "0.5", "reason": "r"}),
    ]


def _rows(engine) -> dict:
    tables = {name: table for name, table in Case.metadata.tables.items() if name not in UNSTORED}
    with engine.db.connect() as connection:
        return {name: sorted(map(repr, connection.execute(select(table)))) for name, table in tables.items()}


def _refused(response, field: str) -> str | None:
    """What is wrong with the answer, or None when it is the UI's refusal naming the field."""
    if response.status_code not in (400, 422):
        return f"{response.status_code} {response.text[:200]}"
    if response.headers.get("HX-Retarget") != "#errors":
        return "not shown in the page's error area"
    if not any(name in response.text for name in (field, quote(field), FIELDS.get(field, field))):
        return f"the field is not named: {response.text[:200]}"
    return None


def test_every_ui_form_refuses_bad_text_in_every_field_and_stores_nothing(ui):
    forms = _forms(ui)
    before = _rows(ui.engine)
    wrong = []
    for desk, path, good in forms:
        for field in good:
            for bad in BAD_TEXT:
                value = [bad] if isinstance(good[field], list) else bad
                problem = _refused(_post(desk, path, {**good, field: value}), field)
                if problem:
                    wrong.append(f"{path} {field}={bad!r}: {problem}")
        for bad in BAD_TEXT:
            if _post(desk, path, {**good, f"x{bad}": "v"}).status_code not in (400, 422):
                wrong.append(f"{path} key {bad!r}")
    assert wrong == []
    assert _rows(ui.engine) == before


def test_a_multipart_field_that_is_not_utf8_is_refused_not_read_as_latin1(ui):
    desk = ui("zhang")
    before = _rows(ui.engine)
    raw = b"".join(
        b'--b0\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name, value)
        for name, value in (
            (b"csrf_token", desk.csrf.encode()), (b"channel", b"hotline_12345"), (b"category", b"0101"),
            (b"lon", b"120.61"), (b"lat", b"31.337"), (b"description", b"\xd5\xe2\xca\xc7 GBK"),
        )
    ) + b"--b0--\r\n"  # fmt: skip
    answer = desk.client.post(
        "/ui/cases",
        content=raw,
        headers={
            "Content-Type": "multipart/form-data; boundary=b0",
            "HX-Request": "true",
            "X-CSRF-Token": desk.csrf,
        },
    )
    assert answer.status_code == 400 and "问题描述：不是 UTF-8 编码的文字" in answer.text
    assert _rows(ui.engine) == before


def test_the_login_form_refuses_bad_text_naming_the_field(ui):
    client = TestClient(ui.app, base_url="http://testserver")
    token = csrf_of(client.get("/ui/login").text)
    good = {"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/ui/queue"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = []
    for field in ("username", "password", "next"):
        for bad in BAD_TEXT:
            answer = client.post("/ui/login", content=_body({**good, field: bad}), headers=headers)
            if answer.status_code not in (400, 422) or field not in answer.text:
                wrong.append(f"{field}={bad!r}: {answer.status_code} {answer.text[:120]}")
    assert wrong == []
    assert client.get("/ui/queue", follow_redirects=False).status_code == 303  # never logged in


# rows stored before the text rule existed: what PostgreSQL can store of the corpus
OLD_TEXT = "水\x01务\x1b局\ufffe"


def test_text_stored_before_the_rule_is_never_emitted_by_pages_or_bulletins(ui):
    """Every encoder cleans what it emits (core/text.py's clean_text): the UI's templates, the
    bulletin's CSV, xlsx, HTML, table and JSON."""
    zhang, leader = ui("zhang"), ui("leader")
    case_id = new_case(zhang, description="d", address="a")
    dispatched(ui.engine, case_id)
    with ui.engine.db.begin() as connection:
        connection.execute(update(Unit.__table__).where(Unit.code == "water").values(name=OLD_TEXT))
        connection.execute(
            update(Case.__table__).where(Case.id == case_id).values(description=OLD_TEXT, address=OLD_TEXT)
        )
    units = ui("admin").get("/ui/config/units").text  # the profile's names, and the unit's code
    assert first_illegal(units) is None and "water" in units
    shown = [
        leader.get("/ui/rankings?period=2026-10").text,
        leader.get("/ui/rankings?period=2026-10", htmx=True).text,
        zhang.get(f"/ui/cases/{case_id}").text,
        zhang.get(f"/ui/cases/{case_id}", htmx=True).text,
    ]
    with zipfile.ZipFile(io.BytesIO(leader.get("/ui/rankings/bulletin.xlsx?period=2026-10").content)) as book:
        shown.append(book.read("xl/sharedStrings.xml").decode())
    shown.append(leader.get("/ui/rankings/bulletin.csv?period=2026-10").content.decode("utf-8-sig"))
    result = Assessor(ui.engine).assess("2026-10")
    shown += [render(result, fmt).decode() for fmt in ("html", "table", "csv")]
    shown.append(render(result, "json").decode())
    assert [first_illegal(text) for text in shown] == [None] * len(shown)
    cleaned = [i for i, text in enumerate(shown) if "水\ufffd务\ufffd局\ufffd" in text]
    assert cleaned == list(range(len(shown))), "every text shows the name, cleaned"
