"""CLI commands that work on a deployment's database: migrations, imports, grids, workflows.

Each takes --profile and --db (defaults: the deployment's gridcase.toml, GRIDCASE_DATABASE_URL).
"""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from gridcase.core.db.connection import make_engine, migrating, read, upgrade
from gridcase.core.errors import GridcaseError
from gridcase.core.places import components, grids, reconcile
from gridcase.core.profile import load_validated
from gridcase.core.profile.workflow import workflows

ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile name or path [default: the deployment's]")
]
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL [default: GRIDCASE_DATABASE_URL or the deployment's]")
]


@contextmanager
def _database(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)
import_app = typer.Typer(help="Import grids and components.", no_args_is_help=True)
grids_app = typer.Typer(help="Export, check and generate grids.", no_args_is_help=True)
workflow_app = typer.Typer(help="Show the profile's workflows.", no_args_is_help=True)


def _context(profile: str | None, db: str | None):
    from gridcase.core.cli.main import deployment, profile_ref

    settings = deployment(profile, db)
    loaded, _ = load_validated(profile_ref(settings.profile))
    return loaded.plain(), settings.database_url


@db_app.command("upgrade")
def db_upgrade(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what the upgrade would change, and change nothing")
    ] = False,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Apply the migrations, then make the units and grids match the profile's, in place and in
    one transaction: what cases, people or history point at is deactivated, never deleted, and
    imported grids are never written over."""
    data, url = _context(profile, db)
    with migrating(url, commit=not dry_run) as connection:
        migrations = upgrade(url, connection=connection)
        planned = reconcile.plan(connection, data)
        if not dry_run:
            reconcile.apply(connection, planned, datetime.now(UTC))
    would = "would apply" if dry_run else "applied"
    typer.echo(f"migrations: {would} {', '.join(migrations)}" if migrations else "migrations: none pending")
    for line in planned.lines():
        typer.echo(f"  {line}")
    done = "dry run, nothing written: would change" if dry_run else "database at head; changed"
    typer.echo(f"{done} {planned.summary()}")


LenientOption = Annotated[
    bool,
    typer.Option("--lenient", help="Codes that break the standards' structure are warnings (legacy data)"),
]


@import_app.command("grids")
def import_grids(
    file: Path,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="The file is every grid: change and remove the stored ones to match"),
    ] = False,
    reassign: Annotated[
        str | None,
        typer.Option(
            help="With --replace: move the cases, components and people of removed grids to 'parent' "
            "(each one's nearest remaining ancestor) or to one grid CODE"
        ),
    ] = None,
    lenient: LenientOption = False,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Import grids from a GeoJSON FeatureCollection: all of them, or none if any is wrong."""
    data, url = _context(profile, db)
    with _database(url) as engine:
        result = grids.import_file(engine, file, data, replace=replace, lenient=lenient, reassign=reassign)
    for warning in result.warnings:
        typer.echo(warning, err=True)
    typer.echo(result.summary())


@import_app.command("components")
def import_components(
    file: Path,
    lenient: LenientOption = False,
    encoding: Annotated[
        str | None, typer.Option(help="The CSV's encoding [default: UTF-8 (with or without BOM), else GBK]")
    ] = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Import components from CSV or GeoJSON; bad rows are listed and the good ones kept."""
    data, url = _context(profile, db)
    if not file.is_file():
        raise GridcaseError("not_found", f"no file {file}")
    with _database(url) as engine:
        try:
            report = components.import_file(engine, file, data, lenient=lenient, encoding=encoding)
        except ValueError as exc:
            raise GridcaseError("invalid_file", str(exc)) from None
    for problem in report.problems:
        typer.echo(f"{file}:{problem}", err=True)
    if report.rejected > report.listed:
        typer.echo(f"… and {report.rejected - report.listed} more rejected rows", err=True)
    typer.echo(report.summary())
    if report.rejected:
        raise typer.Exit(1)


@grids_app.command("export")
def grids_export(
    level: Annotated[str | None, typer.Option(help="Only grids of this level")] = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Print the grids as a GeoJSON FeatureCollection."""
    _, url = _context(profile, db)
    with _database(url) as engine, read(engine) as connection:
        sys.stdout.write(grids.to_json(grids.export(connection, level)) + "\n")


@grids_app.command("coverage")
def grids_coverage(
    level: Annotated[str, typer.Option(help="The level to check inside its parents")] = "unit_grid",
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Report gaps and overlaps of one grid level inside its parents (exit 1 if any)."""
    _, url = _context(profile, db)
    with _database(url) as engine, read(engine) as connection:
        result = grids.coverage(connection, level)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if result["gaps"] or result["overlaps"]:
        raise typer.Exit(1)


@workflow_app.command("diagram")
def workflow_diagram(
    code: Annotated[str | None, typer.Argument(help="Workflow code [default: the profile's default]")] = None,
    profile: ProfileOption = None,
) -> None:
    """Print a workflow as a Mermaid state diagram."""
    data, _ = _context(profile, None)
    machines = workflows(data)
    code = code or data["workflow"]["default"]
    if code not in machines:
        raise GridcaseError("not_found", f"no workflow {code!r}; the profile has {', '.join(machines)}")
    typer.echo(machines[code].mermaid(), nl=False)


sla_app = typer.Typer(help="Time limits: fire due events and deliver notices.", no_args_is_help=True)


@sla_app.command("sweep")
def sla_sweep(profile: ProfileOption = None, db: DbOption = None) -> None:
    """Fire every due time-limit event once and deliver due notifications (safe to run in parallel)."""
    from gridcase.core.cli.main import deployment, profile_ref
    from gridcase.core.engine import Engine
    from gridcase.core.ops.retention import Retention
    from gridcase.core.sla import sweep

    settings = deployment(profile, db)
    engine = Engine.open(profile_ref(settings.profile), settings.database_url)
    try:
        result = engine.sweep(retention=Retention.of(settings))
    finally:
        engine.db.dispose()
    fired = ", ".join(f"{k} {n}" for k, n in sweep.fired_counts(result["fired"]).items()) or "nothing due"
    delivered = ", ".join(f"{k} {n}" for k, n in result["delivered"].items())
    typer.echo(f"fired: {fired}; notifications: {delivered}")


@sla_app.command("outbox")
def sla_outbox(
    status: Annotated[str | None, typer.Option(help="pending, sending, sent or failed")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    channel: Annotated[str | None, typer.Option(help="Only this channel's: sms, hotline, webhook…")] = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """List notifications with their delivery status, attempts and last error."""
    from gridcase.core.cli.main import deployment
    from gridcase.core.notify.outbox import STATUSES, outbox_listing

    if status and status not in STATUSES:
        raise GridcaseError("invalid_request", f"--status is one of {', '.join(STATUSES)}, not {status!r}")
    _, url = _context(profile, db)
    with _database(url) as engine:
        listing = outbox_listing(engine, status, limit, channel)
    if channel and channel not in listing["channels"]:  # a mistyped channel is not an empty one
        held = ", ".join(sorted(listing["channels"])) or "none"
        raise GridcaseError(
            "invalid_request", f"the outbox holds no notice of channel {channel!r} (it holds: {held})"
        )
    for row in listing["rows"]:
        error = f"  ({row['last_error']})" if row["last_error"] else ""
        head = (
            f"{row['id']:>6} {row['status']:<8} x{row['attempts']} {row['channel']:<8} {row['recipient']:<20}"
        )
        typer.echo(f"{head} {row['text']}{error}")
    typer.echo(", ".join(f"{name} {n}" for name, n in listing["counts"].items()))
    days = deployment(profile, db).keep_notices_days
    typer.echo(f"notices sent or failed are kept {days:g} days (keep_notices_days); pending ones until sent")


def add_to(app: typer.Typer) -> None:
    app.add_typer(sla_app, name="sla")
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")
    app.add_typer(grids_app, name="grids")
    app.add_typer(workflow_app, name="workflow")
