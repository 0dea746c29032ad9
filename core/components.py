"""Components (部件): streaming import, lookup by ID, nearest component of a class.

The import reads CSV or GeoJSON row by row, validates each row, and writes the good ones in
batches inside one transaction (COPY on PostgreSQL, executemany on SQLite): either every good
row is stored or, if the process dies, none is. Bad rows never stop the good ones and are all
reported with their line numbers.
"""

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, bindparam, select

from .db.engine import is_sqlite, read, write
from .db.models import Component
from .gridindex import metres_scale
from .taxonomy import active_edition

COMPONENT = Component.__table__
BY_CODE = select(COMPONENT).where(COMPONENT.c.code == bindparam("code"))
COLUMNS = (
    "code", "class_code", "name", "grid", "supervisor_unit", "owner_unit", "maintainer_unit",
    "state", "initial_date", "changed_date", "source", "lon", "lat", "note",
)  # fmt: skip
STATES = {"完好", "破损", "丢失", "废弃", "移除", "占用"}
SOURCES = {"实测", "地形图", "基础地理数据", "调绘", "其他", "其它"}
# Header names used by GB/T 47678.5 (table 2) and by CJ/T 214-era (egova) exports.
ALIASES = {
    "glbjbsm": "code", "objid": "code", "bjbsm": "code",
    "class": "class_code", "bjlx": "class_code",
    "glbjmc": "name", "objname": "name",
    "szdywgbsm": "grid", "bgid": "grid",
    "zgbmmc": "supervisor_unit", "deptname1": "supervisor_unit",
    "qsdwmc": "owner_unit", "deptname2": "owner_unit",
    "yhdwmc": "maintainer_unit", "deptname3": "maintainer_unit",
    "glbjzt": "state", "objstate": "state",
    "csrq": "initial_date", "ordate": "initial_date",
    "bgrq": "changed_date", "chdate": "changed_date",
    "sjly": "source", "datasource": "source",
    "bz": "note", "x": "lon", "lng": "lon", "longitude": "lon", "y": "lat", "latitude": "lat",
}  # fmt: skip
BATCH = 20_000
MAX_REPORTED = 1_000


@dataclass
class ImportReport:
    imported: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"line {line}: {message}")


class RowChecker:
    """Validates one row (a dict of raw strings) against the profile; returns a tuple or a message."""

    def __init__(self, profile: dict[str, Any]) -> None:
        self.pattern = re.compile(profile.get("codes", {}).get("component") or r".")
        edition = active_edition(profile)
        self.classes = {m["code"] for major in edition.get("component", []) for m in major.get("minors", [])}
        minor_len = len(next(iter(self.classes), "0101"))
        self.class_slice = slice(6, 6 + minor_len)

    def __call__(self, raw: dict[str, Any]) -> tuple | str:
        code = (raw.get("code") or "").strip()
        if not code:
            return "missing component code"
        if not self.pattern.search(code):
            return f"component code {code!r} does not match the pattern {self.pattern.pattern}"
        class_code = (raw.get("class_code") or "").strip() or code[self.class_slice]
        if class_code not in self.classes:
            return f"{code}: unknown component class {class_code!r}"
        try:
            lon, lat = float(raw.get("lon")), float(raw.get("lat"))
        except (TypeError, ValueError):
            return f"{code}: lon and lat must be numbers"
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return f"{code}: ({lon}, {lat}) is not a longitude/latitude pair"
        state = (raw.get("state") or "").strip() or None
        if state is not None and state not in STATES:
            return f"{code}: unknown state {state!r} (expected one of {'/'.join(sorted(STATES))})"
        source = (raw.get("source") or "").strip() or None
        if source is not None and source not in SOURCES:
            return f"{code}: unknown data source {source!r}"
        dates = []
        for key in ("initial_date", "changed_date"):
            text = (raw.get(key) or "").strip()
            try:
                dates.append(_date(text) if text else None)
            except ValueError:
                return f"{code}: {key} {text!r} is not a date (YYYY-MM-DD or YYYYMMDD)"
        text = {
            k: ((raw.get(k) or "").strip() or None)
            for k in ("name", "grid", "supervisor_unit", "owner_unit", "maintainer_unit", "note")
        }
        return (
            code, class_code, text["name"], text["grid"], text["supervisor_unit"], text["owner_unit"],
            text["maintainer_unit"], state, dates[0], dates[1], source, lon, lat, text["note"],
        )  # fmt: skip


def _date(text: str) -> date:
    return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        keys = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
        for row in reader:
            if row:
                yield reader.line_num, dict(zip(keys, row, strict=False))


def _geojson_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    for i, feature in enumerate(doc.get("features", []), start=1):
        props = {ALIASES.get(k.lower(), k.lower()): v for k, v in (feature.get("properties") or {}).items()}
        coordinates = (feature.get("geometry") or {}).get("coordinates") or [None, None]
        yield i, {**props, "lon": coordinates[0], "lat": coordinates[1]}


def rows_of(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or feature number, raw row) pairs from a .csv or .geojson file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix in (".geojson", ".json"):
        return _geojson_rows(path)
    raise ValueError(f"{path.name}: components are imported from .csv or .geojson files")


def import_rows(
    engine: Engine, rows: Iterator[tuple[int, dict[str, Any]]], profile: dict[str, Any]
) -> ImportReport:
    check = RowChecker(profile)
    report = ImportReport()
    seen: set[str] = set()
    with write(engine) as connection:
        empty = connection.execute(select(COMPONENT.c.code).limit(1)).first() is None
        dbapi = connection.connection.driver_connection
        batch: list[tuple] = []
        for line, raw in rows:
            result = check(raw)
            if isinstance(result, str):
                report.reject(line, result)
                continue
            if result[0] in seen:
                report.reject(line, f"{result[0]}: duplicate component code in this file")
                continue
            seen.add(result[0])
            batch.append((line, result))
            if len(batch) >= BATCH:
                report.imported += _flush(dbapi, is_sqlite(engine), batch, empty, report)
                batch = []
        if batch:
            report.imported += _flush(dbapi, is_sqlite(engine), batch, empty, report)
    return report


def _flush(
    dbapi: Any, sqlite: bool, batch: list[tuple[int, tuple]], empty: bool, report: ImportReport
) -> int:
    if not empty:
        batch = _without_existing(dbapi, sqlite, batch, report)
    values = [row for _, row in batch]
    cursor = dbapi.cursor()
    try:
        if sqlite:
            cursor.executemany(
                f"INSERT INTO component ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                values,
            )
        else:
            with cursor.copy(f"COPY component ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
    finally:
        cursor.close()
    return len(values)


def _without_existing(dbapi: Any, sqlite: bool, batch: list[tuple[int, tuple]], report: ImportReport) -> list:
    codes = [row[0] for _, row in batch]
    cursor = dbapi.cursor()
    existing: set[str] = set()
    for start in range(0, len(codes), 5000):
        chunk = codes[start : start + 5000]
        if sqlite:
            cursor.execute(f"SELECT code FROM component WHERE code IN ({','.join('?' * len(chunk))})", chunk)
        else:
            cursor.execute("SELECT code FROM component WHERE code = ANY(%s)", (chunk,))
        existing.update(r[0] for r in cursor.fetchall())
    cursor.close()
    for line, row in batch:
        if row[0] in existing:
            report.reject(line, f"{row[0]}: component already registered")
    return [(line, row) for line, row in batch if row[0] not in existing]


def import_file(engine: Engine, path: Path, profile: dict[str, Any]) -> ImportReport:
    return import_rows(engine, rows_of(path), profile)


ROUTING = ("supervisor_unit", "owner_unit", "maintainer_unit")


@dataclass
class _ClassTree:
    tree: shapely.STRtree
    codes: list[str]
    coords: np.ndarray
    units: list[tuple[str | None, ...]]  # the routing fields, interned (few distinct values)


class ComponentIndex:
    """Nearest component of a class: one STRtree of points per class, built on first use.

    It also keeps each component's supervising, owning and maintaining units, which is all
    routing needs, so intake does not read the component row again.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._trees: dict[str, _ClassTree] = {}

    def _tree(self, class_code: str) -> _ClassTree:
        if class_code not in self._trees:
            with read(self.engine) as connection:
                rows = connection.execute(
                    select(
                        COMPONENT.c.code, COMPONENT.c.lon, COMPONENT.c.lat, *(COMPONENT.c[k] for k in ROUTING)
                    ).where(COMPONENT.c.class_code == class_code)
                ).all()
            coords = np.array([(r[1], r[2]) for r in rows], dtype=float).reshape(-1, 2)
            seen: dict[tuple, tuple] = {}
            units = [seen.setdefault(tuple(r[3:]), tuple(r[3:])) for r in rows]
            self._trees[class_code] = _ClassTree(
                shapely.STRtree(shapely.points(coords)), [r[0] for r in rows], coords, units
            )
        return self._trees[class_code]

    def load_all(self) -> int:
        with read(self.engine) as connection:
            classes = connection.execute(select(COMPONENT.c.class_code).distinct()).scalars().all()
        return sum(len(self._tree(c).codes) for c in classes)

    def forget(self, class_code: str | None = None) -> None:
        """Drop cached trees after components change."""
        self._trees.pop(class_code, None) if class_code else self._trees.clear()

    def nearest(self, class_code: str, lon: float, lat: float, radius_m: float) -> dict[str, Any] | None:
        """{code, class_code, distance_m, supervisor_unit, owner_unit, maintainer_unit} or None."""
        found = self._tree(class_code)
        if not found.codes:
            return None
        sx, sy = metres_scale(lat)
        index, _ = found.tree.query_nearest(
            shapely.Point(lon, lat), max_distance=radius_m / min(sx, sy), return_distance=True
        )
        if len(index) == 0:
            return None
        i = int(index[0])
        x, y = found.coords[i]
        metres = math.hypot((x - lon) * sx, (y - lat) * sy)
        if metres > radius_m:
            return None
        return {
            "code": found.codes[i],
            "class_code": class_code,
            "distance_m": metres,
            **dict(zip(ROUTING, found.units[i], strict=True)),
        }


def get(engine: Engine, code: str) -> dict[str, Any] | None:
    with read(engine) as connection:
        row = connection.execute(BY_CODE, {"code": code}).mappings().first()
    return dict(row) if row else None


def profile_row(component: dict[str, Any]) -> dict[str, Any]:
    """A profile's component as an import row: text values (an explicit null is left out)."""
    row = {k: str(v) for k, v in component.items() if k != "location" and v is not None}
    return {
        **row,
        "class_code": component["class"],
        "lon": component["location"][0],
        "lat": component["location"][1],
    }
