"""`gridcase calendar`: the administrators' working-day overrides (days off, 调休 working days)."""

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from .cli_data import DbOption, ProfileOption, _context, _database

calendar_app = typer.Typer(
    help="Working-day overrides: days off and make-up working days.", no_args_is_help=True
)
CalendarOption = Annotated[str, typer.Option("--calendar", help="A named calendar [default: the profile's]")]


def _day(text: str) -> date:
    from .errors import GridcaseError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise GridcaseError("invalid_date", f"{text!r} is not a date like 2027-02-10") from None


def _known(data: dict, calendar: str) -> None:
    from .errors import GridcaseError

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
    from .sla.overrides import set_override

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
    from .sla.overrides import remove_override

    _, url = _context(profile, db)
    with _database(url) as engine:
        remove_override(engine, _day(day), calendar)
    typer.echo(f"{day}: override removed")


@calendar_app.command("list")
def calendar_list(profile: ProfileOption = None, db: DbOption = None) -> None:
    """The overrides, with who decided them, when and why."""
    from .sla.overrides import listed

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
