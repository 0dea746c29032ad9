"""What taxonomy edits and setting edits share: an append-only table of changes (each with the
fields it set and what they were, who, when, why, and the change it reverts), the checks of
`gridcase profile validate` kept to the edited place, and what a change changed, field by field
(the admin UI reads it with the profile's names, admin_ui/change_text.py)."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy import Table, insert, select

from gridcase.core.db.connection import read, write
from gridcase.core.errors import GridcaseError
from gridcase.core.profile.crosscheck import cross_check
from gridcase.core.profile.loader import Profile
from gridcase.core.profile.located import LocatedDict
from gridcase.core.profile.schema import schema_issues


def load(db: Database, table: Table) -> list[dict[str, Any]]:
    """Every change in `table`, oldest first."""
    with read(db) as connection:
        return [dict(r) for r in connection.execute(select(table).order_by(table.c.id)).mappings()]


def append(
    db: Database,
    table: Table,
    change: dict[str, Any],
    reason: str,
    by: str,
    now: datetime,
    reverts: int | None,
) -> int:
    """Store a checked change; its id is the new version."""
    with write(db) as connection:
        row = {**change, "reason": reason.strip(), "changed_by": by, "changed_at": now, "reverts": reverts}
        return connection.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()


def need_reason(reason: Any) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise GridcaseError("invalid_request", "say why the class changes", {"field": "reason"})


def problems_at(profile: dict[str, Any], where: str, guards: set[str]) -> list[tuple[str, str]]:
    """(field, message) for what is wrong at `where` (a JSON pointer) in this profile: the schema
    and the checks of `gridcase profile validate`, with the same messages, kept to that place."""
    candidate = Profile(profile.get("name", ""), Path("."), LocatedDict(profile))  # no marks: none are shown
    issues = schema_issues(candidate) + cross_check(candidate, guards)
    return [
        (issue.pointer.removeprefix(where).lstrip("/") or "class", issue.message)
        for issue in issues
        if issue.pointer == where or issue.pointer.startswith(where + "/")
    ]


def refuse(found: list[tuple[str, str]], code: str) -> None:
    """Raise what validation found, field by field, or return when it found nothing."""
    if found:
        raise GridcaseError(
            code,
            "; ".join(f"{path}: {message}" for path, message in found),
            {"problems": [{"field": path, "message": message} for path, message in found]},
        )


@dataclass(frozen=True)
class Difference:
    """One thing a change changed, as stored: a field, or one key of one row of a list of coded
    rows (a standards row, a composite's term) with that row (as it was, or as it became when new)."""

    field: str
    before: Any
    after: Any
    row: dict[str, Any] | None = None
    key: str | None = None


def differences(change: dict[str, Any]) -> list[Difference]:
    """What a change changed. Lists of coded rows are compared row by row and key by key."""
    out: list[Difference] = []
    for field, after in change["changes"].items():
        before = change["previous"].get(field)
        if _coded_rows(before) and _coded_rows(after):
            old = {row.get("code"): row for row in before or []}
            new = {row.get("code"): row for row in after or []}
            for code in list(old) + [c for c in new if c not in old]:
                a, b = old.get(code, {}), new.get(code, {})
                for key in list(a) + [k for k in b if k not in a]:
                    if a.get(key) != b.get(key):
                        out.append(Difference(field, a.get(key), b.get(key), a or b, key))
            continue
        out.append(Difference(field, before, after))
    return out


def _coded_rows(value: Any) -> bool:
    """A list of rows (or none yet); not False, which a disabled class's `enabled` is."""
    return value is None or (isinstance(value, list) and all(isinstance(row, dict) for row in value))
