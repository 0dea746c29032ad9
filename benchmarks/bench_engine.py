"""The case engine (issue 3): intake among 10k grids and 1M components, component import,
point-to-grid lookups and the memory of the component index.

GRIDCASE_BENCH_SCALE (default 1) scales the data sizes for a quick run.
"""

import csv
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.db.connection import make_engine, upgrade
from gridcase.core.engine import Engine
from gridcase.core.people.actor import Actor
from gridcase.core.places import components, grids
from gridcase.core.profile.taxonomy import active_classes

from .figures import Figure

SCALE = float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))
BBOX = (117.0, 34.1, 117.4, 34.4)  # around 徐州
LEVELS = ["district", "street", "community", "unit_grid"]
XUZHOU_COMPONENTS = int(886_747 * SCALE)
ONE_MILLION = int(1_000_000 * SCALE)
INTAKES = max(500, int(2_000 * SCALE))
PROFILE_YAML = """\
name: bench
extends: standard
region: {name: 基准区, division_code: '320300'}
units:
""" + "".join(f"  - {{code: street{i}, name: 街道{i}, kind: street}}\n" for i in range(1, 11))


def _pg_url() -> str | None:
    url = os.environ.get("GRIDCASE_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    try:
        import psycopg

        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3).close()
        return url
    except Exception:
        return None


@contextmanager
def scratch_pg(name: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database for one benchmark (its URL), dropped afterwards; None when no
    server answers."""
    pg = _pg_url()
    if pg is None:
        yield None
        return
    import psycopg

    admin = pg.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield pg.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _write_components(path: Path, count: int, classes: list[str], start: int = 0) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "class", "name", "state", "lon", "lat", "maintainer_unit"])
        for n in range(start, start + count):
            cls = classes[n % len(classes)]
            writer.writerow([
                f"320300{cls}{n:06d}"[:16], cls, "部件", "完好",
                f"{rng.uniform(BBOX[0], BBOX[2]):.6f}", f"{rng.uniform(BBOX[1], BBOX[3]):.6f}", f"street{1 + n % 10}",
            ])  # fmt: skip


def _import_rate(url: str, csv_path: Path, profile: dict) -> float:
    engine = make_engine(url)
    start = time.perf_counter()
    report = components.import_file(engine, csv_path, profile)
    elapsed = time.perf_counter() - start
    engine.dispose()
    assert report.rejected == 0, report.problems[:3]
    return report.imported / elapsed


def _raw_insert_rate(url: str, rows: list[dict]) -> float:
    """The same rows an intake writes, by hand-written SQL, one transaction per case."""
    import sqlite3

    db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    now = datetime(2026, 10, 13, 1, tzinfo=UTC).isoformat()
    start = time.perf_counter()
    for r in rows:
        db.execute("BEGIN IMMEDIATE")
        seq = db.execute(
            "INSERT INTO counter (key, value) VALUES ('raw', 1) ON CONFLICT (key) DO UPDATE SET value = counter.value + 1 RETURNING value"
        ).fetchone()[0]
        case_id = db.execute(
            'INSERT INTO "case" (number, workflow, state, state_kind, version, kind, class_code, major_code, urgent, channel,'
            " lon, lat, grid, grid_path, verified, report_count, routing_rule, routing_explanation, reported_at, updated_at)"
            " VALUES (?, 'standard', 'reported', 'open', 1, 'component', ?, ?, 0, 'patrol', ?, ?, ?, ?, 0, 1, 'component', 'x', ?, ?)",
            (
                f"RAW{seq:08d}",
                r["category"],
                r["category"][:2],
                r["point"][0],
                r["point"][1],
                "g",
                "/g/",
                now,
                now,
            ),
        ).lastrowid
        db.execute(
            "INSERT INTO case_unit (case_id, unit, role, share, depth, active, since) VALUES (?, 'street1', 'responsible', 1, 0, 1, ?)",
            (case_id, now),
        )
        db.execute(
            "INSERT INTO report (case_id, channel, duplicate, lon, lat, crs, received_at) VALUES (?, 'patrol', 0, ?, ?, 'wgs84', ?)",
            (case_id, r["point"][0], r["point"][1], now),
        )
        db.execute(
            "INSERT INTO case_event (case_id, seq, transition, to_state, actor_roles, at, payload) VALUES (?, 1, 'report', 'reported', '[]', ?, '{}')",
            (case_id, now),
        )
        db.execute(
            "INSERT INTO clock (case_id, stage, status, started_at) VALUES (?, 'accept', 'running', ?)",
            (case_id, now),
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(rows) / elapsed


MEMORY_PROBE = """
import resource, sys
from gridcase.core.places.components import ComponentIndex
from gridcase.core.db.connection import make_engine
index = ComponentIndex(make_engine(sys.argv[1]))
count = index.load_all()
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "bench").mkdir()
        (tmp / "bench" / "profile.yaml").write_text(PROFILE_YAML, encoding="utf-8")
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        engine = Engine.open(tmp / "bench", url, evidence=EvidenceStore(tmp / "evidence"))
        engine.load_reference_data()
        profile = engine.profile
        classes = [i["minor"]["code"] for i in active_classes(profile) if i["kind"] == "component"]

        # 10k unit grids: 10 streets x 10 communities x 100 unit grids
        fc = grids.lattice(BBOX, "320300", LEVELS, [10, 10, 100], [3, 3, 3])
        for f in fc["features"]:
            if f["properties"]["level"] == "street":
                f["properties"]["unit"] = f"street{int(f['properties']['code'][-3:])}"
        grids.import_features(engine.db, fc, profile, replace=True)
        engine.places.reload_grids()
        index = engine.places.grids
        rng = np.random.default_rng(3)
        lons, lats = rng.uniform(BBOX[0], BBOX[2], 100_000), rng.uniform(BBOX[1], BBOX[3], 100_000)
        start = time.perf_counter()
        for x, y in zip(lons, lats, strict=True):
            index.locate(x, y)
        figures.append(
            Figure(
                "engine.point_to_grid",
                len(lons) / (time.perf_counter() - start),
                "lookups/s",
                ">= 100000",
                f"{len(index)} grids, one point at a time",
            )
        )
        start = time.perf_counter()
        index.locate_many(lons, lats)
        figures.append(
            Figure(
                "engine.point_to_grid_vectorised",
                len(lons) / (time.perf_counter() - start),
                "lookups/s",
                "",
                "locate_many over the same points",
            )
        )

        # component import: 徐州's 886,747 rows, on SQLite and PostgreSQL
        csv_path = tmp / "components.csv"
        _write_components(csv_path, XUZHOU_COMPONENTS, classes)
        figures.append(
            Figure(
                "engine.component_import.sqlite",
                _import_rate(url, csv_path, profile),
                "rows/s",
                ">= 50000",
                f"{XUZHOU_COMPONENTS} rows",
            )
        )
        with scratch_pg("gridcase_bench") as pg_bench:
            if pg_bench:
                upgrade(pg_bench)
                figures.append(
                    Figure(
                        "engine.component_import.postgresql",
                        _import_rate(pg_bench, csv_path, profile),
                        "rows/s",
                        ">= 50000",
                        f"{XUZHOU_COMPONENTS} rows",
                    )
                )
                make_engine(pg_bench).dispose()
        rest = tmp / "rest.csv"
        _write_components(rest, ONE_MILLION - XUZHOU_COMPONENTS, classes, start=XUZHOU_COMPONENTS)
        components.import_file(engine.db, rest, profile)

        # peak memory of a process holding the whole 1M component index
        probe = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, url], capture_output=True, text=True, check=True
        )
        count, max_rss_kb = map(int, probe.stdout.split())
        figures.append(
            Figure(
                "engine.component_index_peak_memory",
                max_rss_kb / 1024,
                "MB",
                "< 600",
                f"{count} components indexed, whole process",
            )
        )

        # intake: locate, nearest component, dedupe, route, number, event; one case per transaction
        engine.places.components.load_all()
        prng = random.Random(11)
        reports = [
            {
                "channel": "patrol",
                "point": [prng.uniform(BBOX[0], BBOX[2]), prng.uniform(BBOX[1], BBOX[3])],
                "category": prng.choice(classes),
                "kind": "component",
            }
            for _ in range(INTAKES)
        ]
        actor = Actor.of("supervisor")
        # five interleaved rounds, engine then raw SQL on the same reports: medians of each
        rounds = 5
        size = len(reports) // rounds
        engine_rates, raw_rates = [], []
        for n in range(rounds):
            chunk = reports[n * size : (n + 1) * size]
            start = time.perf_counter()
            for report in chunk:
                engine.intake(report, actor)
            engine_rates.append(len(chunk) / (time.perf_counter() - start))
            raw_rates.append(_raw_insert_rate(url, chunk))
        intake_rate, raw_rate = statistics.median(engine_rates), statistics.median(raw_rates)
        figures.append(
            Figure(
                "engine.intake.sqlite",
                intake_rate,
                "cases/s",
                ">= 1000",
                f"{len(index)} grids, {count} components",
            )
        )
        figures.append(
            Figure(
                "engine.intake.ratio_to_raw_sql",
                intake_rate / raw_rate,
                "x",
                ">= 0.3",
                f"raw SQL of the same rows: {raw_rate:.0f} cases/s",
            )
        )
        engine.db.dispose()
    figures.append(
        Figure(
            "bench_engine.peak_rss",
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "MB",
            "",
            "this benchmark process",
        )
    )
    return figures
