"""`gridcase assess`: the period's bulletin (通报), its explanations, and publishing it."""

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from gridcase.core.cli.data import DbOption, ProfileOption
from gridcase.core.timesource import ManualTime

OBJECTS_HELP = "unit, grid, person, channel or class"


def assess_command(
    period: Annotated[
        str, typer.Option(help="2026-10, 2026-Q4, 2026-W42, 2026-10-13, 2026 or 2026-10-01..2026-10-15")
    ],
    by: Annotated[str, typer.Option(help=f"What to assess: {OBJECTS_HELP}")] = "unit",
    classes: Annotated[
        list[str] | None, typer.Option("--class", help="Only objects of this class (repeatable)")
    ] = None,
    level: Annotated[str | None, typer.Option(help="Only grids of this level")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, xlsx, html or json")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file")] = None,
    explain: Annotated[
        str | None, typer.Option(help="Explain one object's numbers, e.g. unit:jiefang or grid:320508001")
    ] = None,
    indicator: Annotated[
        str | None, typer.Option(help="With --explain: one indicator, down to its cases")
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Publish the bulletin as a new immutable version")
    ] = False,
    publisher: Annotated[str | None, typer.Option(help="Who publishes (recorded with the version)")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Count a running period as of this moment, e.g. 2027-01-11T08:00+08:00 (a simulated "
            "month ahead of today) [default: now]",
        ),
    ] = None,
    profile: ProfileOption = None,
    db: DbOption = None,
) -> None:
    """Assess a period: indicators, composites, deductions, ledgers and a ranking per class."""
    from gridcase.core.assess.assessor import Assessor
    from gridcase.core.assess.bulletin import FORMATS, render
    from gridcase.core.assess.snapshots import publish as publish_result
    from gridcase.core.cli.main import deployment, profile_ref
    from gridcase.core.engine import Engine
    from gridcase.core.errors import GridcaseError

    if fmt not in FORMATS:
        raise GridcaseError("invalid_format", f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "xlsx" and output is None:
        raise GridcaseError("invalid_format", "xlsx is binary: give --output FILE")
    if as_of and publish:
        raise GridcaseError("invalid_request", "a published bulletin counts as of now: drop --as-of")
    settings = deployment(profile, db)
    at = {"time": ManualTime(_moment(as_of))} if as_of else {}
    engine = Engine.open(profile_ref(settings.profile), settings.database_url, **at)
    try:
        assessor = Assessor(engine)
        if explain:
            typer.echo(_explanation(assessor.explain(period, explain, indicator)))
            return
        result = assessor.assess(period, by=by, classes=classes or None, level=level)
        body = render(result, fmt)
        if output:
            output.write_bytes(body)
            typer.echo(f"wrote {output}")
        else:
            sys.stdout.buffer.write(body if body.endswith(b"\n") else body + b"\n")
            sys.stdout.flush()
        if publish:
            published = publish_result(engine, result, by=publisher)
            _report_published(published)
    finally:
        engine.db.dispose()


def _moment(text: str) -> datetime:
    from gridcase.core.errors import GridcaseError

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise GridcaseError(
            "invalid_request",
            f"--as-of {text!r} is not a moment with its offset, like 2027-01-11T08:00+08:00",
        )
    return moment


def _report_published(published: dict) -> None:
    typer.echo(
        f"published {published['period']} ({published['scope']}) as version {published['version']}", err=True
    )
    if published["version"] > 1:
        if not published["changes"]:
            typer.echo("no differences from the last version", err=True)
        for change in published["changes"]:
            typer.echo(
                f"  {change['object']} {change['field']}: {change['was']} -> {change['now']}", err=True
            )


def _explanation(explained: dict) -> str:
    lines = [f"{explained['object']} · {explained['period']['label']}"]
    if "result" in explained:
        result = explained["result"]
        composite = result["composite"]
        if composite:
            lines.append(f"综合得分 {composite['score']} ({composite['code']})")
            for term in composite["terms"]:
                lines.append(
                    f"  {term['indicator']}: 值 {_num(term['value'])} 分 {_num(term['score'])} "
                    f"× {term['weight']} = {_num(term['contribution'])}"
                )
        lines.append(
            f"扣分 {result['deducted']:g}，最终得分 {_num(result['final'])}，等级 {result['grade'] or '—'}"
        )
        for case in explained["deduction_cases"]:
            share = f"（分担 {case['share']:.0%}）" if case["share"] != 1 else ""
            lines.append(f"  -{case['points']:g} {case['rule']} {case['number']}{share}：{case['reason']}")
        for adjustment in result["adjustments"]:
            lines.append(f"  {adjustment['points']:+g} {adjustment['reason']}")
        return "\n".join(lines)
    _indicator_lines(explained, lines, "")
    return "\n".join(lines)


def _indicator_lines(node: dict, lines: list[str], indent: str) -> None:
    if "formula" in node:
        lines.append(f"{indent}{node['indicator']} = {node['formula']} = {_num(node['value'])}")
        for child in node["inputs"]:
            _indicator_lines(child, lines, indent + "  ")
        return
    if "fact" in node:  # a plugin's fact: its SQL gave the number, there are no cases to list
        source = f"（{node['fact']}：{node['description']}）"
        lines.append(f"{indent}{node['indicator']} = {_num(node['value'])}{source}")
        return
    lines.append(f"{indent}{node['indicator']} = {_num(node['value'])}")
    for case in node["cases"]:
        weight = f" ×{case['weight']:g}" if case["weight"] != 1 else ""
        lines.append(f"{indent}  {case['number']} {case['class']}{weight}：{case['reason']}")


def _num(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def add_to(app: typer.Typer) -> None:
    app.command("assess")(assess_command)


__all__ = ["add_to"]
