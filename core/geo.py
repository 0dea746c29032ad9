"""Coordinates: every location is stored in WGS-84.

Chinese apps send GCJ-02 (the "Mars" offset) or BD-09 (Baidu's); CGCS2000 agrees with WGS-84
to well under a metre, which is below the precision of a street report. The conversions use
prcoords' iterative inverses (about 1e-9 degrees).
"""

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
