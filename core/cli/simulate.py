"""`gridcase simulate`: a month of work on a simulated clock, and `--compare` across models."""

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from gridcase.core.cli.data import DbOption, ProfileOption

DEFAULT_DB = "sqlite:///gridcase-simulation.db"


def simulate_command(
    days: Annotated[int, typer.Option(min=1, max=366, help="Days to simulate")] = 30,
    seed: Annotated[int, typer.Option(help="The same seed gives the same figures")] = 1,
    start: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD [default: DAYS days before today]")
    ] = None,
    reports_per_day: Annotated[
        int | None, typer.Option(min=1, help="Reports on an ordinary weekday [default: the profile's]")
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(help="Profiles to compare on one incident stream, e.g. heping,taizhou,xuzhou"),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="With --compare: where the HTML and JSON reports go")
    ] = Path("simulation-report"),
    as_json: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    resume: Annotated[
        bool,
        typer.Option("--continue", help="Add the days to a database whose cases all came before --start"),
    ] = False,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Generate a reproducible workload and run it through the real engine; print the figures.

    The database is left for `gridcase serve`. With --compare, one incident stream goes through
    each named model, each in its own database beside the report.
    """
    from gridcase.core.cli.main import UserError, deployment, profile_ref
    from gridcase.core.simulate import simulate

    first = _start(start, days)
    if compare:
        from gridcase.core.simulate.compare import compare_models

        names = [n.strip() for n in compare.split(",") if n.strip()]
        if len(names) < 2:
            raise UserError("--compare needs at least two profiles, separated by commas")
        report = _with_progress(
            quiet,
            "comparing",
            lambda progress: compare_models(names, days, seed, first, output, reports_per_day, progress),
        )
        typer.echo(_comparison_table(report))
        typer.echo(f"report: {output / 'comparison.html'} and {output / 'comparison.json'}")
        return
    settings = deployment(profile, db)
    url = db or (settings.database_url if settings.source else None) or DEFAULT_DB
    ref = profile_ref(profile)
    result = _with_progress(
        quiet,
        ref,
        lambda progress: simulate(
            ref, url, days, seed, first, reports_per_day, progress=progress, resume=resume
        ),
    )
    typer.echo(summary(result))
    typer.echo(f"database: {url} (gridcase serve --profile {ref} --db {url})")
    if as_json:
        as_json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


def _start(text: str | None, days: int) -> date:
    from gridcase.core.cli.main import UserError

    if text is None:  # the days just ended, so today's dashboards and lights show them as live
        return date.today() - timedelta(days=days)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--start {text!r} is not a date such as 2026-10-01") from None


def _with_progress(quiet: bool, label: str, run):
    """A progress bar over the reports, estimated from the first progress calls."""
    if quiet:
        return run(None)
    started = datetime.now()
    count = [0]

    def progress(n: int) -> None:
        count[0] += n
        if count[0] % 500 == 0:
            rate = count[0] / max((datetime.now() - started).total_seconds(), 1e-6)
            typer.echo(f"\r{label}: {count[0]:>7} reports  {rate:>6.0f}/s", nl=False, err=True)

    result = run(progress)
    typer.echo(f"\r{label}: {count[0]:>7} reports  done in {datetime.now() - started}", err=True)
    return result


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def summary(result: dict[str, Any]) -> str:
    f, t = result["figures"], result["tally"]
    lines = [
        f"{result['profile']}: {result['days']} days from {result['start']}, seed {result['seed']}",
        f"  报告 reports      {f['reports']:>8}   (duplicates joined {t['duplicates']})",
        f"  立案数 filed      {f['filed']:>8}",
        f"  结案率 closure    {_pct(f['closure_rate']):>8}   ({f['closed']} closed, {f['open']} still open)",
        f"  按期结案率 on time {_pct(f['on_time_rate']):>8}",
        f"  即办率 on the spot {_pct(f['on_the_spot_rate']):>8}   ({f['on_the_spot']})",
    ]
    if f["overdue_by_unit"]:
        lines.append("  overdue handling by unit:")
        lines += [f"    {o['name']:<24} {o['overdue']:>6}" for o in f["overdue_by_unit"]]
    ranking = f.get("ranking") or {}
    for side, title in (("top", "top of the ranking"), ("bottom", "bottom of the ranking")):
        if ranking.get(side):
            lines.append(f"  {title}:")
            lines += [f"    {r['name']:<24} {r['score']:>8.2f}" for r in ranking[side]]
    if t["mechanisms"]:
        lines.append("  mechanisms: " + ", ".join(f"{k} {v}" for k, v in t["mechanisms"].items()))
    return "\n".join(lines)


def _comparison_table(report: dict[str, Any]) -> str:
    header = f"{'model':<12}{'filed':>8}{'closure':>9}{'on time':>9}{'on spot':>9}{'mechanisms':>12}"
    rows = [header]
    for model in report["models"]:
        f = model["figures"]
        rows.append(
            f"{model['profile']:<12}{f['filed']:>8}{_pct(f['closure_rate']):>9}{_pct(f['on_time_rate']):>9}"
            f"{_pct(f['on_the_spot_rate']):>9}{sum(model['tally']['mechanisms'].values()):>12}"
        )
    return "\n".join(rows)


def demo_command(
    city: Annotated[str, typer.Option(help="A bundled profile")] = "heping",
    days: Annotated[int, typer.Option(min=1, max=366, help="Days to simulate, ending today")] = 30,
    reports_per_day: Annotated[int, typer.Option(min=1, help="A light month, up in about a minute")] = 120,
    folder: Annotated[Path, typer.Option("--dir", help="Where the database and evidence go")] = Path("demo"),
    port: Annotated[int, typer.Option(help="Port to serve on")] = 8000,
    serve: Annotated[bool, typer.Option(help="Serve when done")] = True,
    seed: Annotated[int, typer.Option(help="The workload's seed")] = 1,
) -> None:
    """A live city on this machine: a fresh SQLite database, a simulated month, logins for each
    role, then `gridcase serve`."""
    import os

    from gridcase.core.cli import demo
    from gridcase.core.cli.server import serve_command
    from gridcase.core.profile import load_validated
    from gridcase.core.simulate import fresh_sqlite, simulate

    with demo.claim(folder, port if serve else None):
        url = fresh_sqlite(folder / f"{city}.db")
        result = _with_progress(
            False,
            city,
            lambda progress: simulate(
                city, url, days, seed, _start(None, days), reports_per_day, progress=progress,
                evidence=folder / "evidence",
            ),
        )  # fmt: skip
        typer.echo(summary(result))
        logins = demo.add_logins(url, load_validated(city)[0].plain())
        typer.echo(
            f"\ngridcase demo: {city} at http://127.0.0.1:{port}/ui/  (API: /api/v1/, Open311: /open311/v2/)"
        )
        typer.echo("log in as:")
        for login in logins:
            unit = f"  unit {login['unit']}" if login["unit"] else ""
            grids = f"  grids {','.join(login['grids'])}" if login["grids"] else ""
            typer.echo(f"  {login['username']:<22} {login['password']:<22} {login['role']}{unit}{grids}")
        if serve:
            os.environ["GRIDCASE_EVIDENCE_DIR"] = str((folder / "evidence").resolve())
            serve_command(port=port, profile=city, db=url)


def add_to(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
    app.command("demo")(demo_command)
