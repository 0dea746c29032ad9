"""Components (部件): streaming import, lookup by ID, nearest component of a class.

The import reads CSV or GeoJSON row by row, validates each row, and writes the good ones in
batches inside one transaction (COPY on PostgreSQL, executemany on SQLite): either every good
row is stored or, if the process dies, none is. Bad rows never stop the good ones and are all
reported with their line numbers.
"""

import csv
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

from gridcase.core.city import CityProfile
from gridcase.core.db.connection import is_sqlite, read, write
from gridcase.core.db.models import Component
from gridcase.core.errors import GridcaseError
from gridcase.core.places.geo import outside_hint, territory
from gridcase.core.places.geojson import FeatureStream
from gridcase.core.places.gridindex import GridIndex, metres_scale
from gridcase.core.places.grids import load_index
from gridcase.core.profile.located import ParseError
from gridcase.core.profile.taxonomy import active_edition
from gridcase.core.tables import ENCODINGS
from gridcase.core.text import check_fields

COMPONENT = Component.__table__
BY_CODE = select(COMPONENT).where(COMPONENT.c.code == bindparam("code"))
COLUMNS = (
    "code", "class_code", "name", "grid", "supervisor_unit", "owner_unit", "maintainer_unit",
    "state", "initial_date", "changed_date", "source", "lon", "lat", "note",
)  # fmt: skip
STATES = {"完好", "破损", "丢失", "废弃", "移除", "占用"}
SOURCES = {"实测", "地形图", "基础地理数据", "调绘", "其他", "其它"}
# Header names used by GB/T 47678.5 (table 2, its field codes and its Chinese names) and by
# CJ/T 214-era (egova) exports; docs/profiles.md lists them.
ALIASES = {
    "glbjbsm": "code", "objid": "code", "bjbsm": "code", "管理部件标识码": "code", "部件标识码": "code",
    "部件编码": "code",
    "class": "class_code", "bjlx": "class_code", "部件类型": "class_code", "部件小类": "class_code",
    "小类代码": "class_code",
    "glbjmc": "name", "objname": "name", "管理部件名称": "name", "部件名称": "name",
    "szdywgbsm": "grid", "bgid": "grid", "所在单元网格标识码": "grid", "单元网格": "grid",
    "zgbmmc": "supervisor_unit", "deptname1": "supervisor_unit", "主管部门名称": "supervisor_unit",
    "主管部门": "supervisor_unit",
    "qsdwmc": "owner_unit", "deptname2": "owner_unit", "权属单位名称": "owner_unit", "权属单位": "owner_unit",
    "yhdwmc": "maintainer_unit", "deptname3": "maintainer_unit", "养护单位名称": "maintainer_unit",
    "养护单位": "maintainer_unit",
    "glbjzt": "state", "objstate": "state", "管理部件状态": "state", "部件状态": "state",
    "csrq": "initial_date", "ordate": "initial_date", "初始日期": "initial_date",
    "bgrq": "changed_date", "chdate": "changed_date", "变更日期": "changed_date",
    "sjly": "source", "datasource": "source", "数据来源": "source",
    "bz": "note", "备注": "note",
    "x": "lon", "lng": "lon", "longitude": "lon", "经度": "lon", "x坐标": "lon",
    "y": "lat", "latitude": "lat", "纬度": "lat", "y坐标": "lat",
}  # fmt: skip
# Standard columns the import reads past: department codes (unified social credit codes, not
# the profile's unit codes) and the street and community, which the grid already gives.
IGNORED = {
    "zgbmdm", "qsdwdm", "yhdwdm", "deptcode1", "deptcode2", "deptcode3", "szjddm", "szjdmc", "szsqdm",
    "szsqmc", "主管部门代码", "权属单位代码", "养护单位代码", "所在街道代码", "所在街道名称", "所在社区代码",
    "所在社区名称", "material", "locatedsc", "objuptodat", "picture",
}  # fmt: skip
BATCH = 20_000
MAX_REPORTED = 1_000
SNIFF = 1 << 16


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)  # rejected rows and warnings, by line
    listed: int = 0  # rejected rows among the problems

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"line {line}: {message}")
            self.listed += 1

    def warn(self, line: int, message: str) -> None:
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"line {line}: warning: {message}")

    def summary(self) -> str:
        if not (self.imported or self.updated or self.rejected):
            return f"nothing changed: {self.unchanged} components as in the file"
        parts = [f"imported {self.imported} components"]
        parts += [f"updated {self.updated}"] if self.updated else []
        parts += [f"{self.unchanged} unchanged"] if self.unchanged else []
        return ", ".join(parts + [f"rejected {self.rejected}"])


class RowChecker:
    """Validates one row (a dict of raw strings) against the profile and the deployment's grids;
    returns the row as a tuple with its warnings, or the reason it is refused.

    Codes that break the standards' structure (class digits, division prefix) are refused, or
    only warned about when `lenient` (legacy data)."""

    def __init__(
        self, profile: dict[str, Any], grids: GridIndex | None = None, lenient: bool = False
    ) -> None:
        city = CityProfile.of(profile)
        self.pattern = re.compile(city.codes.component or r".")
        edition = active_edition(profile)
        self.classes = {m["code"] for major in edition.get("component", []) for m in major.get("minors", [])}
        minor_len = len(next(iter(self.classes), "0101"))
        self.class_slice = slice(6, 6 + minor_len)
        # a unit is written by code or by its Chinese name, as surveyed
        self.units = {u.code for u in city.units} | {u.name for u in city.units if u.name}
        self.division = city.division_code
        self.grids = grids if grids is not None and len(grids) else None
        self.territory = territory(profile)
        self.lenient = lenient

    def _division_matches(self, prefix: str) -> bool:
        """A city's code (ending 00) covers its counties' codes, a province's (0000) its cities'."""
        significant = self.division.rstrip("0")
        significant += "0" * (len(significant) % 2)
        return prefix.startswith(significant)

    def __call__(self, raw: dict[str, Any]) -> tuple[tuple, list[str]] | str:
        try:
            check_fields(raw)  # core/text.py's rule, as at every entry point
        except GridcaseError as exc:
            return exc.message
        code = (raw.get("code") or "").strip()
        if not code:
            return "missing component code"
        if not self.pattern.search(code):
            return f"component code {code!r} does not match the pattern {self.pattern.pattern}"
        digits = code[self.class_slice]
        class_code = (raw.get("class_code") or "").strip() or digits
        if class_code not in self.classes:
            return f"{code}: unknown component class {class_code!r}"
        structural = []
        if digits != class_code:
            structural.append(
                f"{code}: the code's class digits {digits!r} do not match its class {class_code!r}"
            )
        if self.division and not self._division_matches(code[:6]):
            structural.append(
                f"{code}: the code's division prefix {code[:6]!r} is not the deployment's {self.division!r}"
            )
        if structural and not self.lenient:
            return structural[0]
        lon_given, lat_given = raw.get("lon"), raw.get("lat")
        try:
            if lon_given is None or lat_given is None:  # a cell left empty, or no geometry
                raise TypeError("no coordinates")
            lon, lat = float(lon_given), float(lat_given)
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
        for key in ("owner_unit", "maintainer_unit"):
            if text[key] is not None and text[key] not in self.units:
                what = key.split("_")[0]
                return f"{code}: {what} unit {text[key]!r} is not a unit of the profile (code or name)"
        grid, refused = self._place(lon, lat, text["grid"])
        if refused:
            return f"{code}: {refused}"
        return (
            code, class_code, text["name"], grid, text["supervisor_unit"], text["owner_unit"],
            text["maintainer_unit"], state, dates[0], dates[1], source, lon, lat, text["note"],
        ), structural  # fmt: skip

    def _place(self, lon: float, lat: float, grid: str | None) -> tuple[str | None, str | None]:
        """The component's grid (the one given, else the deepest holding the point), or why not."""
        if self.grids is None:  # no grids yet: the profile's region bounds the deployment
            minx, miny, maxx, maxy = self.territory
            if not (minx <= lon <= maxx and miny <= lat <= maxy):
                hint = outside_hint((lon, lat, lon, lat), self.territory)
                return None, f"({lon}, {lat}) is outside the deployment's territory: {hint}"
            return grid, None
        if grid is not None and grid not in self.grids.parents:
            return None, f"no grid {grid!r} (import the grids first, or leave it empty to place the point)"
        located = self.grids.locate(lon, lat)
        if located is None:
            return None, f"({lon}, {lat}) is outside every grid of the deployment"
        return grid or located["grid"], None


def _date(text: str) -> date:
    return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")


def _encoding(path: Path) -> str:
    """UTF-8 (a BOM or not), else GB18030, which reads what Excel saves as GBK on Chinese Windows;
    told from the file's start, so a big file is still read as a stream."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not merely a character cut by the sniff's end
            return ENCODINGS[-1]
    return ENCODINGS[0]


def _header(path: Path, header: list[str], notes: list[str]) -> list[str]:
    """The columns' names in the import's terms. Unknown names are named once: as the reason when
    there is no code column, else in a note (their values are not read)."""
    keys = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    unknown = [h.strip() for h, k in zip(header, keys, strict=True) if k not in COLUMNS and k not in IGNORED]
    named = f"unknown columns {', '.join(unknown)}" if unknown else ""
    if "code" not in keys:
        raise ValueError(
            f"{path}:1: no component code column (GLBJBSM, ObjID, 管理部件标识码 or code)"
            + (f"; {named}" if named else "")
            + "; docs/profiles.md lists the accepted names"
        )
    if named:
        notes.append(f"line 1: warning: {named} are not read (docs/profiles.md lists the accepted names)")
    return keys


def _csv_rows(path: Path, encoding: str | None, notes: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    encoding = encoding or _encoding(path)
    try:
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return
            keys = _header(path, header, notes)
            for row in reader:
                if row:
                    yield reader.line_num, dict(zip(keys, row, strict=False))
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: after line {max(reader.line_num, 1)} the text is not {encoding}; in Excel save it as "
            "'CSV UTF-8 (逗号分隔)', or give its encoding with --encoding (e.g. gbk)"
        ) from None
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None


def _geojson_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Point features; their properties as text, as a CSV's cells would be (a code written as a
    number included), so a malformed feature is a rejected row, not a crash."""
    try:
        for mark, feature in FeatureStream(path):
            feature = feature if isinstance(feature, dict) else {}
            props = feature.get("properties")
            props = props if isinstance(props, dict) else {}
            geometry = feature.get("geometry")
            geometry = geometry if isinstance(geometry, dict) else {}
            point = geometry.get("coordinates")
            lon, lat = point[:2] if isinstance(point, list) and len(point) >= 2 else (None, None)
            row = {ALIASES.get(k.lower(), k.lower()): None if v is None else str(v) for k, v in props.items()}
            yield mark.line, {**row, "lon": lon, "lat": lat}
    except ParseError as exc:
        raise ValueError("; ".join(f"{m}: {message}" for m, message in exc.problems)) from None


def rows_of(
    path: Path, encoding: str | None = None, notes: list[str] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, raw row) pairs from a .csv or .geojson file; `notes` gathers remarks on the header."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path, encoding, [] if notes is None else notes)
    if suffix in (".geojson", ".json"):
        return _geojson_rows(path)
    raise ValueError(f"{path.name}: components are imported from .csv or .geojson files")


def import_rows(
    engine: Engine,
    rows: Iterator[tuple[int, dict[str, Any]]],
    profile: dict[str, Any],
    *,
    lenient: bool = False,
    notes: list[str] | None = None,
) -> ImportReport:
    levels = [lvl["code"] for lvl in profile.get("grid_levels", [])]
    check = RowChecker(profile, load_index(engine, levels), lenient)
    report = ImportReport(problems=notes if notes is not None else [])
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
            row, warnings = result
            if row[0] in seen:
                report.reject(line, f"{row[0]}: duplicate component code in this file")
                continue
            for warning in warnings:
                report.warn(line, warning)
            seen.add(row[0])
            batch.append(row)
            if len(batch) >= BATCH:
                _flush(dbapi, is_sqlite(engine), batch, empty, report)
                batch = []
        if batch:
            _flush(dbapi, is_sqlite(engine), batch, empty, report)
    return report


def _sql(sqlite: bool, text: str) -> str:
    """`text` with the driver's placeholders (written as ?)."""
    return text if sqlite else text.replace("?", "%s")


def _flush(dbapi: Any, sqlite: bool, batch: list[tuple], empty: bool, report: ImportReport) -> None:
    """Insert the new rows; update those stored with other values; leave the same ones be."""
    stored = {} if empty else _stored(dbapi, sqlite, [row[0] for row in batch])
    new = [row for row in batch if row[0] not in stored]
    changed = [row for row in batch if row[0] in stored and _text(row) != stored[row[0]]]
    report.unchanged += len(batch) - len(new) - len(changed)
    cursor = dbapi.cursor()
    try:
        if sqlite:
            cursor.executemany(
                f"INSERT INTO component ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", new
            )
        else:
            with cursor.copy(f"COPY component ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in new:
                    copy.write_row(row)
        if changed:
            assignments = ", ".join(f"{c} = ?" for c in COLUMNS[1:])
            cursor.executemany(
                _sql(sqlite, f"UPDATE component SET {assignments} WHERE code = ?"),
                [(*row[1:], row[0]) for row in changed],
            )
    finally:
        cursor.close()
    report.imported += len(new)
    report.updated += len(changed)


def _text(row: tuple) -> tuple:
    """A row's values as text, so a stored row (dates read back as text on SQLite) compares equal."""
    return tuple(None if v is None else str(v) for v in row)


def _stored(dbapi: Any, sqlite: bool, codes: list[str]) -> dict[str, tuple]:
    cursor = dbapi.cursor()
    stored: dict[str, tuple] = {}
    try:
        for start in range(0, len(codes), 5000):
            chunk = codes[start : start + 5000]
            columns = ", ".join(COLUMNS)
            if sqlite:
                cursor.execute(
                    f"SELECT {columns} FROM component WHERE code IN ({','.join('?' * len(chunk))})", chunk
                )
            else:
                cursor.execute(f"SELECT {columns} FROM component WHERE code = ANY(%s)", (chunk,))
            stored.update((row[0], _text(row)) for row in cursor.fetchall())
    finally:
        cursor.close()
    return stored


def import_file(
    engine: Engine, path: Path, profile: dict[str, Any], *, lenient: bool = False, encoding: str | None = None
) -> ImportReport:
    notes: list[str] = []
    return import_rows(engine, rows_of(path, encoding, notes), profile, lenient=lenient, notes=notes)


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
