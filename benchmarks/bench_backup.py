"""Backups (issue 23): `gridcase backup` of a 1M-case database, its archive's size, and the
restore of that archive into an empty database (checksums checked first, row counts after).

The cases, their units, clocks and events are generated inside the database as bench_server
and bench_assess make theirs (INSERT … SELECT), with 300 photos of 100 kB in the evidence
folder. Each figure is one run: a backup or restore of the whole database is long enough that
its noise is small, and a median of several would take minutes a database.

GRIDCASE_BENCH_SCALE (default 1) scales the number of cases.
"""

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.connection import make_engine, upgrade
from gridcase.core.ops import backup

from .bench_assess import _sql
from .bench_engine import scratch_pg
from .figures import Figure

SCALE = float(os.environ.get("GRIDCASE_BENCH_SCALE", "1"))
CASES = int(1_000_000 * SCALE)
PHOTOS = 300


def _populate(url: str, evidence: Path) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        for statement in _sql(engine.dialect.name, CASES):
            with engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()
    store = EvidenceStore(evidence)
    for n in range(PHOTOS):
        store.put(Upload(f"{n}.jpg", b"\xff\xd8\xff\xe0" + n.to_bytes(4, "big") * 25_000))


def _figures(url: str, restore_url: str, tmp: Path, backend: str) -> list[Figure]:
    _populate(url, tmp / "evidence")
    start = time.perf_counter()
    archive, manifest = backup.create(
        tmp / f"out-{backend}", backup.Source(url, tmp / "evidence"), datetime.now(UTC)
    )
    took = time.perf_counter() - start
    start = time.perf_counter()
    backup.restore(archive, restore_url, tmp / f"restored-evidence-{backend}")
    restored = time.perf_counter() - start
    cases = manifest["database"]["tables"]["case"]
    note = f"{cases:,} cases, {sum(manifest['database']['tables'].values()):,} rows, {PHOTOS} photos; one run"
    return [
        Figure(f"backup.time.{backend}", took, "s", "-", note),
        Figure(f"backup.size.{backend}", archive.stat().st_size / 1e6, "MB", "-", note),
        Figure(f"backup.restore_time.{backend}", restored, "s", "-", f"{note}; verify, restore, count"),
    ]


def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        figures += _figures(f"sqlite:///{tmp / 'city.db'}", f"sqlite:///{tmp / 'restored.db'}", tmp, "sqlite")
        with scratch_pg("gridcase_bench_backup") as pg, scratch_pg("gridcase_bench_restore") as target:
            if pg:
                figures += _figures(pg, target, tmp, "postgresql")
    return figures
