"""The `gridcase` command line (typer). User errors print as messages, never tracebacks."""

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
import yaml
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gridcase.core import __version__
from gridcase.core.cli import assess as cli_assess
from gridcase.core.cli import backup as cli_backup
from gridcase.core.cli import calendar as cli_calendar
from gridcase.core.cli import data as cli_data
from gridcase.core.cli import server as cli_server
from gridcase.core.cli import simulate as cli_simulate
from gridcase.core.cli.scaffold import ScaffoldError, init_deployment, new_plugin
from gridcase.core.errors import GridcaseError, GridImportError
from gridcase.core.plugins import PluginLoadError, collect, describe, get_plugin_manager, not_enabled
from gridcase.core.profile import ProfileError, list_profiles, load, load_validated
from gridcase.core.profile.taxonomy import active_edition, label_zh
from gridcase.core.settings import Settings, SettingsError, load_settings

ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile name or path [default: the deployment's]")
]
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL [default: GRIDCASE_DATABASE_URL or the deployment's]"),
]


class UserError(Exception):
    """A problem the user can fix; printed as a message with exit status 1."""


def deployment(profile: str | None = None, db: str | None = None) -> Settings:
    """The deployment's settings with command-line options applied."""
    settings = load_settings()
    return replace(settings, profile=profile or settings.profile, database_url=db or settings.database_url)


def profile_ref(ref: str | None) -> str:
    ref = ref or deployment().profile
    if not ref:
        raise UserError("no profile given, and no gridcase.toml here names one (use --profile or a NAME)")
    return ref


def _stdout_utf8() -> None:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")


profile_app = typer.Typer(help="List, validate and show city profiles.", no_args_is_help=True)
plugin_app = typer.Typer(help="Write new plugins.", no_args_is_help=True)


@profile_app.command("list")
def profile_list() -> None:
    """List the profiles on the search path (bundled, plus GRIDCASE_PROFILE_PATH)."""
    for name, folder in list_profiles():
        try:
            data = load(folder).data
            title, extends = label_zh(data.get("title")), data.get("extends") or "-"
        except ProfileError:
            title, extends = "(invalid: run `gridcase profile validate`)", "?"
        typer.echo(f"{name:<14} extends {extends:<10} {title}")


@profile_app.command("validate")
def profile_validate(ref: Annotated[str | None, typer.Argument(metavar="PATH|NAME")] = None) -> None:
    """Validate a profile: every problem is listed as file:line:col: /pointer: message."""
    profile, _ = load_validated(profile_ref(ref))
    typer.echo(f"ok: {profile.name} ({profile.folder})")


@profile_app.command("show")
def profile_show(
    ref: Annotated[str | None, typer.Argument(metavar="NAME")] = None,
    section: Annotated[
        str | None, typer.Option("--section", "-s", help="Only this top-level section")
    ] = None,
) -> None:
    """Print the merged profile (after extends and section files) as YAML."""
    profile, _ = load_validated(profile_ref(ref))
    data = profile.plain()
    if section is not None:
        if section not in data:
            raise UserError(f"profile {profile.name!r} has no section {section!r}; it has: {', '.join(data)}")
        data = {section: data[section]}
    _stdout_utf8()
    typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), nl=False)


@profile_app.command("summary")
def profile_summary(ref: Annotated[str | None, typer.Argument(metavar="NAME")] = None) -> None:
    """Count what a profile defines: classes, units, grids, workflows, indicators."""
    profile, pm = load_validated(profile_ref(ref))
    data = profile.plain()
    edition = active_edition(data)
    _stdout_utf8()
    typer.echo(f"{profile.name}: {label_zh(data.get('title'))}")
    typer.echo(f"  extends        {' -> '.join(p.name for p in profile.chain[1:]) or '-'}")
    typer.echo(f"  taxonomy       {edition.get('standard_ref')}")
    for kind, title in (("component", "部件 components"), ("event", "事件 events")):
        majors = edition.get(kind, [])
        typer.echo(
            f"    {title}: {len(majors)} major / {sum(len(m.get('minors', [])) for m in majors)} minor"
        )

    def count(section: str, key: str) -> int:
        return len((data.get(section) or {}).get(key) or ())

    workflows = (data.get("workflow") or {}).get("workflows") or []
    rows = [
        ("units", len(data.get("units", []))),
        ("grids", count("grids", "features")),
        ("roles", len(data.get("roles", []))),
        ("channels", len(data.get("channels", []))),
        (
            "workflows",
            ", ".join(
                f"{w['code']} ({len(w['states'])} states, {len(w['transitions'])} transitions)"
                for w in workflows
            ),
        ),
        ("stages", count("workflow", "stages")),
        ("limit rules", count("time_limits", "rules")),
        ("indicators", count("assessment", "indicators")),
        ("composites", count("assessment", "composites")),
        ("plugins", ", ".join(i.name for i in describe(pm) if i.source != "builtin") or "-"),
    ]
    for label, value in rows:
        typer.echo(f"  {label:<14} {value}")


@plugin_app.command("new")
def plugin_new(
    name: str,
    directory: Annotated[Path, typer.Option("--dir", "-d", help="Where to create gridcase-NAME/")] = Path(
        "."
    ),
) -> None:
    """Scaffold an installable plugin package: entry point, one example hookimpl, a test."""
    root = new_plugin(name, directory)
    typer.echo(
        f"created {root}\nnext: pip install -e {root}, then name it in the profile "
        f"(plugins: [{name}]) and run gridcase plugins"
    )


def plugins_command(profile: ProfileOption = None) -> None:
    """List the loaded plugins and the hooks each implements."""
    ref = profile or deployment().profile
    if ref:
        loaded, pm = load_validated(ref)
        typer.echo(f"profile: {loaded.name}")
    else:
        pm = get_plugin_manager()
    for info in describe(pm):
        version = f" {info.version}" if info.version else ""
        typer.echo(f"{info.name}{version} [{info.source}]")
        typer.echo(f"    hooks: {', '.join(info.hooks) or '-'}")
    for name in not_enabled(pm):
        typer.echo(f"{name} [installed, not enabled: name it under the profile's plugins: to run it]")


def init_command(
    directory: Annotated[Path, typer.Argument(metavar="DIR")],
    base: Annotated[
        str, typer.Option("--from", help="Profile to extend, e.g. standard or heping")
    ] = "standard",
    name: Annotated[str | None, typer.Option("--name", help="Profile name [default: from DIR]")] = None,
) -> None:
    """Scaffold a deployment: settings, a profile extending --from, and a local plugin stub."""
    for path in init_deployment(directory, base, name):
        typer.echo(f"created {path}")
    typer.echo(f"ok: the profile validates. next: cd {directory} && gridcase profile summary")


def build_app(pm=None) -> typer.Typer:
    app = typer.Typer(
        name="gridcase",
        help="gridcase: digital city management (数字化城市管理) from city profiles and plugins.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.add_typer(profile_app, name="profile")
    app.add_typer(plugin_app, name="plugin")
    app.command("plugins")(plugins_command)
    app.command("init")(init_command)
    cli_data.add_to(app)
    cli_assess.add_to(app)
    cli_server.add_to(app)
    cli_calendar.add_to(app)
    cli_simulate.add_to(app)
    cli_backup.add_to(app)

    @app.callback(invoke_without_command=True)
    def _root(version: Annotated[bool, typer.Option("--version", help="Show the version")] = False) -> None:
        if version:
            typer.echo(f"gridcase {__version__}")
            raise typer.Exit()

    for sub in collect(pm, "register_commands") if pm is not None else ():
        app.add_typer(sub, name=sub.info.name)
    return app


def _startup_manager():
    """Plugins for the deployment here, if there is one that loads; never fails the CLI."""
    try:
        ref = load_settings().profile
        return load_validated(ref)[1] if ref else get_plugin_manager()
    except (ProfileError, PluginLoadError, SettingsError):
        return get_plugin_manager()


def _configure_logs() -> None:
    """gridcase's logs as the deployment's settings say; a bad settings file is the command's
    own error to report, so it is passed over here."""
    from gridcase.core import logs

    try:
        settings = load_settings()
    except SettingsError:
        return
    logs.configure(settings.log_level or "warning", settings.log_format)


def main(argv: list[str] | None = None) -> int:
    _configure_logs()
    try:
        app = build_app(_startup_manager())
        app(args=argv, prog_name="gridcase", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ProfileError as exc:
        _stdout_utf8()
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(exc.issues)} problem{'s' if len(exc.issues) != 1 else ''} found", err=True)
        return 1
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        # a refused write reached the database, so it is neither unreachable nor unmigrated
        hint = (
            ""
            if isinstance(exc, IntegrityError)
            else " (is the database reachable, and has `gridcase db upgrade` run?)"
        )
        typer.echo(f"error: database: {detail}{hint}", err=True)
        return 1
    except GridImportError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        typer.echo(
            f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found; nothing imported",
            err=True,
        )
        return 1
    except (UserError, ScaffoldError, SettingsError, PluginLoadError, GridcaseError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
