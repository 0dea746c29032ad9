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
from typing import Any

import yaml
from sqlalchemy import Engine as Database

from gridcase.core.db.models import TaxonomyChange
from gridcase.core.errors import GridcaseError
from gridcase.core.profile import edits
from gridcase.core.profile.merge import pointer
from gridcase.core.profile.taxonomy import active_edition

CHANGE = TaxonomyChange.__table__
EDITABLE = ("name", "enabled", "unit", "units", "multiplier", "aliases", "keywords", "standards", "workflow")


def load(db: Database) -> list[dict[str, Any]]:
    """Every change, oldest first."""
    return edits.load(db, CHANGE)


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
    return edits.problems_at(profile, minor_pointer(profile["taxonomy"], kind, code) or "", guards)


def record(
    db: Database,
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
        raise GridcaseError("unchanged", "nothing changed")
    edits.need_reason(reason)  # after: a form sent again unchanged is no new edit, reason or not
    previous = {k: copy.deepcopy(current.get(k)) for k in changed}
    change = {"kind": kind, "code": code, "changes": changed, "previous": previous}
    return _store(db, profile, guards, change, reason, by, now, reverts)


def create(
    db: Database,
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
    edits.need_reason(reason)
    if find_minor(profile["taxonomy"], kind, code) is not None:
        raise GridcaseError("invalid_class", f"{kind} class {code!r} exists already", {"field": "code"})
    change = {"kind": kind, "code": code, "changes": fields, "previous": {CREATED: major}}
    if find_minor(apply(profile["taxonomy"], [change]), kind, code) is None:
        raise GridcaseError("not_found", f"no {kind} major class {major!r} in the active taxonomy")
    return _store(db, profile, guards, change, reason, by, now, None)


def _store(db: Database, profile, guards, change: dict[str, Any], reason: str, by: str, now, reverts) -> int:
    """Check the profile with the change as `profile validate` would, then append it."""
    edited = {**profile, "taxonomy": apply(profile["taxonomy"], [change])}
    edits.refuse(problems(edited, change["kind"], change["code"], guards), "invalid_class")
    return edits.append(db, CHANGE, change, reason, by, now, reverts)


def export_yaml(profile: dict[str, Any]) -> str:
    """The merged profile, edits applied, as one `profile.yaml` a folder can hold on its own
    (`extends` is dropped: every inherited section is written out)."""
    merged = {key: value for key, value in profile.items() if key != "extends"}
    return yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=110)
