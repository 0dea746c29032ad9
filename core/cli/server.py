"""`gridcase serve`, and the people and tokens that may use it: `gridcase user add|list|set|passwd`,
`gridcase import people`, `gridcase token create|revoke`."""

import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from gridcase.core.cli.data import DbOption, ProfileOption, _context, _database, import_app

user_app = typer.Typer(help="People who may log in.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (also Open311 api_keys).", no_args_is_help=True)


def _warn_of_unsent_notices(data: dict[str, Any], profile: str | None) -> None:
    """Notices of a channel no plugin sends wait in the outbox, with that reason: say so now."""
    from gridcase.core.city import CityProfile
    from gridcase.core.cli.main import profile_ref
    from gridcase.core.notify.outbox import notice_channels
    from gridcase.core.plugins import collect
    from gridcase.core.profile import load_validated

    _, pm = load_validated(profile_ref(profile))
    missing = notice_channels(CityProfile.of(data)) - {
        sender.channel for sender in collect(pm, "register_senders")
    }
    for channel in sorted(missing):
        typer.echo(
            f"warning: no plugin sends the {channel!r} channel the profile's notices use; they wait "
            f"in the outbox, pending (gridcase sla outbox), until one does",
            err=True,
        )


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Serve the JSON API, Open311 and the UI (uvicorn); each worker also sweeps time limits."""
    import uvicorn

    from gridcase.core.cli.main import deployment
    from gridcase.core.db.connection import require_head

    settings = deployment(profile, db)
    data, _ = _context(profile, db)  # the profile must validate, and the database be migrated,
    require_head(settings.database_url)  # before any worker starts
    _warn_of_unsent_notices(data, profile)
    # every worker reads these; one secret for all, so a session cookie works on each of them
    os.environ["GRIDCASE_DATABASE_URL"] = settings.database_url
    if settings.profile:
        os.environ["GRIDCASE_PROFILE"] = settings.profile
    os.environ.setdefault("GRIDCASE_SECRET_KEY", settings.secret_key or secrets.token_urlsafe(32))
    typer.echo(f"gridcase on http://{host}:{port}/ ({workers} worker{'s' if workers > 1 else ''})", err=True)
    config = uvicorn.Config(
        "gridcase.core.web.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    from gridcase.core.web.listener import worker_socket

    try:
        sock = worker_socket(config)
    except OSError as exc:
        typer.echo(f"gridcase: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    Multiprocess(config, sockets=[sock]).run()


AttributeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--attribute",
        help="KEY=VALUE that assessment and routing read, e.g. performance_pay=1800 or "
        "classes=event:0501,event:0504; KEY= removes it (repeatable)",
    ),
]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")]


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[
        list[str], typer.Option("--role", help="A role from the profile, by code or name (repeatable)")
    ],
    unit: Annotated[str | None, typer.Option(help="The person's unit")] = None,
    grid: Annotated[
        list[str] | None, typer.Option("--grid", help="A responsibility grid (repeatable)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name [default: the username]")] = None,
    attribute: AttributeOption = None,
    password_stdin: PasswordStdin = False,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Add a person, all or nothing. The password comes from stdin, or is generated and printed once."""
    from gridcase.core.people.accounts import generate_password
    from gridcase.core.people.roster import PersonData, add, parse_attributes

    data, url = _context(profile, db)
    person = PersonData(
        username, name or username, role, unit, grid or [], parse_attributes(attribute or []) or None
    )
    password = _stdin_password() if password_stdin else generate_password()
    with _database(url) as engine:
        add(engine, data, person, password)
    typer.echo(f"added {username} ({', '.join(role)})")
    if not password_stdin:
        typer.echo(f"password (shown once): {password}")


def _stdin_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("list")
def user_list(profile: ProfileOption = None, db: DbOption = None) -> None:
    """List the people: roles, unit, responsibility grids, whether active and able to log in."""
    from gridcase.core.people.roster import listing

    _, url = _context(profile, db)
    with _database(url) as engine:
        people = listing(engine)
    rows = [("USERNAME", "NAME", "ROLES", "UNIT", "GRIDS", "ACTIVE", "PASSWORD")] + [
        (
            p["username"],
            p["name"],
            ",".join(p["roles"]),
            p["unit"] or "-",
            _few(p["grids"]),
            "yes" if p["active"] else "no",
            "yes" if p["has_password"] else "no",
        )
        for p in people
    ]
    _table(rows)


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    """Columns aligned, the first row the header."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo(
            "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip()
        )


def _few(grids: list[str], shown: int = 3) -> str:
    """A worker of a big city may patrol dozens of grids; a table row shows the first few."""
    if not grids:
        return "-"
    more = f",+{len(grids) - shown}" if len(grids) > shown else ""
    return ",".join(grids[:shown]) + more


def _width(text: str) -> int:
    """Columns a terminal gives the text: a Chinese character takes two."""
    from unicodedata import east_asian_width

    return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)


@user_app.command("set")
def user_set(
    username: str,
    role: Annotated[list[str] | None, typer.Option("--role", help="Replace the roles (repeatable)")] = None,
    unit: Annotated[str | None, typer.Option(help="Move the person to this unit")] = None,
    no_unit: Annotated[bool, typer.Option("--no-unit", help="Take the person out of any unit")] = False,
    grid: Annotated[
        list[str] | None, typer.Option("--grid", help="Replace the responsibility grids (repeatable)")
    ] = None,
    no_grids: Annotated[bool, typer.Option("--no-grids", help="Remove every responsibility grid")] = False,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    attribute: AttributeOption = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Allow or stop the person's logins and tokens")
    ] = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Change a person: only what is given changes, all of it or nothing."""
    from gridcase.core.errors import GridcaseError
    from gridcase.core.people.roster import KEEP, change, parse_attributes

    if (unit and no_unit) or (grid and no_grids):
        raise GridcaseError("invalid", "give --unit or --no-unit, --grid or --no-grids, not both")
    data, url = _context(profile, db)
    # `KEY=` removes the attribute
    attributes = {k: None if v == "" else v for k, v in parse_attributes(attribute or []).items()}
    with _database(url) as engine:
        change(
            engine,
            data,
            username,
            name=name,
            roles=role or None,
            unit=None if no_unit else unit if unit else KEEP,
            grids=[] if no_grids else grid or None,
            attributes=attributes,
            active=active,
        )
    typer.echo(f"changed {username}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    password_stdin: PasswordStdin = False,
    temporary: Annotated[
        bool, typer.Option(help="Good only for choosing their own at the first login (/ui/password)")
    ] = False,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Set a person's password: asked for twice, or read from stdin for scripts."""
    from gridcase.core.people.accounts import set_password

    _, url = _context(profile, db)
    if password_stdin:
        password = _stdin_password()
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _database(url) as engine:
        set_password(engine, username, password, temporary)
    if temporary:
        typer.echo(f"temporary password of {username} set: they choose their own when they first log in")
    else:
        typer.echo(f"password of {username} changed")


@user_app.command("throttles")
def user_throttles(profile: ProfileOption = None, db: DbOption = None) -> None:
    """List the addresses (and names from them) whose failed logins delay their next try."""
    from datetime import UTC, datetime

    from gridcase.core.people.throttle import WINDOW, listing

    _, url = _context(profile, db)
    now = datetime.now(UTC)
    with _database(url) as engine:
        throttles = listing(engine, now)
    if not throttles:
        typer.echo(f"no throttles: no address has failed logins enough in the last {WINDOW} to wait")
        return
    rows = [("ADDRESS", "USERNAME", "FAILURES", "LAST (UTC)", "WAIT")] + [
        (
            t.address or "-",
            t.username if t.username is not None else "(any)",
            str(t.failures),
            f"{t.last:%Y-%m-%d %H:%M:%S}",
            f"{max(0, int((t.until - now).total_seconds()))} s",
        )
        for t in throttles
    ]
    _table(rows)


@user_app.command("unthrottle")
def user_unthrottle(
    address: Annotated[str | None, typer.Option(help="Forget the failed logins from this address")] = None,
    username: Annotated[str | None, typer.Option(help="Forget the failed logins of this name")] = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Clear a throttle: forget the failed logins from an address, of a name, or both together."""
    from gridcase.core.people.throttle import clear

    _, url = _context(profile, db)
    with _database(url) as engine:
        cleared = clear(engine, address, username)
    typer.echo(f"cleared {cleared} failed logins")


def import_people(file: Path, profile: ProfileOption = None, db: DbOption = None) -> None:
    """Import people from a CSV or .xlsx roster; bad rows are listed by line and the good ones kept."""
    from gridcase.core.people.roster import import_file

    data, url = _context(profile, db)
    with _database(url) as engine:
        report = import_file(engine, data, file)
    for problem in report.problems:
        typer.echo(f"{file}:{problem}", err=True)
    typer.echo(
        f"imported {report.imported} people ({report.created} new, {report.updated} updated, "
        f"{report.unchanged} unchanged), rejected {report.rejected}"
    )
    if report.without_password:
        typer.echo(
            f"{report.without_password} of them have no password and cannot log in until "
            "`gridcase user passwd NAME`"
        )
    if report.rejected:
        raise typer.Exit(1)


@token_app.command("create")
def token_create(
    username: str,
    label: Annotated[str, typer.Option(help="What the token is for")] = "api",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Create an API token for a person; it is printed once and stored only as a hash."""
    from datetime import UTC, datetime

    from gridcase.core.people.accounts import create_token

    _, url = _context(profile, db)
    with _database(url) as engine:
        token = create_token(engine, username, label, datetime.now(UTC))
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    prefix: Annotated[str, typer.Argument(help="The token's first 10 characters")],
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Revoke a token by its prefix."""
    from datetime import UTC, datetime

    from gridcase.core.errors import GridcaseError
    from gridcase.core.people.accounts import revoke_token

    _, url = _context(profile, db)
    with _database(url) as engine:
        if not revoke_token(engine, prefix, datetime.now(UTC)):
            raise GridcaseError("not_found", f"no live token starting {prefix!r}")
    typer.echo(f"revoked {prefix}")


def add_to(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    import_app.command("people")(import_people)
