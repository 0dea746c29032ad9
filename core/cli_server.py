"""`gridcase serve`, and the people and tokens that may use it: `gridcase user add`,
`gridcase token create|revoke`."""

import os
import secrets
import sys
from typing import Annotated, Any

import typer

from .cli_data import DbOption, ProfileOption, _context, _database

user_app = typer.Typer(help="People who may log in.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (also Open311 api_keys).", no_args_is_help=True)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Serve the JSON API, Open311 and the UI (uvicorn); each worker also sweeps time limits."""
    import uvicorn

    from .cli import deployment
    from .db.engine import require_head

    settings = deployment(profile, db)
    _context(profile, db)  # the profile must validate, and the database be migrated,
    require_head(settings.database_url)  # before any worker starts
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

    from .web.listener import worker_socket

    try:
        sock = worker_socket(config)
    except OSError as exc:
        typer.echo(f"gridcase: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    Multiprocess(config, sockets=[sock]).run()


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[list[str], typer.Option("--role", help="A role from the profile (repeatable)")],
    unit: Annotated[str | None, typer.Option(help="The person's unit")] = None,
    grid: Annotated[
        list[str] | None, typer.Option("--grid", help="A responsibility grid (repeatable)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name [default: the username]")] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            help="KEY=VALUE that assessment and routing read, e.g. performance_pay=1800 or "
            "classes=event:0501,event:0504 (repeatable)",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Add a person. The password comes from stdin, or is generated and printed once."""
    from .accounts import generate_password, set_password
    from .units import add_person, check_person

    data, url = _context(profile, db)
    check_person(data, role, unit)
    attributes = _attributes(attribute or [])
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    with _database(url) as engine:
        add_person(
            engine,
            username,
            name or username,
            role,
            unit=unit,
            grids=grid or (),
            attributes=attributes or None,
        )
        set_password(engine, username, password)
    typer.echo(f"added {username} ({', '.join(role)})")
    if not password_stdin:
        typer.echo(f"password (shown once): {password}")


def _attributes(items: list[str]) -> dict[str, Any]:
    """`performance_pay=1800` → 1800.0; `classes=event:0501,event:0504` → a list; else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--attribute")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = [v.strip() for v in value.split(",") if v.strip()] if "," in value else value
    return out


@token_app.command("create")
def token_create(
    username: str,
    label: Annotated[str, typer.Option(help="What the token is for")] = "api",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Create an API token for a person; it is printed once and stored only as a hash."""
    from datetime import UTC, datetime

    from .accounts import create_token

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

    from .accounts import revoke_token
    from .errors import GridcaseError

    _, url = _context(profile, db)
    with _database(url) as engine:
        if not revoke_token(engine, prefix, datetime.now(UTC)):
            raise GridcaseError("not_found", f"no live token starting {prefix!r}")
    typer.echo(f"revoked {prefix}")


def add_to(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
