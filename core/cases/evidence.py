"""Evidence (photos, video, audio, documents) stored content-addressed on disk.

A file is accepted only when its bytes are what its kind says (a "JPEG" that is really HTML is
refused), within the size limit. It is written to a temporary name and renamed into place, so a
crash never leaves a partial file under a real name; the same bytes are stored once.
"""

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection

from gridcase.core.city import DEFAULT_EVIDENCE_BYTES
from gridcase.core.db.fast import FastInsert
from gridcase.core.db.models import Evidence
from gridcase.core.errors import GridcaseError

INSERT_EVIDENCE = FastInsert(Evidence.__table__)

ROOT_ENV = "GRIDCASE_EVIDENCE_DIR"

# (content type, kind, test on the first bytes)
SIGNATURES: tuple[tuple[str, str, Callable[[bytes], bool]], ...] = (
    ("image/jpeg", "photo", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("image/png", "photo", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/gif", "photo", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", "photo", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("video/mp4", "video", lambda b: b[4:8] == b"ftyp"),
    ("audio/mpeg", "audio", lambda b: b.startswith(b"ID3") or b[:2] in (b"\xff\xfb", b"\xff\xf3")),
    ("audio/amr", "audio", lambda b: b.startswith(b"#!AMR")),
    ("application/pdf", "document", lambda b: b.startswith(b"%PDF-")),
)


# a photo's side of the handling, as the client says it: a step's photos may be both (the
# feedback's before and after), so the step alone cannot say which each is
PHASES = ("before", "after")


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    kind: str = "photo"
    phase: str | None = None  # one of PHASES, or None: the step it comes with decides


@dataclass(frozen=True)
class Stored:
    kind: str
    sha256: str
    content_type: str
    size: int
    filename: str


def default_root(database_url: str | None = None, settings_file: Path | None = None) -> Path:
    """Where a deployment keeps its evidence: GRIDCASE_EVIDENCE_DIR; else `evidence/` beside
    its gridcase.toml; else beside its SQLite database; else in the user's data folder. Never
    the working directory, which is wherever a command happened to run (a test run once left a
    photo in the repository that way)."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    if settings_file is not None:
        return settings_file.resolve().parent / "evidence"
    if database_url is not None:
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).resolve().parent / "evidence"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "gridcase" / "evidence"


def write_atomically(target: Path, write: Callable[[BinaryIO], object], prefix: str) -> None:
    """`write` into a temporary file beside `target`, synced, then renamed to it: a crash never
    leaves a partial file under the real name (evidence stored, or restored from a backup)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_filename(name: str) -> str:
    """The last path component, without control characters or anything a shell or URL minds."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", name).strip(" .")
    return name[:200] or "file"


def sniff(content: bytes) -> tuple[str, str] | None:
    head = content[:16]
    for content_type, kind, test in SIGNATURES:
        if test(head):
            return content_type, kind
    return None


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_EVIDENCE_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def check(self, upload: Upload) -> Stored:
        """Validate without writing: raises GridcaseError with a clear message."""
        size = len(upload.content)
        if size == 0:
            raise GridcaseError("evidence_empty", f"{safe_filename(upload.filename)!r} is empty")
        if size > self.max_bytes:
            raise GridcaseError(
                "evidence_too_large",
                f"{safe_filename(upload.filename)!r} is {size} bytes; the limit is {self.max_bytes}",
                {"size": size, "limit": self.max_bytes},
            )
        found = sniff(upload.content)
        if found is None or found[1] != upload.kind:
            what = f"a {found[0]} file" if found else "not a recognised file type"
            raise GridcaseError(
                "evidence_type",
                f"{safe_filename(upload.filename)!r} should be a {upload.kind} but is {what}",
                {"kind": upload.kind},
            )
        digest = hashlib.sha256(upload.content).hexdigest()
        return Stored(upload.kind, digest, found[0], size, safe_filename(upload.filename))

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, upload: Upload) -> Stored:
        stored = self.check(upload)
        target = self.path_of(stored.sha256)
        if not target.exists():
            write_atomically(target, lambda handle: handle.write(upload.content), ".incoming-")
        return stored

    def attach(
        self,
        connection: Connection,
        case_id: int,
        event_id: int | None,
        uploads: Iterable[Upload],
        stored: list[Stored],
        now: datetime,
    ) -> None:
        """Each upload's file kept, and its row written in the caller's transaction."""
        for upload, meta in zip(uploads, stored, strict=True):
            self.put(upload)
            INSERT_EVIDENCE(
                connection,
                {
                    "case_id": case_id, "event_id": event_id, "kind": meta.kind, "sha256": meta.sha256,
                    "content_type": meta.content_type, "size": meta.size, "filename": meta.filename,
                    "added_at": now, "phase": upload.phase,
                },
            )  # fmt: skip

    def read(self, sha256: str) -> bytes:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise GridcaseError("not_found", "no such evidence")
        try:
            return self.path_of(sha256).read_bytes()
        except FileNotFoundError:  # its row outlived the file (a restore without the folder, say)
            raise GridcaseError(
                "not_found", "the evidence's file is missing from the evidence folder"
            ) from None
