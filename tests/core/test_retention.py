"""Records kept for a while are purged by the sweep after their documented windows: failed
logins, notices delivered or given up, and patrol tracks. Pending notices and recent rows stay."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from gridcase.core.db.models import LoginAttempt, Outbox, PatrolPoint
from gridcase.core.ops.retention import Retention
from gridcase.core.patrol import track
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.settings import SettingsError, load_settings

LOGIN_ATTEMPT, OUTBOX, PATROL_POINT = LoginAttempt.__table__, Outbox.__table__, PatrolPoint.__table__


def _notice(at, status, channel="log"):
    return {
        "created_at": at, "channel": channel, "recipient": "unit:water", "case_id": None, "event": "urge:urge",
        "text": "催办", "payload": {}, "status": status, "attempts": 1, "next_attempt_at": at,
    }  # fmt: skip


def test_the_sweep_purges_old_failed_logins_and_old_delivered_notices(engine):
    now = engine.time.now()
    old, recent = now - timedelta(days=200), now - timedelta(days=2)
    with engine.db.begin() as connection:
        connection.execute(
            insert(LOGIN_ATTEMPT),
            [{"username": f"guess{i}", "address": "198.51.100.7", "at": old} for i in range(1000)]
            + [{"username": "zhang", "address": "10.0.0.1", "at": recent}],
        )
        connection.execute(
            insert(OUTBOX),
            [
                _notice(old, "sent"),
                _notice(old, "failed"),
                _notice(old, "pending", "sms"),
                _notice(recent, "sent"),
            ],
        )
    purged = engine.sweep(retention=Retention(login_attempts=timedelta(days=30), notices=timedelta(days=90)))
    # what else the sweep purges (sessions, idempotency keys) is tested beside its own records
    assert purged["purged"]["login_attempt"] == 1000 and purged["purged"]["outbox"] == 2
    with engine.db.connect() as connection:
        assert connection.execute(select(LOGIN_ATTEMPT.c.username)).scalars().all() == ["zhang"]
        kept = connection.execute(select(OUTBOX.c.status, OUTBOX.c.next_attempt_at)).all()
    assert sorted(status for status, _ in kept) == [
        "pending",
        "sent",
    ]  # an old pending one waits for its sender
    assert not any(engine.sweep()["purged"].values())


def test_the_sweep_purges_the_patrol_tracks_made_before_the_window(engine):
    now = engine.time.now()
    person = add_person(engine.db, "li", "李巡查", ["supervisor"], grids=["320508001"])
    with engine.db.begin() as connection:
        connection.execute(
            insert(PATROL_POINT),
            [
                {"person_id": person, "made_at": now - timedelta(days=d, seconds=s), "lon": 120.61,
                 "lat": 31.337, "accuracy": 10.0, "arrived_at": now - timedelta(days=d)}
                for d in (500, 401, 2) for s in range(3)
            ],
        )  # fmt: skip
    purged = engine.sweep(retention=Retention(tracks=timedelta(days=400)))["purged"]
    assert purged["patrol_point"] == 6
    day = (now - timedelta(days=2)).astimezone(engine.city.timezone).date()
    viewer = Actor.of("supervisor", id=person)
    assert len(track.day_track(engine, viewer, person, day)["points"]) == 3  # the last days' walk stays
    assert engine.sweep(retention=Retention(tracks=timedelta(days=400)))["purged"]["patrol_point"] == 0


def test_the_windows_come_from_the_settings_and_refuse_nonsense(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gridcase.toml").write_text(
        "[gridcase]\nkeep_notices_days = 30\nkeep_track_days = 90\n", encoding="utf-8"
    )
    monkeypatch.setenv("GRIDCASE_KEEP_LOGIN_ATTEMPTS_DAYS", "7")
    assert Retention.of(load_settings()) == Retention(
        timedelta(days=7), timedelta(days=30), tracks=timedelta(days=90)
    )
    monkeypatch.setenv("GRIDCASE_KEEP_LOGIN_ATTEMPTS_DAYS", "0.1")
    try:
        load_settings()
    except SettingsError as exc:
        assert str(exc) == "keep_login_attempts_days must be at least 1 day, not 0.1"
    else:
        raise AssertionError("a window under a day was taken")


def test_the_cli_sweep_purges_with_the_deployments_windows(engine, cli, monkeypatch):
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)  # the command runs on the real clock
    with engine.db.begin() as connection:
        connection.execute(insert(LOGIN_ATTEMPT), [{"username": "x", "address": None, "at": ten_days_ago}])
    base = [
        "--profile",
        "tests/profiles/testcity",
        "--db",
        engine.db.url.render_as_string(hide_password=False),
    ]

    def attempts():
        with engine.db.connect() as connection:
            return connection.execute(select(func.count()).select_from(LOGIN_ATTEMPT)).scalar()

    assert cli("sla", "sweep", *base).code == 0 and attempts() == 1  # kept 30 days by default
    monkeypatch.setenv("GRIDCASE_KEEP_LOGIN_ATTEMPTS_DAYS", "7")
    assert cli("sla", "sweep", *base).code == 0 and attempts() == 0
    listed = cli("sla", "outbox", *base).out.splitlines()
    assert (
        listed[-1] == "notices sent or failed are kept 180 days (keep_notices_days); pending ones until sent"
    )
