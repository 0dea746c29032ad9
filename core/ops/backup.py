"""Backups: one archive holding the database, the evidence files, the deployment's settings and
profile, and a manifest; restoring it into an empty database; checking it; the scheduled run
with retention and an off-site copy.

An archive is a tar file named by the UTC moment it began (`gridcase-20261013T010000Z.tar`):

    database.sqlite | database.pgdump   the database (SQLite's own file, or pg_dump's custom format)
    evidence/ab/cd/<sha256>             the evidence store's files, under the same names
    config/...                          gridcase.toml, the profile folders and plugins beside it
    manifest.json                       last: row counts per table, sha256 and size of every file

The database is a snapshot taken while the server writes: SQLite's online backup API copies it in
one step, inside one read transaction (a copy of the file misses what is still in the `-wal`
file); PostgreSQL's pg_dump reads a snapshot exported by the transaction that counts the rows,
so the counts and the dump see the same rows. Evidence is copied after the database: the server
stores a file before it commits the row naming it and never deletes one, so every file the
snapshot names is in the archive.
"""

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from gridcase.core import __version__
from gridcase.core.cases.evidence import write_atomically
from gridcase.core.errors import GridcaseError

FORMAT = "gridcase-backup"
VERSION = 1
MANIFEST = "manifest.json"
NAME = re.compile(r"^gridcase-(\d{8}T\d{6}Z)\.tar$")
CHUNK = 1 << 20
# a scheduled run counts an archive as due this much before its interval is up, so an hourly
# cron that starts a few seconds early still makes the daily archive on time
SCHEDULE_SLACK = timedelta(minutes=5)
SAFE_MEMBER = re.compile(
    r"^(database\.(sqlite|pgdump)|evidence/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}|config/.+)$"
)


class BackupError(GridcaseError):
    def __init__(self, message: str) -> None:
        super().__init__("backup", message)


@dataclass(frozen=True)
class Source:
    """What one deployment's backup holds."""

    database_url: str
    evidence: Path
    settings_file: Path | None = None
    profile_folders: tuple[Path, ...] = ()  # the deployment's own, never the bundled ones


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    evidence_files: int
    config_files: int


def archive_name(moment: datetime) -> str:
    return f"gridcase-{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar"


# -- making an archive ---------------------------------------------------------------------------


def create(folder: Path, source: Source, now: datetime) -> tuple[Path, dict[str, Any]]:
    """Write an archive of `source` into `folder`; returns its path and manifest. It appears under
    its name only when complete (written beside it, then renamed)."""
    folder = _writable(folder)
    target = folder / archive_name(now)
    with _replacing(target, "the archive") as partial:
        with tempfile.TemporaryDirectory(prefix="gridcase-backup-") as scratch:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                files: dict[str, dict[str, Any]] = {}
                database = _snapshot(source.database_url, Path(scratch))
                files[database["file"]] = _add(tar, Path(scratch) / database["file"], database["file"])
                evidence = _add_tree(tar, source.evidence, "evidence", files, _is_evidence)
                for path, name in _config_files(source):
                    files[name] = _add(tar, path, name)
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": now.astimezone(UTC).isoformat(),
                    "gridcase": __version__,
                    "database": database,
                    "evidence": evidence,
                    "files": files,
                }
                _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
            _fsync(partial)
    return target, manifest


def _writable(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write in the backup folder {folder}")
    return folder


def _snapshot(url: str, scratch: Path) -> dict[str, Any]:
    """The database as one file in `scratch`, with its row counts and migration."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_snapshot(parsed, scratch / "database.sqlite")
    if parsed.get_backend_name() == "postgresql":
        return _pg_snapshot(parsed, scratch / "database.pgdump")
    raise BackupError(f"cannot back up a {parsed.get_backend_name()} database (SQLite and PostgreSQL only)")


def _sqlite_snapshot(url: URL, out: Path) -> dict[str, Any]:
    path = url.database
    if not path or path == ":memory:" or not Path(path).is_file():
        raise BackupError(f"no SQLite database at {path}")
    source = sqlite3.connect(path, timeout=60)
    copy = sqlite3.connect(out)
    try:
        source.backup(copy)  # every page in one step: one read snapshot, writers carry on (WAL)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read the SQLite database {path}: {exc}") from None
    finally:
        copy.close()
        source.close()
    engine = create_engine(f"sqlite:///{out}")
    try:
        with engine.connect() as connection:
            return {"backend": "sqlite", "file": out.name, **describe(connection)}
    finally:
        engine.dispose()


def _pg_snapshot(url: URL, out: Path) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                described = describe(connection)
                # the transaction stays open, holding the snapshot, until pg_dump has read it
                _pg_tool("pg_dump", url, "--format=custom", f"--snapshot={snapshot}", f"--file={out}")
    finally:
        engine.dispose()
    return {"backend": "postgresql", "file": out.name, **described}


def describe(connection: Connection) -> dict[str, Any]:
    """Row counts per table and the migration the database is at."""
    tables = sorted(inspect(connection).get_table_names())
    counts = {t: connection.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables}
    migration = None
    if "alembic_version" in counts:
        migration = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"migration": migration, "tables": counts}


def _pg_tool(tool: str, url: URL, *args: str) -> None:
    """Run pg_dump or pg_restore against `url`; the password goes in the environment, not argv."""
    program = shutil.which(tool)
    if program is None:
        raise BackupError(
            f"{tool} is not installed: PostgreSQL backups need PostgreSQL's client programs "
            "(pg_dump and pg_restore, of the server's major version or newer; on Debian "
            "`apt install postgresql-client`)"
        )
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run([program, *args, f"--dbname={dsn}"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        detail = next((line for line in done.stderr.splitlines() if line.strip()), "no message")
        raise BackupError(f"{tool} failed: {detail}")


class _Hashing:
    """A file object that hashes what tarfile reads through it."""

    def __init__(self, handle) -> None:
        self.handle, self.sha256 = handle, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.sha256.update(chunk)
        return chunk


def _add(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, Any]:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        hashing = _Hashing(handle)
        tar.addfile(info, hashing)
    return {"sha256": hashing.sha256.hexdigest(), "size": info.size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o644
    tar.addfile(info, io.BytesIO(data))


def _is_evidence(relative: PurePosixPath) -> bool:
    # the store's files only: not its `.incoming-` temporary files, nor anything else put there
    return bool(SAFE_MEMBER.match(f"evidence/{relative}"))


def _add_tree(tar, root: Path, prefix: str, files: dict, keep) -> dict[str, int]:
    count = size = 0
    for path, relative in _walk(root):
        if keep(relative):
            entry = files[f"{prefix}/{relative}"] = _add(tar, path, f"{prefix}/{relative}")
            count, size = count + 1, size + entry["size"]
    return {"files": count, "bytes": size}


def _walk(root: Path) -> Iterator[tuple[Path, PurePosixPath]]:
    """Regular files under `root`, sorted, with their path relative to it; none when it is missing."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file():
                yield path, PurePosixPath(path.relative_to(root).as_posix())


def _config_files(source: Source) -> Iterator[tuple[Path, str]]:
    """gridcase.toml, the deployment's profile folders and a `plugins` folder beside the settings,
    under `config/` as they lie beside the settings file (a profile elsewhere under
    config/profiles/NAME), so a restored deployment folder keeps the layout its paths expect."""
    home = source.settings_file.parent.resolve() if source.settings_file else None
    seen: set[str] = set()
    roots = [*(source.profile_folders), *([home / "plugins"] if home else [])]
    if source.settings_file is not None:
        seen.add("config/" + source.settings_file.name)
        yield source.settings_file, "config/" + source.settings_file.name
    for root in roots:
        root = root.resolve()
        base = (
            f"config/{root.relative_to(home).as_posix()}"
            if home and root.is_relative_to(home)
            else f"config/profiles/{root.name}"
        )
        for path, relative in _walk(root):
            name = f"{base}/{relative}"
            if name not in seen:
                seen.add(name)
                yield path, name


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


# -- checking an archive -------------------------------------------------------------------------


@contextmanager
def _open(archive: Path) -> Iterator[tuple[tarfile.TarFile, dict[str, Any]]]:
    try:
        tar = tarfile.open(archive, "r:")
    except FileNotFoundError:
        raise BackupError(f"no archive at {archive}") from None
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive} is not a gridcase backup archive ({exc})") from None
    with tar:
        try:
            member = tar.extractfile(MANIFEST)
            if member is None:  # a directory or a link by that name
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
        except KeyError:
            raise BackupError(f"{archive} has no {MANIFEST}: not a complete gridcase backup") from None
        except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
            raise BackupError(f"{archive}: {MANIFEST} cannot be read ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{archive}: {MANIFEST} is not a gridcase backup manifest")
        if manifest.get("version") != VERSION:
            raise BackupError(
                f"{archive} is a version {manifest.get('version')} backup; "
                f"this gridcase reads version {VERSION}"
            )
        yield tar, manifest


def verify(archive: Path) -> dict[str, Any]:
    """Check every file of the archive against the manifest's checksums; returns the manifest.
    Raises BackupError naming each file that is missing, unlisted, unsafe or changed."""
    with _open(archive) as (tar, manifest):
        listed: dict[str, dict[str, Any]] = manifest.get("files", {})
        problems, seen = [], set()
        try:
            for member in tar:
                if member.name == MANIFEST or member.isdir():
                    continue
                seen.add(member.name)
                if member.name not in listed:
                    problems.append(f"{member.name}: not in the manifest")
                elif not (member.isfile() and SAFE_MEMBER.match(member.name) and ".." not in member.name):
                    problems.append(f"{member.name}: not a file gridcase writes")
                else:
                    digest = _sha256(tar.extractfile(member))
                    if digest != listed[member.name]["sha256"]:
                        problems.append(f"{member.name}: checksum mismatch (the file changed or is damaged)")
        except (OSError, tarfile.TarError, EOFError) as exc:
            problems.append(f"the archive is truncated or damaged ({exc})")
        problems += [f"{name}: missing from the archive" for name in sorted(set(listed) - seen)]
    if problems:
        shown = "\n  ".join(problems[:20]) + (
            f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        )
        raise BackupError(f"{archive} does not verify:\n  {shown}")
    return manifest


def _sha256(handle) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


# -- restoring -----------------------------------------------------------------------------------


def restore(archive: Path, database_url: str, evidence: Path, config: Path | None = None) -> Restored:
    """Restore the archive into an empty database (refused otherwise), its evidence into
    `evidence`, and its settings and profile into `config` when given; the checksums are checked
    before anything is written and the row counts after."""
    manifest = verify(archive)
    url = make_url(database_url)
    database = manifest["database"]
    if url.get_backend_name() != database["backend"]:
        raise BackupError(
            f"the archive holds a {database['backend']} database; {url.render_as_string()} is "
            f"{url.get_backend_name()} (restore into a database of the same kind)"
        )
    if (
        database.get("file") not in ("database.sqlite", "database.pgdump")
        or database["file"] not in manifest["files"]
    ):
        raise BackupError(f"{archive}: the manifest names no database file")
    _require_empty(url)
    config_names = [n for n in manifest["files"] if n.startswith("config/")]
    if config is not None:
        clashes = [config / n.removeprefix("config/") for n in config_names]
        clashes = [str(p) for p in clashes if p.exists()]
        if clashes:
            raise BackupError(f"{len(clashes)} settings and profile files exist already, e.g. {clashes[0]}")
    try:
        evidence_files = _unpack(archive, manifest, url, evidence, config)
    except OSError as exc:
        raise BackupError(f"cannot write {exc.filename or 'the restore'}: {exc.strerror or exc}") from None
    _check_counts(url, database["tables"])
    return Restored(manifest, evidence_files, len(config_names) if config is not None else 0)


def _unpack(archive: Path, manifest: dict[str, Any], url: URL, evidence: Path, config: Path | None) -> int:
    """The database, the evidence files and (into `config`) the settings and profile; returns
    the number of evidence files."""
    database = manifest["database"]
    with _open(archive) as (tar, _), tempfile.TemporaryDirectory(prefix="gridcase-restore-") as scratch:
        dump = Path(scratch) / database["file"]
        _extract(tar, database["file"], dump)
        if database["backend"] == "sqlite":
            assert url.database  # _require_empty refused an in-memory database
            _sqlite_restore(dump, Path(url.database))
        else:
            _pg_tool(
                "pg_restore",
                url,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                str(dump),
            )
        evidence_files = 0
        for name in manifest["files"]:
            if name.startswith("evidence/"):
                target = evidence / name.removeprefix("evidence/")
                if not target.exists():  # content-addressed: a file of that name holds those bytes
                    _extract(tar, name, target)
                evidence_files += 1
        if config is not None:
            for name in manifest["files"]:
                if name.startswith("config/"):
                    _extract(tar, name, config / name.removeprefix("config/"))
    return evidence_files


def _require_empty(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        if not url.database or url.database == ":memory:":
            raise BackupError("restore needs a SQLite database file, not an in-memory database")
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            cases = (
                connection.execute(text('SELECT COUNT(*) FROM "case"')).scalar_one()
                if "case" in tables
                else 0
            )
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            f"the database {url.render_as_string()} is not empty: it has {len(tables)} tables and "
            f"{cases} cases. Restore only into a new, empty database (a new SQLite file, or "
            "`createdb NAME` on PostgreSQL); it needs no `gridcase db upgrade` first"
        )


def _sqlite_restore(dump: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    created = not target.exists()
    source, copy = sqlite3.connect(dump), sqlite3.connect(target)
    try:
        source.backup(copy)  # one step, one transaction: a failure leaves the target as it was
    except sqlite3.Error as exc:
        copy.close()
        if created:
            target.unlink(missing_ok=True)
        raise BackupError(f"cannot write the SQLite database {target}: {exc}") from None
    finally:
        copy.close()
        source.close()


def _extract(tar: tarfile.TarFile, name: str, target: Path) -> None:
    """One member to `target`, written beside it and renamed, so no half-written file has its name."""
    member = tar.extractfile(name)
    if member is None:
        raise BackupError(f"{name} in the archive is not a file")
    write_atomically(target, lambda out: shutil.copyfileobj(member, out, CHUNK), ".restoring-")


def _check_counts(url: URL, expected: dict[str, int]) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = describe(connection)["tables"]
    finally:
        engine.dispose()
    wrong = [
        f"{table}: {found.get(table, 'missing')} rows, the manifest says {count}"
        for table, count in sorted(expected.items())
        if found.get(table) != count
    ]
    if wrong:
        raise BackupError("the restored database does not match the manifest:\n  " + "\n  ".join(wrong))


# -- the scheduled run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    folder: Path
    offsite: Path | None = None  # the off-site copy (a mounted remote folder): 异地容灾备份
    keep: int = 14
    every: timedelta = timedelta(hours=24)


def archives(folder: Path) -> list[Path]:
    """The archives in `folder`, oldest first (their names sort by time)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NAME.match(p.name))


def due(schedule: Schedule, now: datetime) -> bool:
    newest = archives(schedule.folder)[-1:]
    if not newest:
        return True
    name = NAME.match(newest[0].name)
    assert name is not None  # archives() lists only the names that match
    made = datetime.strptime(name.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return now - made >= schedule.every - SCHEDULE_SLACK


@contextmanager
def _replacing(target: Path, what: str) -> Iterator[Path]:
    """A private file beside `target` for the block to write: it takes `target`'s name when the
    block ends well, so no half-written archive ever has one, and is removed when not."""
    partial = target.parent / f".{target.name}.partial"
    try:
        _private(partial)
        yield partial
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write {what} in {target.parent}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _private(path: Path) -> None:
    """An empty file only its owner reads: an archive holds the settings (the session secret) and
    every citizen's report and photo."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    os.chmod(path, 0o600)  # a partial file left by an earlier run may have other modes


def copy_offsite(archive: Path, folder: Path) -> Path:
    """Copy the archive into `folder` (renamed into place when complete) and read the copy back:
    its checksum must be the original's."""
    folder = _writable(folder)
    target = folder / archive.name
    with _replacing(target, "the off-site copy") as partial:
        with archive.open("rb") as source, partial.open("wb") as out:
            original = hashlib.sha256()
            while chunk := source.read(CHUNK):
                original.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        with partial.open("rb") as copied:
            if _sha256(copied) != original.hexdigest():
                raise BackupError(f"the off-site copy {target} differs from {archive} when read back")
    return target


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives in `folder` (never any other file)."""
    old = archives(folder)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink()
    return old


def run_schedule(schedule: Schedule, source: Source, now: datetime) -> list[str]:
    """The scheduled backup: an archive when one is due, its off-site copy, then retention in
    both folders. Returns what it did, a line each."""
    if not due(schedule, now):
        return [f"not due: the newest archive in {schedule.folder} is younger than {schedule.every}"]
    archive, manifest = create(schedule.folder, source, now)
    lines = [summary(archive, manifest)]
    if schedule.offsite is not None:
        lines.append(f"off-site copy: {copy_offsite(archive, schedule.offsite)}")
    for folder in (schedule.folder, schedule.offsite):
        if folder is not None:
            lines += [f"removed {old} (keeping {schedule.keep})" for old in prune(folder, schedule.keep)]
    return lines


def summary(archive: Path, manifest: dict[str, Any]) -> str:
    database = manifest["database"]
    return (
        f"{archive}: {database['backend']} database at migration {database['migration']}, "
        f"{database['tables'].get('case', 0)} cases in {len(database['tables'])} tables, "
        f"{manifest['evidence']['files']} evidence files, {len(manifest['files'])} files, "
        f"{archive.stat().st_size:,} bytes"
    )
