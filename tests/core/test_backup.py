"""Backups as an operator runs them: `gridcase backup`, `--verify`, `--scheduled` and `gridcase
restore`, on SQLite and PostgreSQL; and a backup taken under intake from a server that is then
killed restores every case acknowledged before it began."""

import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, text

from gridcase.core.cases.evidence import Upload
from gridcase.core.engine import Engine
from gridcase.core.people.accounts import create_token
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person

from ..conftest import TESTCITY
from .web.test_crash_safety import GRIDCASE, _port, _report, _start

PHOTOS = [b"\xff\xd8\xff\xe0" + bytes([n]) * 100 for n in range(3)]
supervisor = Actor.of("supervisor")


@pytest.fixture
def empty_url(db_url, tmp_path, request):
    """A database of db_url's kind with nothing in it, to restore into."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'gridcase.db'}"
        return
    admin, _ = request.getfixturevalue("pg_admin")
    name = f"gridcase_restored_{os.getpid()}"
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {name}")
    yield db_url.rsplit("/", 1)[0] + f"/{name}"
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _rows(url: str, sql: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def _city(engine, cases: int = 5) -> None:
    for n in range(cases):
        report = {"channel": "patrol", "point": [120.61 + n * 0.001, 31.337], "category": "0101"}
        engine.intake({**report, "kind": "component"}, supervisor, [Upload(f"{n}.jpg", PHOTOS[n % 3])])


def _archive(folder: Path) -> Path:
    (archive,) = folder.glob("gridcase-*.tar")
    return archive


def test_backup_verify_and_restore_round_trip(engine, db_url, empty_url, tmp_path, cli):
    _city(engine)
    evidence = engine.evidence.root
    out = cli("backup", tmp_path / "out", "--profile", TESTCITY, "--db", db_url, "--evidence", evidence)
    assert out.code == 0, out.err
    archive = _archive(tmp_path / "out")
    assert "5 cases" in out.out and "3 evidence files" in out.out
    verified = cli("backup", "--verify", archive)
    assert verified.code == 0 and "verifies" in verified.out

    restored_evidence = tmp_path / "restored-evidence"
    out = cli("restore", archive, "--db", empty_url, "--evidence", restored_evidence)
    assert out.code == 0, out.err
    assert "5 cases" in out.out and "3 evidence files" in out.out
    query = 'SELECT id, number, state FROM "case" ORDER BY id'
    assert _rows(empty_url, query) == _rows(db_url, query)
    for (sha,) in _rows(empty_url, "SELECT sha256 FROM evidence"):
        assert (restored_evidence / sha[:2] / sha[2:4] / sha).read_bytes() in PHOTOS
    # a second restore finds the database full, and says so without touching it
    again = cli("restore", archive, "--db", empty_url, "--evidence", restored_evidence)
    assert again.code == 1 and "is not empty" in again.err and "5 cases" in again.err


def test_the_archive_holds_settings_profile_and_a_manifest_of_every_file(tmp_path, cli):
    assert cli("init", "city", "--from", "standard", cwd=tmp_path).code == 0
    deployment = tmp_path / "city"
    assert cli("db", "upgrade", cwd=deployment).code == 0
    assert cli("backup", "../out", cwd=deployment).code == 0
    with tarfile.open(_archive(tmp_path / "out")) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert {"config/gridcase.toml", "config/profile/profile.yaml", "config/plugins/local.py"} <= set(names)
    assert set(manifest["files"]) == set(names) - {"manifest.json"}
    assert manifest["database"]["tables"]["unit"] > 0 and manifest["database"]["backend"] == "sqlite"
    assert _archive(tmp_path / "out").stat().st_mode & 0o777 == 0o600  # it holds the settings' secret

    new = tmp_path / "new"
    new.mkdir()
    out = cli("restore", _archive(tmp_path / "out"), "--config", new, cwd=new)
    assert out.code == 0, out.err
    assert (new / "gridcase.toml").read_bytes() == (deployment / "gridcase.toml").read_bytes()
    assert cli("profile", "validate", cwd=new).code == 0  # the restored deployment works as it was


def test_restore_refuses_a_database_that_is_not_empty(engine, db_url, tmp_path, cli):
    assert cli("backup", tmp_path, "--profile", TESTCITY, "--db", db_url).code == 0
    out = cli("restore", _archive(tmp_path), "--db", db_url)  # db_url is migrated: it has tables
    assert out.code == 1 and "is not empty" in out.err and "Traceback" not in out.err


def test_a_damaged_archive_names_the_file_and_restores_nothing(engine, db_url, empty_url, tmp_path, cli):
    _city(engine, 2)
    evidence = engine.evidence.root
    assert cli("backup", tmp_path, "--profile", TESTCITY, "--db", db_url, "--evidence", evidence).code == 0
    archive = _archive(tmp_path)
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("evidence/"))
    data = bytearray(archive.read_bytes())
    data[member.offset_data + 10] ^= 0xFF  # one photo's byte flipped
    archive.write_bytes(data)
    for args in (("backup", "--verify", archive), ("restore", archive, "--db", empty_url)):
        out = cli(*args)
        assert out.code == 1 and f"{member.name}: checksum mismatch" in out.err
    if empty_url.startswith("sqlite"):
        assert not Path(empty_url.removeprefix("sqlite:///")).exists()
    else:
        assert _rows(empty_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) // 2])
    out = cli("backup", "--verify", truncated)
    assert out.code == 1 and "error:" in out.err and "Traceback" not in out.err


def test_backup_errors_are_messages(engine, db_url, tmp_path, cli, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")
    out = cli("backup", blocked / "sub", "--profile", TESTCITY, "--db", db_url)
    assert out.code == 1 and out.err.startswith("error: cannot create the backup folder")
    assert cli("backup", "--verify", tmp_path / "none.tar").err.startswith("error: no archive at")
    if not db_url.startswith("sqlite"):
        monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it
        out = cli("backup", tmp_path / "out", "--profile", TESTCITY, "--db", db_url)
        assert out.code == 1 and "pg_dump is not installed" in out.err
        assert not any((tmp_path / "out").iterdir())  # no half-written archive


def test_scheduled_backups_keep_the_newest_in_both_folders(engine, db_url, tmp_path, cli, monkeypatch):
    local, offsite = tmp_path / "backups", tmp_path / "offsite"
    for folder in (local, offsite):
        folder.mkdir()
        for old in ("gridcase-20200101T000000Z.tar", "gridcase-20200102T000000Z.tar"):
            (folder / old).write_text("an older archive")
        (folder / "notes.txt").write_text("not an archive: never removed")
    (tmp_path / "gridcase.toml").write_text(
        f'[gridcase]\nprofile = "{TESTCITY}"\ndatabase_url = "{db_url}"\n'
        'backup_dir = "backups"\nbackup_offsite_dir = "offsite"\nbackup_keep = 2\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GRIDCASE_EVIDENCE_DIR", str(engine.evidence.root))
    out = cli("backup", "--scheduled", cwd=tmp_path)
    assert out.code == 0, out.err
    for folder in (local, offsite):
        names = sorted(p.name for p in folder.iterdir())
        assert names[0] == "gridcase-20200102T000000Z.tar" and names[-1] == "notes.txt" and len(names) == 3
    made = names[1]
    assert (offsite / made).read_bytes() == (local / made).read_bytes()
    assert {(folder / made).stat().st_mode & 0o777 for folder in (local, offsite)} == {0o600}
    assert cli("backup", "--verify", offsite / made).code == 0
    # within backup_every_hours (24) of the last archive, an hourly cron finds nothing due
    again = cli("backup", "--scheduled", cwd=tmp_path)
    assert again.code == 0 and again.out.startswith("not due")


def test_backup_settings_are_checked(tmp_path, cli):
    (tmp_path / "gridcase.toml").write_text("[gridcase]\nbackup_keep = 0\n", encoding="utf-8")
    out = cli("backup", "--scheduled", cwd=tmp_path)
    assert out.code == 1 and "backup_keep must be a whole number" in out.err


def test_a_backup_under_intake_restores_every_case_acknowledged_before_it(db_url, empty_url, tmp_path):
    """Intake keeps going while `gridcase backup` runs; then the server is killed (SIGKILL)."""
    engine = Engine.open(TESTCITY, db_url)
    engine.load_reference_data()
    add_person(engine.db, "citizen", "市民", ["citizen"])
    headers = {"Authorization": f"Bearer {create_token(engine.db, 'citizen', 'test', engine.time.now())}"}
    engine.db.dispose()
    port = _port()
    base = f"http://127.0.0.1:{port}/api/v1/cases"
    server = _start(db_url, port, tmp_path)
    acknowledged: dict[str, int] = {}
    lock, stop = threading.Lock(), threading.Event()

    def send(first: int) -> None:
        with httpx.Client(timeout=5) as client:
            for i in range(first, 1200, 4):
                if stop.is_set():
                    return
                try:
                    response = client.post(
                        base, json=_report(i % 120), headers={**headers, "Idempotency-Key": f"k-{i}"}
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged[f"k-{i}"] = response.json()["case_id"]

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        while len(acknowledged) < 40 and any(thread.is_alive() for thread in threads):
            time.sleep(0.01)
        with lock:
            before = dict(acknowledged)
        assert before, "the server acknowledged nothing"
        done = subprocess.run(
            [GRIDCASE, "backup", str(tmp_path / "out"), "--profile", str(TESTCITY), "--db", db_url,
             "--evidence", str(tmp_path / "evidence")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        during = len(acknowledged) - len(before)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        stop.set()
        for thread in threads:
            thread.join()
    archive = _archive(tmp_path / "out")
    for args in (["backup", "--verify", archive], ["restore", archive, "--db", empty_url]):
        done = subprocess.run([GRIDCASE, *map(str, args)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    restored = {case for (case,) in _rows(empty_url, 'SELECT id FROM "case"')}
    missing = {key: case for key, case in before.items() if case not in restored}
    assert not missing, f"acknowledged before the backup, not restored: {missing}"
    print(
        f"{len(before)} acknowledged before the backup, {during} while it ran, {len(restored)} cases restored"
    )
