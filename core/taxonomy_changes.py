"""Administrators' edits of minor classes, kept as an append-only history on top of the profile.

Each change sets some fields of one class (`name`, `enabled`, `unit`, `multiplier`, `aliases`,
`keywords`, `standards` with their filing conditions, time limits and closing conditions) and
remembers what they were, so a revert is one more change. A change that creates a class
remembers its major class instead (`previous` is `{"$major": code}`); reverting it disables the
class, since cases may already carry it. A change's id is a taxonomy version:
a case records the version it came in under, and its time limits come from that version, so an
edit applies to new cases only.
"""

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, insert, select

from .db.engine import read, write
from .db.models import TaxonomyChange
from .errors import GridcaseError
from .profile.crosscheck import cross_check
from .profile.loader import Profile
from .profile.merge import pointer
from .profile.schema import schema_issues
from .taxonomy import active_edition

CHANGE = TaxonomyChange.__table__
EDITABLE = ("name", "enabled", "unit", "units", "multiplier", "aliases", "keywords", "standards", "workflow")


def load(db: Engine) -> list[dict[str, Any]]:
    """Every change, oldest first."""
    with read(db) as connection:
        return [dict(r) for r in connection.execute(select(CHANGE).order_by(CHANGE.c.id)).mappings()]


def find_minor(taxonomy: dict[str, Any], kind: str, code: str) -> dict[str, Any] | None:
    for major in active_edition({"taxonomy": taxonomy}).get(kind, []):
        for minor in major.get("minors", []):
            if minor.get("code") == code:
                return minor
    return None


def apply(taxonomy: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the profile's taxonomy with the changes applied in order."""
    out = copy.deepcopy(taxonomy)
    for change in changes:
        minor = find_minor(out, change["kind"], change["code"])
        if minor is None and CREATED in change.get("previous", {}):
            minor = _create(out, change["kind"], change["previous"][CREATED], change["code"])
        if minor is None:  # the class (or its major) left the profile since; its history stays readable
            continue
        for field, value in change["changes"].items():
            if value is None:
                minor.pop(field, None)
            else:
                minor[field] = copy.deepcopy(value)
    return out


CREATED = "$major"


def _create(taxonomy: dict[str, Any], kind: str, major_code: str, code: str) -> dict[str, Any] | None:
    for major in active_edition({"taxonomy": taxonomy}).get(kind, []):
        if major.get("code") == major_code:
            minor = {"code": code}
            major.setdefault("minors", []).append(minor)
            return minor
    return None


def minor_pointer(taxonomy: dict[str, Any], kind: str, code: str) -> str | None:
    """The JSON pointer of a class in the profile, as validation messages name it."""
    for e, edition in enumerate(taxonomy.get("editions", [])):
        if edition.get("code") != taxonomy.get("edition"):
            continue
        for j, major in enumerate(edition.get(kind, [])):
            for k, minor in enumerate(major.get("minors", [])):
                if minor.get("code") == code:
                    return pointer(["taxonomy", "editions", e, kind, j, "minors", k])
    return None


def problems(profile: dict[str, Any], kind: str, code: str, guards: set[str]) -> list[tuple[str, str]]:
    """(field, message) for what is wrong with a class in this profile."""
    return problems_at(profile, minor_pointer(profile["taxonomy"], kind, code) or "", guards)


def problems_at(profile: dict[str, Any], where: str, guards: set[str]) -> list[tuple[str, str]]:
    """(field, message) for what is wrong at `where` (a JSON pointer) in this profile: the schema
    and the checks of `gridcase profile validate`, with the same messages, kept to that place."""
    candidate = Profile(profile.get("name", ""), Path("."), profile)
    issues = schema_issues(candidate) + cross_check(candidate, guards)
    return [
        (issue.pointer.removeprefix(where).lstrip("/") or "class", issue.message)
        for issue in issues
        if issue.pointer == where or issue.pointer.startswith(where + "/")
    ]


def record(
    db: Engine,
    profile: dict[str, Any],
    guards: set[str],
    kind: str,
    code: str,
    fields: dict[str, Any],
    reason: str,
    by: str,
    now: datetime,
    reverts: int | None = None,
) -> int:
    """Store an edit of (kind, code) after checking it; returns the new taxonomy version."""
    need_reason(reason)
    if CREATED in fields:  # reverting a creation: the class stays, disabled
        fields = {"enabled": False}
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise GridcaseError(
            "invalid_request", f"these fields cannot be edited here: {', '.join(sorted(unknown))}"
        )
    current = find_minor(profile["taxonomy"], kind, code)
    if current is None:
        raise GridcaseError("not_found", f"no {kind} class {code!r} in the active taxonomy")
    changed = {
        k: v for k, v in fields.items() if current.get(k) != v and not (v is None and k not in current)
    }
    if not changed:
        raise GridcaseError("invalid_request", "nothing changed")
    previous = {k: copy.deepcopy(current.get(k)) for k in changed}
    change = {"kind": kind, "code": code, "changes": changed, "previous": previous}
    return _store(db, profile, guards, change, reason, by, now, reverts)


def create(
    db: Engine,
    profile: dict[str, Any],
    guards: set[str],
    kind: str,
    major: str,
    code: str,
    fields: dict[str, Any],
    reason: str,
    by: str,
    now: datetime,
) -> int:
    """Add a minor class under a major one, checked like an edit; returns the new version."""
    need_reason(reason)
    if find_minor(profile["taxonomy"], kind, code) is not None:
        raise GridcaseError("invalid_class", f"{kind} class {code!r} exists already", {"field": "code"})
    change = {"kind": kind, "code": code, "changes": fields, "previous": {CREATED: major}}
    if find_minor(apply(profile["taxonomy"], [change]), kind, code) is None:
        raise GridcaseError("not_found", f"no {kind} major class {major!r} in the active taxonomy")
    return _store(db, profile, guards, change, reason, by, now, None)


def refuse(found: list[tuple[str, str]], code: str) -> None:
    """Raise what validation found, field by field, or return when it found nothing."""
    if found:
        raise GridcaseError(
            code,
            "; ".join(f"{path}: {message}" for path, message in found),
            {"problems": [{"field": path, "message": message} for path, message in found]},
        )


def need_reason(reason: Any) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise GridcaseError("invalid_request", "say why the class changes", {"field": "reason"})


def _store(db: Engine, profile, guards, change: dict[str, Any], reason: str, by: str, now, reverts) -> int:
    """Check the profile with the change as `profile validate` would, then append it."""
    edited = {**profile, "taxonomy": apply(profile["taxonomy"], [change])}
    refuse(problems(edited, change["kind"], change["code"], guards), "invalid_class")
    with write(db) as connection:
        row = {**change, "reason": reason.strip(), "changed_by": by, "changed_at": now, "reverts": reverts}
        return connection.execute(insert(CHANGE).values(**row).returning(CHANGE.c.id)).scalar_one()


def export_yaml(profile: dict[str, Any]) -> str:
    """The merged profile, edits applied, as one `profile.yaml` a folder can hold on its own
    (`extends` is dropped: every inherited section is written out)."""
    merged = {key: value for key, value in profile.items() if key != "extends"}
    return yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=110)


def describe(change: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, before, after) lines a person reads. Lists of coded rows (standards rows, a
    composite's terms) are compared row by row and field by field."""
    out: list[tuple[str, str, str]] = []
    for field, after in change["changes"].items():
        before = change["previous"].get(field)
        if _coded_rows(before) and _coded_rows(after):
            old = {row.get("code"): row for row in before or []}
            new = {row.get("code"): row for row in after or []}
            for code in list(old) + [c for c in new if c not in old]:
                a, b = old.get(code, {}), new.get(code, {})
                for key in list(a) + [k for k in b if k not in a]:
                    if a.get(key) != b.get(key):
                        out.append((f"{field}[{code}].{key}", _text(a.get(key)), _text(b.get(key))))
            continue
        out.append((field, _text(before), _text(after)))
    return out


def _coded_rows(value: Any) -> bool:
    return isinstance(value or [], list) and all(isinstance(row, dict) for row in value or [])


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return " / ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)
