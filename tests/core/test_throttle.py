"""Failed logins slow down the address that makes them, with delays that grow, instead of
locking the account: nobody can lock the administrator out from elsewhere. A name that does not
exist costs as long as a wrong password. An administrator sees the throttles and clears them."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from gridcase.core.errors import GridcaseError
from gridcase.core.people.accounts import log_in, set_password
from gridcase.core.people.throttle import ADDRESS_FREE, NAME_FREE, clear, delay, listing
from gridcase.core.places.units import add_person

PASSWORD = "admin-password"
ATTACKER, OFFICE = "198.51.100.7", "10.0.0.8"


@pytest.fixture
def admin(engine):
    add_person(engine.db, "admin", "管理员", ["admin"])
    set_password(engine.db, "admin", PASSWORD)
    return engine


def attempt(engine, username: str, password: str, address: str) -> str:
    """ "ok", "wrong" or "throttled (N s)"."""
    try:
        log_in(engine.db, username, password, address, engine.time.now())
    except GridcaseError as exc:
        if exc.code == "throttled":
            return f"throttled ({exc.details['retry_after']} s)"
        assert exc.code == "unauthorized"
        return "wrong"
    return "ok"


def test_failures_from_one_address_never_lock_the_account_out_elsewhere(admin):
    engine = admin
    for _ in range(NAME_FREE + 3):
        attempt(engine, "admin", "guess-guess", ATTACKER)
        engine.time.advance(seconds=1)
    assert attempt(engine, "admin", PASSWORD, ATTACKER).startswith("throttled")
    assert attempt(engine, "admin", PASSWORD, OFFICE) == "ok"


def test_delays_grow_with_each_failure_and_a_success_forgets_them(admin):
    engine = admin
    assert [attempt(engine, "admin", "guess-guess", ATTACKER) for _ in range(NAME_FREE)] == [
        "wrong"
    ] * NAME_FREE
    waits = []
    for _ in range(4):
        refused = attempt(engine, "admin", "guess-guess", ATTACKER)
        waits.append(int(refused.split("(")[1].split()[0]))
        engine.time.advance(seconds=waits[-1])
        assert attempt(engine, "admin", "guess-guess", ATTACKER) == "wrong"
    assert waits == [delay(NAME_FREE + i, NAME_FREE).seconds for i in range(4)] == [1, 2, 4, 8]
    engine.time.advance(seconds=16)
    assert attempt(engine, "admin", PASSWORD, ATTACKER) == "ok"
    assert attempt(engine, "admin", "guess-guess", ATTACKER) == "wrong"  # counted afresh


def test_an_address_guessing_many_names_is_slowed_down_for_every_name(admin):
    engine = admin
    for i in range(ADDRESS_FREE):
        assert attempt(engine, f"guess{i}", "guess-guess", ATTACKER) == "wrong"
    assert attempt(engine, "admin", PASSWORD, ATTACKER).startswith("throttled")
    assert attempt(engine, "admin", PASSWORD, OFFICE) == "ok"


def test_the_longest_delay_is_bounded(admin):
    assert delay(1000, NAME_FREE) == delay(100, NAME_FREE) == timedelta(minutes=15)
    assert delay(NAME_FREE - 1, NAME_FREE) == timedelta()


def test_an_unknown_name_takes_as_long_as_a_wrong_password(admin):
    engine = admin

    def took(username: str) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            attempt(engine, username, "guess-guess", f"192.0.2.{hash(username) % 200}")
            best = min(best, time.perf_counter() - start)
        return best

    known, unknown = took("admin"), took("nobody-here")
    assert unknown > known / 2, (known, unknown)  # was 100 times faster


def test_an_administrator_sees_and_clears_throttles(admin):
    engine = admin
    for _ in range(NAME_FREE):
        attempt(engine, "admin", "guess-guess", ATTACKER)
    for i in range(ADDRESS_FREE):
        attempt(engine, f"guess{i}", "guess-guess", OFFICE)
    now = engine.time.now()
    shown = {(t.address, t.username): t for t in listing(engine.db, now)}
    assert set(shown) == {(ATTACKER, "admin"), (OFFICE, None)}
    assert shown[ATTACKER, "admin"].failures == NAME_FREE
    assert shown[ATTACKER, "admin"].until > now
    assert clear(engine.db, address=OFFICE) == ADDRESS_FREE
    assert attempt(engine, "admin", PASSWORD, OFFICE) == "ok"
    assert clear(engine.db, address=ATTACKER, username="admin") == NAME_FREE
    assert listing(engine.db, now) == []
    with pytest.raises(GridcaseError):
        clear(engine.db)  # everything at once is not a throttle


def test_the_cli_lists_and_clears_throttles(admin, cli):
    engine = admin
    engine.time.set(datetime.now(UTC))  # the command runs on the real clock
    for _ in range(NAME_FREE):
        attempt(engine, "admin", "guess-guess", ATTACKER)
    base = [
        "--profile",
        "tests/profiles/testcity",
        "--db",
        engine.db.url.render_as_string(hide_password=False),
    ]
    shown = cli("user", "throttles", *base)
    assert shown.code == 0, shown.err
    assert ATTACKER in shown.out and "admin" in shown.out
    cleared = cli("user", "unthrottle", "--address", ATTACKER, "--username", "admin", *base)
    assert cleared.code == 0 and f"cleared {NAME_FREE} failed logins" in cleared.out
    assert "no throttles" in cli("user", "throttles", *base).out
