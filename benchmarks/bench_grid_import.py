"""Importing a city's grid file (issue 21: a 36 MB GeoJSON took 55 s and 3.3 GB).

Goal: within 3 times the time and the memory of reading the same file as plain JSON
(`json.load`). Both are measured in the same run, each in a fresh interpreter so that one does
not inherit the other's heap: time is the median of three, memory the peak resident size the
work added to the interpreter's (imports and the migrated database excluded).
"""

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .figures import Figure

FEATURES = 16_000  # about 36 MB with the vertices below, as the file
STEPS = 10  # vertices a grid edge: real unit grids follow streets, not a box's four corners
SIDE = 0.002  # degrees: a unit grid of about 200 m
REPEAT = 3

# Runs in the child: prints {"seconds", "mb"} for one piece of work.
CHILD = """
import json, resource, sys, time
from pathlib import Path
what, path, db = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if what == "import":
    from gridcase.core import grids
    from gridcase.core.db.connection import make_engine, upgrade
    from gridcase.core.profile import load_validated
    profile = load_validated("standard")[0].plain()
    upgrade(db)
    engine = make_engine(db)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if what == "import":
    grids.import_file(engine, path, profile)
else:
    with path.open(encoding="utf-8") as handle:
        json.load(handle)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "mb": (peak - before) / 1024}))
"""


def write_file(path: Path, features: int = FEATURES) -> None:
    """A district and its unit grids, each ring with STEPS vertices an edge, indented as GIS
    tools write it."""
    side = int(features**0.5) + 1
    x0, y0 = 114.90, 25.80
    district = [
        [x0, y0],
        [x0 + side * SIDE, y0],
        [x0 + side * SIDE, y0 + side * SIDE],
        [x0, y0 + side * SIDE],
    ]
    out = [
        {
            "type": "Feature",
            "properties": {"code": "360702", "level": "district"},
            "geometry": {"type": "Polygon", "coordinates": [district + [district[0]]]},
        }
    ]
    for n in range(features):
        row, col = divmod(n, side)
        x, y = x0 + col * SIDE, y0 + row * SIDE
        corners = [(x, y), (x + SIDE, y), (x + SIDE, y + SIDE), (x, y + SIDE), (x, y)]
        ring = [
            [round(ax + (bx - ax) * i / STEPS, 9), round(ay + (by - ay) * i / STEPS, 9)]
            for (ax, ay), (bx, by) in zip(corners, corners[1:], strict=False)
            for i in range(STEPS)
        ]
        out.append(
            {
                "type": "Feature",
                "properties": {
                    "code": f"360702{n + 1:09d}",
                    "level": "unit_grid",
                    "parent": "360702",
                    "name": f"网格{n + 1}",
                },
                "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]},
            }
        )
    with path.open("w", encoding="utf-8") as handle:
        json.dump({"type": "FeatureCollection", "features": out}, handle, ensure_ascii=False, indent=1)


def _measure(what: str, path: Path, folder: Path) -> tuple[float, float]:
    """Median seconds and peak megabytes of REPEAT fresh runs."""
    runs = []
    for n in range(REPEAT):
        db = f"sqlite:///{folder / f'{what}{n}.db'}"
        done = subprocess.run(
            [sys.executable, "-c", CHILD, what, str(path), db], check=True, capture_output=True, text=True
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return statistics.median(r["seconds"] for r in runs), statistics.median(r["mb"] for r in runs)


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "grids.geojson"
        write_file(path)
        size = path.stat().st_size / 1e6
        json_s, json_mb = _measure("json", path, folder)
        import_s, import_mb = _measure("import", path, folder)
    note = f"{FEATURES + 1} grids, {size:.0f} MB, SQLite"
    return [
        Figure("grids.import_file.seconds", import_s, "s", "", note),
        Figure("grids.json_load.seconds", json_s, "s", "", "json.load of the same file, same run"),
        Figure("grids.import_file.time_ratio", import_s / json_s, "x", "<= 3", "import / json.load"),
        Figure("grids.import_file.peak_mb", import_mb, "MB", "", note),
        Figure("grids.json_load.peak_mb", json_mb, "MB", "", "json.load of the same file, same run"),
        Figure("grids.import_file.memory_ratio", import_mb / json_mb, "x", "<= 3", "import / json.load"),
    ]
