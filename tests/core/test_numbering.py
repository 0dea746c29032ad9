"""Case numbers: the profile's format, counted per everything in it but {seq}, built in Python on
SQLite and, on PostgreSQL, by the database inside the case's own INSERT (db/fast.py's
NumberedInsert). Both ways give the same number for every format."""

import pytest

from gridcase.core.db.connection import write
from gridcase.core.db.fast import NumberedInsert
from gridcase.core.db.models import Counter
from gridcase.core.db.numbering import Composed, composed
from gridcase.core.intake.submit import Submission
from gridcase.core.people.actor import Actor

from ..conftest import change_setting

supervisor = Actor.of("supervisor")
FIELDS = {"kind": "C", "year": 2026, "month": 10, "day": 13, "major": "01", "minor": "0101", "channel": "app",
          "district": "320508"}  # fmt: skip


@pytest.mark.parametrize(
    "fmt, parts",
    [
        ("{kind}{year}{month:02d}{day:02d}{seq:05d}", Composed("case:C20261013", "C20261013", 5, "0", "")),
        ("{year}-{seq:4d}/{kind}", Composed("case:2026-/C", "2026-", 4, " ", "/C")),
        ("{district}{seq}", Composed("case:320508", "320508", 0, " ", "")),
        ("{seq:x}", None),  # hexadecimal: Python builds it
        ("{seq}-{seq}", None),
        ("{kind}{year}", None),
    ],
)
def test_a_number_splits_into_what_the_database_can_build(fmt, parts):
    assert composed(fmt, FIELDS) == parts


@pytest.mark.parametrize(
    "fmt, first, after_99999",
    [
        ("{kind}{year}{month:02d}{day:02d}{seq:05d}", "C2026101300001", "C20261013100000"),
        ("{year}-{seq:4d}/{kind}", "2026-   1/C", "2026-100000/C"),
        ("{kind}{seq:x}", "C1", "C186a0"),
    ],
)
def test_every_format_numbers_alike_on_each_database(engine, fmt, first, after_99999):
    change_setting(engine, "codes", case_number=fmt)
    report = {"channel": "patrol", "category": "0101", "kind": "component"}
    assert engine.intake({**report, "point": [120.601, 31.337]}, supervisor)["number"] == first
    key = "case:" + fmt.replace("{seq:05d}", "").replace("{seq:4d}", "").replace("{seq:x}", "")
    key = key.format(kind="C", year=2026, month=10, day=13)
    with write(engine.db) as connection:  # the day's 99,999th case came in meanwhile
        connection.execute(
            Counter.__table__.update().where(Counter.__table__.c.key == key).values(value=99999)
        )
    case = engine.intake({**report, "point": [120.63, 31.337]}, supervisor)
    assert case["number"] == after_99999
    assert engine.case(case["case_id"])["number"] == after_99999


def patrol(category, point):
    return {"channel": "patrol", "category": category, "kind": "component", "point": point}


@pytest.mark.parametrize("chunk", [None, 2], ids=["one-insert", "chunks-of-two"])
def test_a_batch_numbers_its_new_cases_in_order_from_each_counter(engine, monkeypatch, chunk):
    """A batch's new cases of one counter are numbered in the batch's order, and two counters
    count apart; on PostgreSQL all of a counter's cases go in one INSERT (or, past the protocol's
    parameters, one a chunk), claiming their numbers at once."""
    if chunk is not None:
        monkeypatch.setattr(NumberedInsert, "_most", chunk)
    change_setting(engine, "codes", case_number="{kind}{minor}-{seq:03d}")
    engine.intake(patrol("0101", [120.601, 31.301]), supervisor)
    classes = ["0101", "0103", "0101", "0103", "0101"]
    batch = [Submission(patrol(c, [120.605 + 0.004 * n, 31.31]), supervisor) for n, c in enumerate(classes)]
    numbers = [outcome["number"] for outcome in engine.intake_many(batch)]
    assert numbers == ["C0101-002", "C0103-001", "C0101-003", "C0103-002", "C0101-004"]
    later = engine.intake(patrol("0101", [120.63, 31.33]), supervisor)
    assert engine.case(later["case_id"])["number"] == "C0101-005"
