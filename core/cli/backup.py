"""`gridcase backup DEST|--verify ARCHIVE|--scheduled` and `gridcase restore ARCHIVE` (core/backup.py)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from gridcase.core.cases.evidence import default_root
from gridcase.core.cli.data import DbOption, ProfileOption
from gridcase.core.ops import backup

EvidenceOption = Annotated[
    Path | None,
    typer.Option(
        "--evidence", help="The evidence folder [default: the deployment's, see docs/operations.md]"
    ),
]


def _source(profile: str | None, db: str | None, evidence: Path | None) -> backup.Source:
    from gridcase.core.cli.main import deployment
    from gridcase.core.profile import ProfileError, load
    from gridcase.core.profile.loader import bundled_dir, resolve

    settings = deployment(profile, db)
    folders: list[Path] = []
    if settings.profile:
        try:
            folders = load(settings.profile).chain
        except ProfileError:  # a backup never waits for a profile to be fixed: take its folder
            folders = [f for f in [resolve(settings.profile)] if f is not None]
    bundled = bundled_dir().resolve()
    return backup.Source(
        settings.database_url,
        evidence or default_root(settings.database_url, settings.source),
        settings.source,
        tuple(f for f in folders if not f.resolve().is_relative_to(bundled)),
    )


def backup_command(
    dest: Annotated[
        Path | None, typer.Argument(metavar="DEST", help="The folder to write the archive into")
    ] = None,
    verify: Annotated[
        Path | None,
        typer.Option("--verify", metavar="ARCHIVE", help="Check an archive's checksums, restoring nothing"),
    ] = None,
    scheduled: Annotated[
        bool,
        typer.Option(
            "--scheduled",
            help="The settings' backup: an archive in backup_dir when backup_every_hours have passed, "
            "copied to backup_offsite_dir, each keeping backup_keep (run it hourly from cron)",
        ),
    ] = False,
    evidence: EvidenceOption = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Write an archive of the database, the evidence, the settings and the profile, with a
    manifest of row counts and checksums, while the server runs."""
    from gridcase.core.cli.main import UserError
    from gridcase.core.settings import load_settings

    if sum((dest is not None, verify is not None, scheduled)) != 1:
        raise UserError("give one of: a DEST folder, --verify ARCHIVE, --scheduled")
    if verify is not None:
        manifest = backup.verify(verify)
        database = manifest["database"]
        typer.echo(
            f"ok: {verify} verifies: {len(manifest['files'])} files, {database['backend']} database "
            f"with {database['tables'].get('case', 0)} cases, made {manifest['created_at']}"
        )
        return
    source, now = _source(profile, db, evidence), datetime.now(UTC)
    if dest is not None:
        typer.echo(backup.summary(*backup.create(dest, source, now)))
        return
    settings = load_settings()
    if not settings.backup_dir:
        raise UserError("no backup_dir in gridcase.toml: set it (and backup_offsite_dir, backup_keep) first")
    schedule = backup.Schedule(
        Path(settings.backup_dir),
        Path(settings.backup_offsite_dir) if settings.backup_offsite_dir else None,
        settings.backup_keep,
        timedelta(hours=settings.backup_every_hours),
    )
    for line in backup.run_schedule(schedule, source, now):
        typer.echo(line)


def restore_command(
    archive: Annotated[Path, typer.Argument(metavar="ARCHIVE")],
    evidence: EvidenceOption = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", metavar="DIR", help="Also write the archive's gridcase.toml and profile into DIR"
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Restore an archive into an empty database (checksums checked first, row counts after)."""
    from sqlalchemy.engine import make_url

    from gridcase.core.cli.main import deployment
    from gridcase.core.db.connection import head_revision

    settings = deployment(None, db)
    url = settings.database_url
    evidence = evidence or default_root(url, settings.source)
    restored = backup.restore(archive, url, evidence, config)
    database = restored.manifest["database"]
    typer.echo(
        f"restored {archive} into {make_url(url).render_as_string()}: "
        f"{database['tables'].get('case', 0)} cases, row counts as in the manifest; "
        f"{restored.evidence_files} evidence files in {evidence}"
    )
    if config is not None:
        typer.echo(f"settings and profile: {restored.config_files} files in {config}")
    if database["migration"] != head_revision():
        typer.echo(f"the archive is at migration {database['migration']}: run `gridcase db upgrade` next")


def add_to(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
