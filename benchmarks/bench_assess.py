"""Assessment (issue 5): a month of 1,620,000 filed cases (徐州's two years) over 100 units.

The cases, their file/handle/whole-case clocks, their responsible units and a few percent of
rework, return, extension, shelving and exposure events are generated inside the database
(INSERT … SELECT), then October 2026 is assessed for every unit with every standard indicator,
composite, deduction and ledger. The baseline is a hand-written GROUP BY computing the same
counts in the same run. Peak memory is the assessing process's own maximum RSS (a subprocess).

GRIDCASE_BENCH_SCALE (default 1) scales the number of cases.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from gridcase.core.assess.assessor import Assessor
from gridcase.core.db.connection import upgrade
from gridcase.core.engine import Engine
from gridcase.core.timesource import ManualTime

from .bench_engine import scratch_pg
from .figures import Figure

SCALE = float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))
CASES = int(1_620_000 * SCALE)
UNITS = 100
FIRST = datetime(2024, 11, 1, tzinfo=UTC)
LAST = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 5, 2, tzinfo=UTC)
PERIOD = "2026-10"
PROFILE_YAML = (
    "name: bench_assess\nextends: standard\nregion: {name: 基准市, division_code: '320300'}\nunits:\n"
    + "".join(
        f"  - {{code: u{i:02d}, name: 部门{i:02d}, kind: department, class: {'ABC'[i % 3]}}}\n"
        for i in range(UNITS)
    )
)

# Each case i is filed at an even step across the two years; r(i, k) is a cheap pseudo-random
# number in 0..999 from the case number, the same on both databases.
STEP = (LAST - FIRST).total_seconds() / 1_620_000 / SCALE  # (the same spacing for any count)
R = "(({i} * 2654435761 + {k} * 40503) % 1000)"


def _sql(dialect: str, cases: int = CASES) -> list[str]:
    """INSERT … SELECT statements that make `cases` filed cases with their clocks and events."""
    i = "i"
    r = {k: R.format(i=i, k=k) for k in range(6)}
    filed = f"({FIRST.timestamp():.0f} + {i} * {STEP:.6f})"
    handle_stop = f"({filed} + 300 + {r[1]} * 300)"  # 5 min … 3.5 days after filing: ~57% on time
    recent = f"({i} > {cases} - {int(cases * 0.03)})"
    still_open = f"({recent} AND {r[2]} < 40)"  # 4% of the last few weeks' cases are open
    if dialect == "sqlite":
        ts = "(strftime('%Y-%m-%d %H:%M:%S', {0}, 'unixepoch') || '.000000')"
        series = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {cases}) "
        source, false, true = "FROM n", "0", "1"
    else:
        ts = "to_timestamp({0})"
        series = ""
        source, false, true = f"FROM generate_series(1, {cases}) AS i", "false", "true"

    def t(expr: str) -> str:
        return ts.format(expr)

    unit = (
        f"('u' || substr('0' || ({i} % {UNITS}), -2, 2))"
        if dialect == "sqlite"
        else f"('u' || lpad(({i} % {UNITS})::text, 2, '0'))"
    )
    case_rows = (
        f'{series}INSERT INTO "case" (id, number, workflow, state, state_kind, version, kind, class_code, major_code, '
        "urgent, channel, lon, lat, verified, report_count, reported_at, updated_at) "
        f"SELECT {i}, 'B' || {i}, 'standard', CASE WHEN {still_open} THEN 'handling' ELSE 'closed' END, "
        f"CASE WHEN {still_open} THEN 'open' ELSE 'closed' END, 1, 'component', "
        f"CASE WHEN {r[3]} < 500 THEN '0101' ELSE '0103' END, '01', {false}, "
        f"CASE WHEN {r[4]} < 700 THEN 'patrol' ELSE 'hotline_12345' END, 117.1, 34.2, {true}, 1, "
        f"{t(filed + ' - 900')}, {t(filed)} {source}"
    )
    responsible = (
        f"{series}INSERT INTO case_unit (case_id, unit, role, share, depth, active, since) "
        f"SELECT {i}, {unit}, 'responsible', 1.0, 0, {true}, {t(filed)} {source}"
    )
    clock_columns = (
        "(case_id, stage, status, started_at, stopped_at, deadline, owner, stopped_by, superseded, extended)"
    )
    file_clock = (
        f"{series}INSERT INTO clock {clock_columns} SELECT {i}, 'file', 'stopped', {t(filed + ' - 600')}, {t(filed)}, "
        f"{t(filed + ' + 300')}, {unit}, 'file', {false}, 0 {source}"
    )
    handle_clock = (
        f"{series}INSERT INTO clock {clock_columns} SELECT {i}, 'handle', "
        f"CASE WHEN {still_open} THEN 'running' ELSE 'stopped' END, {t(filed + ' + 300')}, "
        f"CASE WHEN {still_open} THEN NULL ELSE {t(handle_stop)} END, {t(filed + ' + 300 + 172800')}, {unit}, "
        f"CASE WHEN {still_open} THEN NULL ELSE 'handle' END, {false}, CASE WHEN {r[5]} < 20 THEN 1 ELSE 0 END {source}"
    )
    case_clock = (
        f"{series}INSERT INTO clock {clock_columns} SELECT {i}, 'case', "
        f"CASE WHEN {still_open} THEN 'running' ELSE 'stopped' END, {t(filed)}, "
        f"CASE WHEN {still_open} THEN NULL ELSE {t(handle_stop + ' + 7200')} END, {t(filed + ' + 345600')}, {unit}, "
        f"CASE WHEN {still_open} THEN NULL ELSE 'close' END, {false}, 0 {source}"
    )
    events = []
    for seq, (code, share) in enumerate(
        [("rework", 30), ("return", 20), ("approve_extension", 20), ("approve_shelve", 10), ("expose", 1)],
        start=2,
    ):
        events.append(
            f"{series}INSERT INTO case_event (case_id, seq, transition, from_state, to_state, actor_roles, at, payload, unit) "
            f"SELECT {i}, {seq}, '{code}', 'handling', 'handling', '[]', {t(filed + ' + 3600')}, '{{}}', {unit} "
            f"{source} WHERE {R.format(i=i, k=seq + 10)} < {share}"
        )
    return [case_rows, responsible, file_clock, handle_clock, case_clock, *events]


# The same counts, written by hand as an analyst who knows the indexes would: the runs stopped in
# October, still open, or open at its end (three index ranges), grouped by unit.
DONE = "c.stopped_by = '{by}' AND c.stopped_at >= :s AND c.stopped_at < :e"
OPEN = "c.deadline < :e AND c.started_at < :e AND (c.stopped_at IS NULL OR c.stopped_at >= :e) AND (c.paused_at IS NULL OR c.paused_at >= :e)"
ON_TIME = "(c.deadline IS NULL OR c.stopped_at <= c.deadline)"


def _clock_counts(stage: str, by: str, measures: list[str]) -> list[str]:
    done = DONE.format(by=by)
    sql = {
        "due": f"({done}) OR ({OPEN})",
        "done": done,
        "on_time": f"{done} AND {ON_TIME}",
        "late": f"{done} AND NOT {ON_TIME}",
        "open": OPEN,
    }
    return [f"SUM(CASE WHEN c.stage = '{stage}' AND ({sql[m]}) THEN 1 ELSE 0 END)" for m in measures]


HAND_SQL = (
    "SELECT c.owner, "
    + ", ".join(
        _clock_counts("file", "file", ["done"])
        + _clock_counts("handle", "handle", ["due", "done", "on_time", "late", "open"])
        + _clock_counts("case", "close", ["due", "done", "on_time", "late", "open"])
    )
    + """
FROM (SELECT * FROM clock WHERE stage IN ('file', 'handle', 'case') AND stopped_at >= :s AND stopped_at < :e
      UNION ALL SELECT * FROM clock WHERE stage IN ('file', 'handle', 'case') AND stopped_at IS NULL AND started_at < :e
      UNION ALL SELECT * FROM clock WHERE stage IN ('file', 'handle', 'case') AND stopped_at >= :e AND started_at < :e) c
WHERE c.superseded = :no
GROUP BY c.owner"""
)
EVENT_COUNTS = {
    "public_verified": "e.transition = 'verify' AND k.channel IN ('hotline_12319', 'hotline_12345', 'app', 'wechat', 'web', 'open311')",
    "self_handled": "e.transition = 'self_approve'",
    "voided": "e.transition = 'void'",
    "returned": "e.transition = 'return'",
    "extended": "e.transition = 'approve_extension'",
    "shelved": "e.transition = 'approve_shelve'",
    "supervised": "e.transition = 'supervise'",
    "exposed": "e.transition = 'expose'",
}
HAND_EVENTS = (
    "SELECT e.unit, COUNT(DISTINCT CASE WHEN e.transition = 'rework' THEN e.case_id END), "
    + ", ".join(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)" for condition in EVENT_COUNTS.values())
    + """
FROM case_event e JOIN "case" k ON k.id = e.case_id
WHERE e.transition IN ('verify', 'self_approve', 'void', 'rework', 'return', 'approve_extension', 'approve_shelve',
      'supervise', 'expose') AND e.at >= :s AND e.at < :e
GROUP BY e.unit"""
)

# Run in a fresh interpreter, so its peak RSS is the assessment's own.
CHILD = """
import json, resource, sys, time
from datetime import datetime
from gridcase.core.assess.assessor import Assessor
from gridcase.core.engine import Engine
from gridcase.core.timesource import ManualTime
engine = Engine.open(sys.argv[1], sys.argv[2], time=ManualTime(datetime.fromisoformat(sys.argv[3])))
result = Assessor(engine).assess(sys.argv[4], by="unit")
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "close_due": result["totals"]["close_due"]}))
"""


def _figures(url: str, folder: Path, backend: str) -> list[Figure]:
    upgrade(url)
    engine = Engine.open(folder, url, time=ManualTime(NOW))
    engine.load_reference_data()
    begin = time.perf_counter()
    with engine.db.begin() as connection:
        for statement in _sql(backend):
            connection.execute(text(statement))
    with engine.db.begin() as connection:
        connection.execute(text("ANALYZE"))
    generated = time.perf_counter() - begin
    assessor = Assessor(engine)
    period = assessor.period(PERIOD)
    params = {"s": period.start, "e": period.end, "no": False}
    samples, hand = [], []
    for _ in range(3):
        start = time.perf_counter()
        result = assessor.assess(period, by="unit", now=NOW)
        samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        with engine.db.connect() as connection:
            rows = connection.execute(text(HAND_SQL), params).all()
            connection.execute(text(HAND_EVENTS), params).all()
        hand.append(time.perf_counter() - start)
    by_hand = {r[0]: r for r in rows}
    u00 = next(o for o in result["objects"] if o["code"] == "u00")["values"]
    codes = (
        "filed",
        "handle_due",
        "handled",
        "handled_on_time",
        "handled_late",
        "overdue_unhandled",
        "close_due",
        "closed",
        "closed_on_time",
        "closed_late",
        "overdue_open",
    )
    assert tuple(u00[c] for c in codes) == tuple(by_hand["u00"][1:]), (u00, by_hand["u00"])
    engine.db.dispose()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), url, NOW.isoformat(), PERIOD],
        capture_output=True,
        text=True,
        check=True,
    )
    rss = json.loads(child.stdout)["rss_mb"]
    took, baseline = statistics.median(samples), statistics.median(hand)
    note = (
        f"{CASES:,} cases, {UNITS} units; {result['totals']['close_due']:,} due in {PERIOD}; "
        f"generated in {generated:.0f} s"
    )
    return [
        Figure(f"assess.month_all_units.{backend}", took, "s", "< 10", note),
        Figure(
            f"assess.ratio_to_hand_group_by.{backend}",
            took / baseline,
            "x",
            "<= 1.5",
            f"hand-written GROUP BY of the same counts: {baseline:.2f} s",
        ),
        Figure(f"assess.peak_rss.{backend}", rss, "MB", "< 500", "a fresh process assessing the month"),
    ]


def run() -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench_assess"
        folder.mkdir()
        (folder / "profile.yaml").write_text(PROFILE_YAML, encoding="utf-8")
        figures += _figures(f"sqlite:///{Path(tmp) / 'assess.db'}", folder, "sqlite")
        with scratch_pg("gridcase_bench_assess") as pg:
            if pg:
                figures += _figures(pg, folder, "postgresql")
    return figures
