"""Time limits (issue 4): deadline computation on the working calendar."""

import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gridcase.core.profile import load_validated
from gridcase.core.sla.deadlines import Deadlines

from .figures import Figure

CST = ZoneInfo("Asia/Shanghai")
N = 100_000


def run() -> list[Figure]:
    profile, _ = load_validated("standard")
    deadlines = Deadlines(profile.plain())
    rng = random.Random(5)
    base = datetime(2026, 1, 5, tzinfo=CST)
    starts = [base + timedelta(minutes=rng.randrange(0, 300 * 24 * 60)) for _ in range(N)]
    cases = [
        {
            "kind": "component",
            "class_code": "0101",
            "major_code": "01",
            "standard": rng.choice(["damaged", "loose", "surround", "missing"]),
        }
        for _ in range(N)
    ]
    for start, case in zip(starts[:1000], cases[:1000], strict=True):  # warm the day cache
        deadlines.compute("handle", case, start)
    begin = time.perf_counter()
    for start, case in zip(starts, cases, strict=True):
        deadlines.compute("handle", case, start)
    rate = N / (time.perf_counter() - begin)
    begin = time.perf_counter()
    for start in starts:
        start + timedelta(minutes=240)
    baseline = N / (time.perf_counter() - begin)
    return [
        Figure(
            "sla.deadline_computation",
            rate,
            "deadlines/s",
            ">= 100000",
            "立结案标准 rows of 4 work_hour to 5 work_day, holidays and 调休 included",
        ),
        Figure(
            "sla.deadline_ratio_to_timedelta", rate / baseline, "x", "", "vs adding a timedelta, same run"
        ),
    ]
