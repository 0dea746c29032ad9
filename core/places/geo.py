"""Coordinates: every location is stored in WGS-84.

Chinese apps send GCJ-02 (the "Mars" offset) or BD-09 (Baidu's); CGCS2000 agrees with WGS-84
to well under a metre, which is below the precision of a street report. The conversions use
prcoords' iterative inverses (about 1e-9 degrees).
"""

import math
import re
from typing import Any

import numpy as np
import prcoords

CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")


class CoordinateError(ValueError):
    """A location that cannot be used: unknown system or out of range."""


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    crs = (crs or "wgs84").lower().replace("-", "").replace("_", "")
    if crs not in CRS:
        raise CoordinateError(f"unknown coordinate system {crs!r}; use one of {', '.join(CRS)}")
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise CoordinateError("longitude and latitude must be numbers") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise CoordinateError(f"({lon}, {lat}) is not a longitude/latitude pair")
    if crs in ("wgs84", "cgcs2000"):
        return lon, lat
    converted = (prcoords.gcj_wgs_bored if crs == "gcj02" else prcoords.bd_wgs_bored)(
        prcoords.Coords(lat, lon)
    )
    return converted.lon, converted.lat


# -- whole files: a GeoJSON `crs` member, and the territory a deployment's places lie in ---------

EARTH_RADIUS_M = 6378137.0  # the sphere of Web Mercator (EPSG:3857)
# GeoJSON `crs` names (the 2008 spec's named CRS, as GIS tools still write them) → a system above,
# or "webmercator" for projected metres, which only whole files carry.
CRS_NAMES = {
    "epsg:4326": "wgs84", "crs84": "wgs84", "wgs84": "wgs84",
    "epsg:4490": "cgcs2000", "cgcs2000": "cgcs2000",
    "epsg:3857": "webmercator", "epsg:900913": "webmercator", "epsg:102100": "webmercator",
    "epsg:3785": "webmercator", "gcj02": "gcj02", "bd09": "bd09",
}  # fmt: skip
# lon/lat extent of China, islands of the South China Sea included: every deployment lies inside
CHINA = (73.0, 3.0, 136.0, 54.0)
DEFAULT_REACH_KM = 200.0  # around region.center when the profile gives no area


def crs_named(member: Any) -> str:
    """The system a GeoJSON `crs` member names; CoordinateError for one this module does not know."""
    name = member.get("properties", {}).get("name") if isinstance(member, dict) else member
    if not isinstance(name, str):
        raise CoordinateError(f"a crs member names its system in properties.name, not {member!r}")
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    key = re.sub(
        r"^urn:ogc:def:crs:(epsg:[0-9.]*:|ogc:[0-9.]*:)", lambda m: "epsg:" if "epsg" in m[0] else "", key
    )
    if key not in CRS_NAMES:
        known = "EPSG:4326, EPSG:4490, EPSG:3857, GCJ-02, BD-09"
        raise CoordinateError(f"unknown coordinate system {name!r}; gridcase reads {known}")
    return CRS_NAMES[key]


def xy_to_wgs84(xy: np.ndarray, crs: str) -> np.ndarray:
    """An (n, 2) array of coordinates in `crs` (from crs_named) as WGS-84 longitude/latitude."""
    if crs in ("wgs84", "cgcs2000"):
        return xy
    if crs == "webmercator":
        lon = np.degrees(xy[:, 0] / EARTH_RADIUS_M)
        lat = np.degrees(2 * np.arctan(np.exp(xy[:, 1] / EARTH_RADIUS_M)) - math.pi / 2)
        return np.column_stack([lon, lat])
    return np.array([to_wgs84(x, y, crs) for x, y in xy], dtype=float).reshape(-1, 2)


def territory(profile: dict[str, Any]) -> tuple[float, float, float, float]:
    """The box a deployment's places must lie in: around `region.center` (three times the side of
    a square of `region.area_km2`, at least 50 km; 200 km without an area), else China's extent.

    It is coarse on purpose: it catches swapped longitude/latitude and projected metres, which
    land hundreds of kilometres away, without refusing a city's outskirts.
    """
    region = profile.get("region") or {}
    center = region.get("center")
    if not center:
        return CHINA
    reach = max(50.0, 3 * math.sqrt(region["area_km2"])) if region.get("area_km2") else DEFAULT_REACH_KM
    lon, lat = center
    dlat = reach / 110.574
    dlon = reach / (111.320 * math.cos(math.radians(lat)))
    return (
        max(lon - dlon, CHINA[0]),
        max(lat - dlat, CHINA[1]),
        min(lon + dlon, CHINA[2]),
        min(lat + dlat, CHINA[3]),
    )


def outside_hint(bounds: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> str:
    """Why coordinates with these bounds might lie outside `box`: metres, or swapped axes."""
    minx, miny, maxx, maxy = bounds
    if box[0] <= miny and maxy <= box[2] and box[1] <= minx and maxx <= box[3]:
        return "longitude and latitude swapped? GeoJSON puts longitude first"
    if max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90:
        return (
            "these look like metres of a projected system: give the file a crs member "
            '(e.g. "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}) or export it as WGS-84'
        )
    return "is the file in another coordinate system, or for another city?"
