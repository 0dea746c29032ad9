"""People through the command line, as an integrator adds them to a city of their own: each
person is added, changed or imported wholly or not at all, and every refusal names what is wrong."""

import io
import re
from datetime import UTC, datetime

import pytest
import xlsxwriter
from sqlalchemy import select

from gridcase.core.db.connection import make_engine, read
from gridcase.core.db.models import Person, Responsibility
from gridcase.core.errors import GridcaseError
from gridcase.core.people.accounts import log_in

from ..conftest import REPO, TESTCITY

PERSON, RESPONSIBILITY = Person.__table__, Responsibility.__table__
NOW = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)
# docs/profiles.md's example roster, so that what the docs show is what is tested
ROSTER = re.search(
    r"<!-- example: people -->\n```csv\n(.*?)```",
    (REPO / "docs" / "profiles.md").read_text(encoding="utf-8"),
    re.S,
).group(1)


@pytest.fixture
def city(cli, db_url, monkeypatch):
    """`gridcase ARGS…` on the test city's freshly upgraded database; `stdin=` feeds a line."""
    base = ["--profile", str(TESTCITY), "--db", db_url]
    assert cli("db", "upgrade", *base).code == 0

    def run(*args: str, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return cli(*args, *base)

    run.url = db_url
    return run


def people(url: str) -> dict[str, dict]:
    db = make_engine(url)
    try:
        with read(db) as connection:
            rows = connection.execute(select(PERSON)).mappings().all()
            grids = connection.execute(select(RESPONSIBILITY)).all()
    finally:
        db.dispose()
    return {
        row["username"]: {**row, "grids": sorted(g.grid for g in grids if g.person_id == row["id"])}
        for row in rows
    }


def can_log_in(url: str, username: str, password: str) -> bool:
    db = make_engine(url)
    try:
        log_in(db, username, password, None, NOW)
        return True
    except GridcaseError:
        return False
    finally:
        db.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refused_password_adds_nobody_so_a_retry_succeeds(city):
    refused = city("user", "add", "li", "--role", "supervisor", "--password-stdin", stdin="short\n")
    assert (refused.code, refused.err) == (1, "error: a password has at least 10 characters\n")
    assert "li" not in people(city.url)
    again = city("user", "add", "li", "--role", "supervisor", "--password-stdin", stdin="long enough now\n")
    assert again.code == 0, again.err
    assert can_log_in(city.url, "li", "long enough now")


def test_unknown_grid_unit_and_role_are_named_and_nothing_is_added(city):
    for option, value, message in [
        ("--grid", "999", "error: no grid '999'"),
        ("--unit", "nosuchunit", "error: no unit 'nosuchunit'"),
        ("--role", "mayor", "error: no role 'mayor'"),
    ]:
        result = city("user", "add", "li", "--role", "supervisor", option, value)
        assert result.code == 1 and result.err.startswith(message), result.err
        assert "Traceback" not in result.err and "FOREIGN KEY" not in result.err
    assert people(city.url) == {}


def test_list_set_and_passwd(city):
    assert (
        city("user", "add", "zhou", "--role", "supervisor", "--grid", "320508001", "--name", "周").code == 0
    )
    listed = city("user", "list")
    assert listed.code == 0
    head, row = listed.out.splitlines()[:2]
    assert head.split() == ["USERNAME", "NAME", "ROLES", "UNIT", "GRIDS", "ACTIVE", "PASSWORD"]
    assert row.split() == ["zhou", "周", "supervisor", "-", "320508001", "yes", "yes"]

    changed = city(
        "user", "set", "zhou", "--role", "supervisor", "--role", "operator", "--unit", "street1",
        "--grid", "320508001001", "--grid", "320508002", "--attribute", "performance_pay=1800", "--inactive",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    zhou = people(city.url)["zhou"]
    assert (zhou["roles"], zhou["unit"], zhou["grids"], zhou["active"]) == (
        ["supervisor", "operator"], "street1", ["320508001001", "320508002"], False,
    )  # fmt: skip
    assert zhou["attributes"] == {"performance_pay": 1800}
    assert city("user", "set", "zhou", "--grid", "999").err == "error: no grid '999'\n"
    assert people(city.url)["zhou"]["grids"] == ["320508001001", "320508002"]
    assert city("user", "set", "nobody", "--active").err == "error: no person 'nobody'\n"

    assert city("user", "set", "zhou", "--active", "--no-unit", "--no-grids").code == 0
    zhou = people(city.url)["zhou"]
    assert (zhou["unit"], zhou["grids"], zhou["active"]) == (None, [], True)
    assert city("user", "passwd", "zhou", "--password-stdin", stdin="short\n").code == 1
    done = city("user", "passwd", "zhou", "--password-stdin", stdin="a new password\n")
    assert (done.code, done.out) == (0, "password of zhou changed\n")
    assert can_log_in(city.url, "zhou", "a new password")
    # a temporary one: right, but good only for choosing zhou's own
    done = city("user", "passwd", "zhou", "--temporary", "--password-stdin", stdin="a temporary one\n")
    assert done.out == "temporary password of zhou set: they choose their own when they first log in\n"
    db = make_engine(city.url)
    with pytest.raises(GridcaseError) as refused:
        log_in(db, "zhou", "a temporary one", None, NOW)
    db.dispose()
    assert refused.value.code == "password_change_required"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_passwd_prompts_twice(city, monkeypatch):
    from typer.testing import CliRunner

    from gridcase.core.cli.main import build_app

    assert city("user", "add", "zhou", "--role", "supervisor").code == 0
    base = ["--profile", str(TESTCITY), "--db", city.url]
    runner = CliRunner()
    mismatch = runner.invoke(
        build_app(), ["user", "passwd", "zhou", *base], input="first password\nother one!!\n" * 3
    )
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    done = runner.invoke(
        build_app(), ["user", "passwd", "zhou", *base], input="first password\nfirst password\n"
    )
    assert done.exit_code == 0, done.output
    assert can_log_in(city.url, "zhou", "first password")


def test_import_people_keeps_the_good_rows_lists_the_bad_by_line_and_is_idempotent(city, tmp_path):
    roster = tmp_path / "people.csv"
    roster.write_text(
        ROSTER
        + "郑无网格,zheng,supervisor,,999,\n"  # line 4
        + "王无角色,wang,mayor,,,\n"  # line 5
        + "钱无单位,qian,department,nosuchunit,,\n"  # line 6
        + "周重复,zhou,supervisor,,,\n"  # line 7: zhou again
        + "孙坏属性,sun,supervisor,,,performance_pay\n",  # line 8
        encoding="utf-8-sig",  # Excel's "CSV UTF-8"
    )
    result = city("import", "people", roster)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{roster}:4: no grid '999'",
        f"{roster}:5: no role 'mayor'",
        f"{roster}:6: no unit 'nosuchunit'",
        f"{roster}:7: zhou is on line 2 too",
        f"{roster}:8: attribute 'performance_pay' is not KEY=VALUE",
    ]
    assert result.out.splitlines() == [
        "imported 2 people (2 new, 0 updated, 0 unchanged), rejected 5",
        "2 of them have no password and cannot log in until `gridcase user passwd NAME`",
    ]
    stored = people(city.url)
    assert set(stored) == {"zhou", "wu"}
    assert (stored["zhou"]["name"], stored["zhou"]["roles"], stored["zhou"]["grids"]) == (
        "周监督", ["supervisor"], ["320508001001", "320508001002"],
    )  # fmt: skip
    assert stored["zhou"]["attributes"] == {"performance_pay": 1800}
    assert (stored["wu"]["unit"], stored["wu"]["password_hash"]) == ("water", None)

    good = tmp_path / "good.csv"
    good.write_text(ROSTER, encoding="utf-8")
    again = city("import", "people", good)
    assert (again.code, again.err) == (0, "")
    assert again.out.splitlines()[0] == "imported 2 people (0 new, 0 updated, 2 unchanged), rejected 0"
    assert people(city.url) == stored


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_import_people_reads_gbk_and_xlsx_and_updates_who_changed(city, tmp_path):
    gbk = tmp_path / "people-gbk.csv"
    gbk.write_bytes(ROSTER.encode("gbk"))  # what Excel saves as "CSV" on a Chinese Windows
    assert city("import", "people", gbk).out.startswith("imported 2 people (2 new,")

    xlsx = tmp_path / "people.xlsx"
    book = xlsxwriter.Workbook(xlsx)
    sheet = book.add_worksheet()
    rows = [
        ["username", "name", "roles", "unit", "grids", "attributes"],
        ["zhou", "周监督", "supervisor, operator", "", "320508001001", "performance_pay=1800"],
        ["wu", "吴处置", "department", "water", "", ""],
        ["chen", "陈", "leader", "", "", "performance_pay=2000;classes=event:0501,event:0504"],
    ]
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    sheet.write_number(3, 0, 1001)  # a number where a username goes: read as the text "1001"
    book.close()
    result = city("import", "people", xlsx)
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == "imported 3 people (1 new, 1 updated, 1 unchanged), rejected 0"
    stored = people(city.url)
    assert (stored["zhou"]["roles"], stored["zhou"]["grids"]) == (
        ["supervisor", "operator"],
        ["320508001001"],
    )
    assert stored["1001"]["attributes"] == {"performance_pay": 2000, "classes": ["event:0501", "event:0504"]}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_import_people_refuses_a_file_it_cannot_read_with_a_message(city, tmp_path):
    unknown = tmp_path / "extra.csv"
    unknown.write_text("姓名,角色,电话\n周,supervisor,123\n", encoding="utf-8")
    result = city("import", "people", unknown)
    assert result.code == 1 and result.err.startswith(f"error: {unknown}: unknown column '电话'")
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("角色\nsupervisor\n", encoding="utf-8")
    assert "needs a name or username column" in city("import", "people", nameless).err
    assert (
        city("import", "people", tmp_path / "missing.csv").err
        == f"error: no file {tmp_path / 'missing.csv'}\n"
    )
    binary = tmp_path / "photo.csv"
    binary.write_bytes(bytes(range(128, 256)) * 4)
    refused = city("import", "people", binary)
    assert refused.code == 1 and "Traceback" not in refused.err and "UTF-8" in refused.err
    assert people(city.url) == {}


def test_import_people_rejects_rows_with_illegal_text_by_line_and_field(city, tmp_path):
    """core/text.py's rule, as at every entry point: a control character (a NUL too) is a
    rejected row naming its field; the good rows are kept."""
    roster = tmp_path / "people.csv"
    roster.write_bytes(
        (
            "姓名,登录名,角色\n"
            "周监督,zhou,supervisor\n"
            "吴\x01处置,wu,supervisor\n"  # line 3
            "郑,zh\x00eng,supervisor\n"  # line 4
        ).encode()
    )
    result = city("import", "people", roster)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.splitlines() == [
        f"{roster}:3: name: character 2 (U+0001) is a control character",
        f"{roster}:4: username: character 3 (U+0000) is a control character",
    ]
    assert set(people(city.url)) == {"zhou"}


def test_import_people_refuses_a_lone_surrogates_bytes_as_text_it_cannot_read(city, tmp_path):
    roster = tmp_path / "people.csv"
    roster.write_bytes("姓名,登录名\n周\ud800,zhou\n".encode("utf-8", "surrogatepass"))
    result = city("import", "people", roster)
    assert result.code == 1 and "Traceback" not in result.err and "neither UTF-8 nor GBK" in result.err
    assert people(city.url) == {}
