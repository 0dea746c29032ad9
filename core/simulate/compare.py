"""`gridcase simulate --compare`: one incident stream through several city models, side by side.

The stream comes from the standard profile's workload (the models' common ground), so no model
is measured on its own favourite mix; each model reads it onto its own grids, classes and
channels. Each model runs in its own SQLite database beside the report.
"""

import json
from collections.abc import Callable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from gridcase.core.profile import load_validated
from gridcase.core.simulate import fresh_sqlite, simulate
from gridcase.core.simulate.workload import Workload, incidents

WORKLOAD_PROFILE = "standard"


def common_stream(days: int, seed: int, start: date, reports_per_day: int | None):
    profile = load_validated(WORKLOAD_PROFILE)[0].plain()
    from gridcase.core.profile.taxonomy import active_classes

    classes = sorted((i["kind"], i["minor"]["code"]) for i in active_classes(profile))
    return incidents(Workload.of(profile, classes).scaled(reports_per_day), start, days, seed)


def compare_models(
    names: list[str],
    days: int,
    seed: int,
    start: date,
    output: Path,
    reports_per_day: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    for name in names:  # every profile must load before an hour is spent on the first
        load_validated(name)
    output.mkdir(parents=True, exist_ok=True)
    stream = common_stream(days, seed, start, reports_per_day)
    models = []
    for name in names:
        url = fresh_sqlite(output / f"{name}.db")
        models.append(
            simulate(
                name, url, days, seed, start, stream=stream, progress=progress, evidence=output / "evidence"
            )
        )
    report = {
        "seed": seed,
        "days": days,
        "start": start.isoformat(),
        "incidents": len(stream),
        "models": models,
    }
    (output / "comparison.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (output / "comparison.html").write_text(render(report), encoding="utf-8")
    return report


def render(report: dict[str, Any]) -> str:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(
        resources.files("gridcase.core.simulate").joinpath("templates", "comparison.html").read_text("utf-8")
    )
    stages = sorted({s for m in report["models"] for s in m["figures"]["stage_hours"]})
    kinds = sorted({k for m in report["models"] for k in m["figures"]["workload_by_unit_kind"]})
    # JSON inside <script> is not HTML-decoded: it goes in raw, with "</" escaped so no value
    # can close the element
    data = json.dumps({"report": report, "stages": stages, "kinds": kinds}, ensure_ascii=False)
    return template.render(
        report=report, stages=stages, kinds=kinds, echarts=_echarts(), data=data.replace("</", "<\\/")
    )


def _echarts() -> str:
    """ECharts inlined, so the report opens anywhere with no network (the UI's vendored copy)."""
    vendored = resources.files("gridcase.admin_ui").joinpath("static", "vendor", "echarts.min.js")
    return vendored.read_text("utf-8") if vendored.is_file() else ""
