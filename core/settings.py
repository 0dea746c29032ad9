"""Deployment settings: `gridcase.toml` in the deployment folder, overridden by the environment.

Precedence for each value: the command-line option, then the environment
(GRIDCASE_PROFILE, GRIDCASE_DATABASE_URL), then the settings file, then the default.
"""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gridcase.core.logs import FORMATS, LEVELS

SETTINGS_FILE = "gridcase.toml"
SETTINGS_ENV = "GRIDCASE_SETTINGS"
DEFAULT_DATABASE_URL = "sqlite:///gridcase.db"
KNOWN = {
    "profile",
    "database_url",
    "secret_key",
    "sweep_seconds",
    "threads",
    "identity_seconds",
    "notice_log",
    "backup_dir",
    "backup_offsite_dir",
    "backup_keep",
    "backup_every_hours",
    "log_level",
    "log_format",
    "keep_login_attempts_days",
    "keep_notices_days",
    "keep_track_days",
    "tls",
    "session_idle_minutes",
    "session_hours",
    "keep_idempotency_keys_days",
    "reports_per_minute",
    "open311_requests_per_minute",
    "public_url",
    "map_tiles",
    "map_attribution",
}


class SettingsError(Exception):
    """The settings file cannot be read."""


@dataclass(frozen=True)
class Settings:
    profile: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    source: Path | None = None
    # signs session cookies; every worker of a server needs the same one (GRIDCASE_SECRET_KEY)
    secret_key: str | None = None
    sweep_seconds: float = 30.0  # how often `gridcase serve` sweeps time limits (0: never)
    # threads per worker for database work; None: 2 on SQLite, 4 on PostgreSQL (see operations.md)
    threads: int | None = None
    # how long a worker remembers who a token or session is (0: never); a revoked token, or a
    # person deactivated or moved, takes this long to reach every worker (see operations.md)
    identity_seconds: float = 1.0
    notice_log: str = "-"  # where the `log` channel writes notices ("-": standard error)
    # `gridcase backup --scheduled` (core/backup.py): the archives' folder, the off-site copy's,
    # how many archives each keeps, and the hours from one archive to the next
    backup_dir: str | None = None
    backup_offsite_dir: str | None = None
    backup_keep: int = 14
    backup_every_hours: float = 24.0
    # gridcase's own logs on standard error (core/logs.py); no level: `serve` logs from info
    # (a line a request), other commands from warning
    log_level: str | None = None
    log_format: str = "text"
    # how long the sweep keeps failed logins, and notices delivered or given up (core/retention.py)
    keep_login_attempts_days: float = 30.0
    keep_notices_days: float = 180.0
    # how long the sweep keeps the field app's patrol tracks, by the time each point was made
    keep_track_days: float = 400.0
    # served over TLS (by the server or a proxy in front): Secure cookies, and HSTS (core/web/headers.py)
    tls: bool = False
    # a session ends this long after its last use, or after its login, whichever comes first
    session_idle_minutes: float = 60.0
    session_hours: float = 12.0
    # how long a request's idempotency key is honoured, at least (core/idempotency.py)
    keep_idempotency_keys_days: float = 1.0
    # rate limits shared by every worker (core/quota.py): a citizen's reports through the JSON API,
    # and an Open311 api_key's requests, each a minute
    reports_per_minute: int = 120
    open311_requests_per_minute: int = 60
    # the address clients reach the server at (https://12319.example.gov.cn), for the links it
    # gives (Open311's discovery); never taken from a request's Host header, which anyone may set
    public_url: str | None = None
    # the maps' basemap: a tile address with {z}, {x} and {y} (the city's own tile server, or
    # 天地图's with its tk= key), and the credit shown on the map; none: grids on a plain ground
    map_tiles: str | None = None
    map_attribution: str = ""

    def worker_threads(self) -> int:
        if self.threads is not None:
            return self.threads
        return 2 if self.database_url.startswith("sqlite") else 4


def settings_path(start: Path | None = None) -> Path | None:
    if os.environ.get(SETTINGS_ENV):
        return Path(os.environ[SETTINGS_ENV])
    candidate = (start or Path.cwd()) / SETTINGS_FILE
    return candidate if candidate.is_file() else None


def load_settings(start: Path | None = None) -> Settings:
    path = settings_path(start)
    values: dict = {}
    if path is not None:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8")).get("gridcase", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from None
        if not isinstance(values, dict):
            raise SettingsError(f"{path}: [gridcase] must be a table")
        unknown = set(values) - KNOWN
        if unknown:
            raise SettingsError(
                f"{path}: unknown settings {', '.join(sorted(unknown))} (known: {', '.join(sorted(KNOWN))})"
            )
        # Relative paths in the file are relative to the file, so commands work from anywhere.
        if isinstance(values.get("profile"), str) and not os.path.isabs(values["profile"]):
            local = path.parent / values["profile"]
            if local.exists():
                values["profile"] = str(local)
        url = values.get("database_url")
        if isinstance(url, str) and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            values["database_url"] = "sqlite:///" + str(path.parent / url.removeprefix("sqlite:///"))
    sweep = _seconds(values, "sweep_seconds", 30)
    identity = _seconds(values, "identity_seconds", 1)
    threads = os.environ.get("GRIDCASE_THREADS") or values.get("threads")
    if threads is not None:
        threads = int(threads) if str(threads).isdigit() else 0
        if not 1 <= threads <= 256:
            raise SettingsError("threads must be a whole number from 1 to 256")
    return Settings(
        profile=os.environ.get("GRIDCASE_PROFILE") or values.get("profile"),
        database_url=os.environ.get("GRIDCASE_DATABASE_URL")
        or values.get("database_url")
        or DEFAULT_DATABASE_URL,
        source=path,
        secret_key=os.environ.get("GRIDCASE_SECRET_KEY") or values.get("secret_key"),
        sweep_seconds=sweep,
        threads=threads,
        identity_seconds=identity,
        notice_log=os.environ.get("GRIDCASE_NOTICE_LOG") or _beside(path, values.get("notice_log", "-")),
        **_backup(path, values),
        log_level=_one_of(values, "log_level", LEVELS, None),
        log_format=_one_of(values, "log_format", FORMATS, "text") or "text",  # `log_format: null` too
        keep_login_attempts_days=_days(values, "keep_login_attempts_days", 30),
        keep_notices_days=_days(values, "keep_notices_days", 180),
        keep_track_days=_days(values, "keep_track_days", 400),
        tls=_flag(values, "tls"),
        **_sessions(values),
        keep_idempotency_keys_days=_days(values, "keep_idempotency_keys_days", 1),
        public_url=_url(values, "public_url"),
        map_tiles=_tiles(values),
        map_attribution=str(
            os.environ.get("GRIDCASE_MAP_ATTRIBUTION") or values.get("map_attribution") or ""
        ),
        reports_per_minute=_count(values, "reports_per_minute", 120),
        open311_requests_per_minute=_count(values, "open311_requests_per_minute", 60),
    )


def _count(values: dict, name: str, default: int) -> int:
    """A whole number, 1 or more: its environment variable, else the settings file's value."""
    value = os.environ.get("GRIDCASE_" + name.upper()) or values.get(name, default)
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a whole number, 1 or more, not {value!r}")
    return int(value)


def _flag(values: dict, name: str) -> bool:
    """A yes/no setting: its environment variable (1/0, true/false, yes/no), else the file's boolean."""
    value = os.environ.get("GRIDCASE_" + name.upper()) or values.get(name, False)
    if isinstance(value, str):
        value = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
            value.strip().lower(), value
        )
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false, not {value!r}")
    return value


def _url(values: dict, name: str) -> str | None:
    """An absolute http(s) address, without a query or fragment: its environment variable, else
    the settings file's value."""
    value = os.environ.get("GRIDCASE_" + name.upper()) or values.get(name)
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise SettingsError(
            f"{name} must be an http or https address such as https://city.example, not {value!r}"
        )
    return value.rstrip("/")


def _tiles(values: dict) -> str | None:
    """A tile address: http(s), with {z}, {x} and {y} where the tile's zoom and place go, on one
    host (no {s}: the Content-Security-Policy names the host); its environment variable, else
    the file's."""
    value = os.environ.get("GRIDCASE_MAP_TILES") or values.get("map_tiles")
    if value is None or value == "":
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or "{" in parts.netloc
        or not all(f"{{{k}}}" in value for k in "zxy")
    ):
        raise SettingsError(
            "map_tiles must be an http or https tile address with {z}, {x} and {y}, such as "
            f"https://tiles.example/{{z}}/{{x}}/{{y}}.png, not {value!r}"
        )
    return value


def tile_origin(tiles: str | None) -> str | None:
    """Where the tiles come from, for the Content-Security-Policy's img-src."""
    if not tiles:
        return None
    parts = urlsplit(tiles)
    return f"{parts.scheme}://{parts.netloc}"


def _sessions(values: dict) -> dict:
    """The session lifetimes: the idle one at least 5 minutes (a session's use is noted to the
    minute), and no longer than the absolute one."""
    idle = _seconds(values, "session_idle_minutes", 60, "minutes")
    hours = _seconds(values, "session_hours", 12, "hours")
    if idle < 5:
        raise SettingsError(f"session_idle_minutes must be at least 5, not {idle:g}")
    if idle > hours * 60:
        raise SettingsError(
            f"session_idle_minutes ({idle:g}) must not be longer than session_hours ({hours:g} hours)"
        )
    return {"session_idle_minutes": idle, "session_hours": hours}


def _days(values: dict, name: str, default: float) -> float:
    """A retention window in days: at least one, so a typo cannot purge what is still in use."""
    days = _seconds(values, name, default, "days")
    if days < 1:
        raise SettingsError(f"{name} must be at least 1 day, not {days:g}")
    return days


def _one_of(values: dict, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    """A choice setting: its environment variable, else the settings file's value."""
    value = os.environ.get("GRIDCASE_" + name.upper()) or values.get(name, default)
    if value is not None and (not isinstance(value, str) or value.lower() not in allowed):
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value.lower() if value is not None else None


def _beside(settings_file: Path | None, value: object) -> str:
    """A file named in the settings file, relative to that file ("-": standard error)."""
    if not isinstance(value, str) or not value:
        raise SettingsError(f'notice_log must be a file path or "-", not {value!r}')
    if value == "-" or settings_file is None or os.path.isabs(value):
        return value
    return str(settings_file.parent / value)


def _backup(settings_file: Path | None, values: dict) -> dict:
    """The scheduled backup's settings; its folders relative to the settings file."""
    found: dict = {}
    for name in ("backup_dir", "backup_offsite_dir"):
        value = os.environ.get("GRIDCASE_" + name.upper()) or values.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise SettingsError(f"{name} must be a folder path, not {value!r}")
        if value and settings_file is not None and not os.path.isabs(value):
            value = str(settings_file.parent / value)
        found[name] = value
    keep = os.environ.get("GRIDCASE_BACKUP_KEEP") or values.get("backup_keep", 14)
    if not str(keep).isdigit() or int(keep) < 1:
        raise SettingsError(f"backup_keep must be a whole number of archives, 1 or more, not {keep!r}")
    hours = os.environ.get("GRIDCASE_BACKUP_EVERY_HOURS") or values.get("backup_every_hours", 24)
    try:
        hours = float(hours)
    except (TypeError, ValueError):
        hours = 0
    if not 0 < hours < float("inf"):
        raise SettingsError(f"backup_every_hours must be a number of hours above 0, not {hours!r}")
    return {**found, "backup_keep": int(keep), "backup_every_hours": hours}


def _seconds(values: dict, name: str, default: float, unit: str = "seconds") -> float:
    """A duration setting: its environment variable (GRIDCASE_ and the name in capitals), else
    the settings file's value, else `default`."""
    value = os.environ.get("GRIDCASE_" + name.upper()) or values.get(name, default)
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number of {unit}, not {value!r}") from None
    if not 0 <= amount < float("inf"):
        raise SettingsError(f"{name} must be 0 or more {unit}, not {value!r}")
    return amount
