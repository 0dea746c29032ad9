"""Simulation (issue 9): 30 days of 禅城 at its real volume (about 3,000 reports a day) through
the real engine on SQLite, target under 5 minutes on a 2-core machine; and the same seed's
figures twice, which must be equal.

One run is minutes long, so the figure is that run's wall time (a median of one), with the
rate of a 1-day run measured just before it as the same-run baseline: the ratio says how much
a month's growing database slows each report. GRIDCASE_BENCH_SCALE (default 1) scales the days.
"""

import os
import tempfile
import time
from datetime import date
from pathlib import Path

from gridcase.core.simulate import simulate

from .figures import Figure

START = date(2026, 10, 1)


def _timed(folder: Path, name: str, days: int) -> tuple[float, dict]:
    began = time.perf_counter()
    result = simulate(
        "chancheng", f"sqlite:///{folder / name}.db", days, seed=1, start=START, evidence=folder / "evidence"
    )
    return time.perf_counter() - began, result


def run() -> list[Figure]:
    days = max(1, round(30 * float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        one_day, first = _timed(folder, "day", 1)
        _, again = _timed(folder, "day-again", 1)
        month, result = _timed(folder, "month", days)
    reports = result["tally"]["reports"]
    day_rate = first["tally"]["reports"] / one_day
    month_rate = reports / month
    return [
        Figure(
            f"simulate chancheng {days} days",
            month,
            "s",
            "< 300" if days == 30 else "",
            f"{reports} reports, {month_rate:.0f}/s; 1 day alone {day_rate:.0f}/s "
            f"(month/day rate {month_rate / day_rate:.2f})",
        ),
        Figure("simulate same seed same figures", float(first == again), "bool", ">= 1"),
    ]
