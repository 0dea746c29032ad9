"""`gridcase calendar`: the administrators' working-day overrides (days off, 调休 working days),
the years they confirmed, and how far ahead the working days are final."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from gridcase.core.cli.data import DbOption, ProfileOption, _context, _database
from gridcase.core.db.connection import read

if TYPE_CHECKING:
    from gridcase.core.engine import Engine

calendar_app = typer.Typer(
    help="Working-day overrides: days off and make-up working days.", no_args_is_help=True
)
CalendarOption = Annotated[str, typer.Option("--calendar", help="A named calendar [default: the profile's]")]


@contextmanager
def _engine(profile: str | None, db: str | None) -> "Iterator[Engine]":
    from gridcase.core.cli.main import deployment, profile_ref
    from gridcase.core.engine import Engine

    settings = deployment(profile, db)
    engine = Engine.open(profile_ref(settings.profile), settings.database_url)
    try:
        yield engine
    finally:
        engine.db.dispose()


def _day(text: str) -> date:
    from gridcase.core.errors import GridcaseError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise GridcaseError("invalid_date", f"{text!r} is not a date like 2027-02-10") from None


def _known(data: dict, calendar: str) -> None:
    from gridcase.core.errors import GridcaseError

    names = {c["code"] for c in data.get("time_limits", {}).get("calendars", [])}
    if calendar and calendar not in names:
        raise GridcaseError(
            "not_found", f"no calendar {calendar!r}; the profile has {', '.join(sorted(names)) or 'none'}"
        )


@calendar_app.command("set")
def calendar_set(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    working: Annotated[bool, typer.Option("--working/--off", help="A working day, or a day off")],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the override)")] = None,
    by: Annotated[str | None, typer.Option(help="Who decided")] = None,
    calendar: CalendarOption = "",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Make a day a working day or a day off; clocks started from now on count with it."""
    from gridcase.core.sla.overrides import set_override

    data, url = _context(profile, db)
    _known(data, calendar)
    with _database(url) as engine:
        set_override(engine, _day(day), working, datetime.now(UTC), calendar, reason, by)
    typer.echo(f"{day}: {'working day' if working else 'day off'} in {calendar or 'the default calendar'}")


@calendar_app.command("unset")
def calendar_unset(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    calendar: CalendarOption = "",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Remove an override: the day follows the profile and the holiday data again."""
    from gridcase.core.sla.overrides import remove_override

    _, url = _context(profile, db)
    with _database(url) as engine:
        remove_override(engine, _day(day), calendar)
    typer.echo(f"{day}: override removed")


def _year(text: str) -> int:
    from gridcase.core.errors import GridcaseError

    if not (text.isdigit() and 2000 <= int(text) <= 2200):
        raise GridcaseError("invalid_date", f"{text!r} is not a year like 2027")
    return int(text)


@calendar_app.command("confirm")
def calendar_confirm(
    year: Annotated[str, typer.Argument(help="YYYY")],
    reason: Annotated[str | None, typer.Option(help="Why, e.g. the State Council notice")] = None,
    by: Annotated[str | None, typer.Option(help="Who decided")] = None,
    calendar: CalendarOption = "",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Declare a year's days off and 调休 working days entered (as overrides): its deadlines are
    no longer provisional. The next sweep (or `calendar recompute`) counts them again."""
    from gridcase.core.sla.overrides import confirm_year

    data, url = _context(profile, db)
    _known(data, calendar)
    number = _year(year)
    with _database(url) as engine:
        confirm_year(engine, number, datetime.now(UTC), calendar, reason, by)
    typer.echo(f"{number}: confirmed in {calendar or 'the default calendar'}")


@calendar_app.command("unconfirm")
def calendar_unconfirm(
    year: Annotated[str, typer.Argument(help="YYYY")],
    calendar: CalendarOption = "",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Take back a year's confirmation: deadlines started from now on reaching it are provisional."""
    from gridcase.core.sla.overrides import unconfirm_year

    _, url = _context(profile, db)
    number = _year(year)
    with _database(url) as engine:
        unconfirm_year(engine, number, calendar)
    typer.echo(f"{number}: no longer confirmed in {calendar or 'the default calendar'}")


@calendar_app.command("check")
def calendar_check(profile: ProfileOption = None, db: DbOption = None) -> None:
    """How far ahead each calendar's working days are confirmed, and the provisional deadlines
    of open cases; exits 1 when a calendar is within its warning days (monitoring can use it)."""
    from gridcase.core.sla.clocks import provisional_deadlines

    with _engine(profile, db) as engine:
        found = engine.limits.deadlines.readiness(engine.time.now())
        with read(engine.db) as connection:
            provisional, soonest = provisional_deadlines(connection)
        zone = engine.city.timezone
    for item in found:
        line = f"{item.calendar or 'default':<16} confirmed through {item.last_confirmed}"
        typer.echo(f"{line} ({item.days_left} days)" + ("  WARNING" if item.warning else ""))
    typer.echo(f"{provisional} open deadlines are provisional")
    for clock in soonest:
        due = clock["deadline"].astimezone(zone)
        typer.echo(f"  {clock['number']:<20} {clock['stage']:<12} {due:%Y-%m-%d %H:%M} (暂定)")
    if provisional > len(soonest):
        typer.echo(f"  … and {provisional - len(soonest)} more")
    warnings = [item for item in found if item.warning]
    for item in warnings:
        typer.echo(f"warning: {item.message()}", err=True)
    if warnings:
        raise typer.Exit(1)


@calendar_app.command("recompute")
def calendar_recompute(profile: ProfileOption = None, db: DbOption = None) -> None:
    """Count provisional deadlines again now (the sweep does it too), recording each change."""
    with _engine(profile, db) as engine:
        changed = engine.limits.recompute_deadlines(engine.time.now())
    typer.echo(f"recomputed {changed} provisional deadlines")


@calendar_app.command("list")
def calendar_list(profile: ProfileOption = None, db: DbOption = None) -> None:
    """The overrides, with who decided them, when and why."""
    from gridcase.core.sla.overrides import listed

    _, url = _context(profile, db)
    with _database(url) as engine:
        rows = listed(engine)
    for row in rows:
        kind = "working" if row["working"] else "off"
        who = f" by {row['changed_by']}" if row["changed_by"] else ""
        why = f": {row['reason']}" if row["reason"] else ""
        typer.echo(f"{row['calendar'] or 'default':<16} {row['day']} {kind:<8}{who}{why}")
    if not rows:
        typer.echo("no overrides")


def add_to(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
