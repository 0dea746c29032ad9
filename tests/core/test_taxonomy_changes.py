"""Taxonomy edits on top of the profile: append-only history, versions, other workers."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gridcase.core.db.connection import write
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.profile import taxonomy_changes
from gridcase.core.profile.edits import differences

from ..conftest import TESTCITY


def shorten(engine, limit="6 urgent_hour", reason="隐患大") -> int:
    minor = engine.catalogue.classes[("component", "0101")]["minor"]
    rows = [{**r, "time_limit": limit} if r["code"] == "missing" else r for r in minor["standards"]]
    version = taxonomy_changes.record(
        engine.db, engine.profile, set(engine.guards), "component", "0101", {"standards": rows},
        reason, "admin", engine.time.now(),
    )  # fmt: skip
    engine.catalogue.refresh_taxonomy()
    return version


def test_the_history_is_append_only(engine):
    shorten(engine)
    for statement in ("UPDATE taxonomy_change SET reason = 'x'", "DELETE FROM taxonomy_change"):
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            with write(engine.db) as connection:
                connection.execute(text(statement))
    assert taxonomy_changes.load(engine.db)[0]["reason"] == "隐患大"


def test_a_change_reads_as_what_changed(engine):
    shorten(engine)
    change = taxonomy_changes.load(engine.db)[0]
    (what,) = differences(change)  # one key of one standards row
    assert (what.field, what.row["code"], what.key) == ("standards", "missing", "time_limit")
    assert (what.before, what.after) == ("2 urgent_hour", "6 urgent_hour")


def test_an_edit_needs_a_reason_and_a_real_change(engine):
    with pytest.raises(GridcaseError, match="say why"):
        shorten(engine, reason=" ")
    with pytest.raises(GridcaseError, match="nothing changed"):
        shorten(engine, limit="2 urgent_hour")
    with pytest.raises(GridcaseError, match="cannot be edited here: code"):
        taxonomy_changes.record(
            engine.db,
            engine.profile,
            set(),
            "component",
            "0101",
            {"code": "9999"},
            "x",
            "a",
            engine.time.now(),
        )


def test_another_worker_takes_the_edit_up_when_it_meets_a_case_filed_under_it(engine, db_url):
    other = Engine.open(TESTCITY, db_url, time=engine.time, evidence=engine.evidence)
    try:
        version = shorten(engine)
        assert other.catalogue.taxonomy_version == 0
        taxonomy = other.catalogue.taxonomy_at(version)
        assert other.catalogue.taxonomy_version == version
        minor = taxonomy_changes.find_minor(taxonomy, "component", "0101")
        assert {r["code"]: r["time_limit"] for r in minor["standards"]}["missing"] == "6 urgent_hour"
        # and the version before it is still the profile's
        before = taxonomy_changes.find_minor(other.catalogue.taxonomy_at(0), "component", "0101")
        assert {r["code"]: r["time_limit"] for r in before["standards"]}["missing"] == "2 urgent_hour"
    finally:
        other.db.dispose()


def test_setting_edits_are_append_only_and_reach_the_deadlines(engine):
    from gridcase.core.profile import setting_changes

    setting_changes.record(
        engine.db, engine.profile, set(engine.guards), "rule", "accept", {"limit": "45 minute"},
        "夜班人手少", "admin", engine.time.now(),
    )  # fmt: skip
    engine.refresh_settings()
    assert engine.limits.deadlines.limit("accept", {"kind": "event"}).duration.value == 45
    with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        with write(engine.db) as connection:
            connection.execute(text("DELETE FROM setting_change"))
    with pytest.raises(GridcaseError, match="no rule 'nope'"):
        setting_changes.record(
            engine.db,
            engine.profile,
            set(),
            "rule",
            "nope",
            {"limit": "1 hour"},
            "x",
            "a",
            engine.time.now(),
        )
