"""Administrators' edits of time-limit rules and assessment composites, kept as an append-only
history on top of the profile, like taxonomy edits (taxonomy_changes; profile_edits has what
both share).

No version is recorded on cases: a rule's limit is read when a clock starts, so an edit reaches
clocks started after it, and weights are read when an assessment runs (a published bulletin
keeps the figures it was published with).
"""

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import Engine as Database

from gridcase.core.db.models import SettingChange
from gridcase.core.errors import GridcaseError
from gridcase.core.profile import edits
from gridcase.core.profile.merge import pointer

CHANGE = SettingChange.__table__
# kind -> (section, list, the fields an edit may set)
KINDS = {
    "rule": ("time_limits", "rules", ("limit",)),
    "composite": ("assessment", "composites", ("terms",)),
}


def load(db: Database) -> list[dict[str, Any]]:
    return edits.load(db, CHANGE)


def _find(sections: dict[str, Any], kind: str, code: str) -> tuple[int, dict[str, Any]] | tuple[None, None]:
    section, key, _ = KINDS[kind]
    for i, item in enumerate(sections.get(section, {}).get(key, [])):
        if item.get("code") == code:
            return i, item
    return None, None


def apply(base: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the profile's `time_limits` and `assessment` with the changes applied in order."""
    out = {section: copy.deepcopy(base.get(section, {})) for section in ("time_limits", "assessment")}
    for change in changes:
        if change["kind"] not in KINDS:  # the same log holds changes to people (people/administration.py)
            continue
        _, item = _find(out, change["kind"], change["code"])
        if item is not None:  # the rule or composite left the profile since: its history stays
            item.update(copy.deepcopy(change["changes"]))
    return out


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
    """Store an edit after `gridcase profile validate`'s checks of the edited profile."""
    if kind not in KINDS:
        raise GridcaseError("not_found", f"nothing called {kind!r} can be edited here")
    section, key, editable = KINDS[kind]
    unknown = set(fields) - set(editable)
    if unknown:
        raise GridcaseError(
            "invalid_request", f"these fields cannot be edited here: {', '.join(sorted(unknown))}"
        )
    index, current = _find(profile, kind, code)
    if current is None:
        raise GridcaseError("not_found", f"no {kind} {code!r} in this profile")
    changed = {k: v for k, v in fields.items() if current.get(k) != v}
    if not changed:
        raise GridcaseError("unchanged", "nothing changed")
    edits.need_reason(reason)  # after: a form sent again unchanged is no new edit, reason or not
    change = {
        "kind": kind,
        "code": code,
        "changes": changed,
        "previous": {k: current.get(k) for k in changed},
    }
    edited = {**profile, **apply(profile, [change])}
    edits.refuse(edits.problems_at(edited, pointer([section, key, index]), guards), "invalid_setting")
    return edits.append(db, CHANGE, change, reason, by, now, reverts)
