"""The catalogue: what a deployment's profile defines, indexed, with the administrators' edits.

Workflows, channels, units, checklist items and the active taxonomy's classes,
built once from the validated profile. Taxonomy edits (new cases only) and settings edits (time
limit rules, assessment composites) are stored in the database and taken up by `refresh_*`, so
every worker of a deployment answers with the same catalogue.
"""

import copy
from typing import Any

from sqlalchemy import Engine as Database

from gridcase.core.errors import GridcaseError
from gridcase.core.profile import checklists, setting_changes, taxonomy_changes
from gridcase.core.profile.taxonomy import active_classes, forget_classes, label_zh
from gridcase.core.profile.workflow import Workflow, workflows

ClassInfo = dict[str, Any]  # a minor class with its major class and kind (profile.taxonomy)


class Catalogue:
    def __init__(self, profile: dict[str, Any], db: Database) -> None:
        self.profile = profile
        self.db = db
        self.workflows: dict[str, Workflow] = workflows(profile)
        self.channels: dict[str, dict[str, Any]] = {c["code"]: c for c in profile.get("channels", [])}
        self.checklist_items = checklists.index(profile)
        self.stage_names: dict[str, str] = {
            s["code"]: label_zh(s["name"]) for s in profile["workflow"].get("stages", [])
        }
        units = profile.get("units", [])
        self.unit_codes: set[str] = {u["code"] for u in units}
        self.unit_parents: dict[str, str] = {u["code"]: u["parent"] for u in units if u.get("parent")}
        self.base_taxonomy = copy.deepcopy(profile.get("taxonomy", {}))
        self.base_settings = setting_changes.apply(profile, [])
        self.setting_changes: list[dict[str, Any]] = []
        self.settings_version = 0
        self.taxonomy_changes: list[dict[str, Any]] = []
        self.taxonomy_version = 0
        # (kind, class) → the class's dedupe rule, cached by intake; a taxonomy edit empties it
        self.dedupe_rules: dict[tuple[str, str], Any] = {}
        self._index_classes()

    def _index_classes(self) -> None:
        self.classes: dict[tuple[str, str], ClassInfo] = {
            (i["kind"], i["minor"]["code"]): i for i in active_classes(self.profile)
        }
        self.classes_by_code: dict[str, list[ClassInfo]] = {}
        for info in self.classes.values():
            self.classes_by_code.setdefault(info["minor"]["code"], []).append(info)

    def refresh_taxonomy(self) -> None:
        """Take up the administrators' taxonomy edits (new cases only; see taxonomy_changes)."""
        changes = taxonomy_changes.load(self.db)
        version = changes[-1]["id"] if changes else 0
        if version == self.taxonomy_version:
            return
        self.taxonomy_changes, self.taxonomy_version = changes, version
        self.profile["taxonomy"] = taxonomy_changes.apply(self.base_taxonomy, changes)
        forget_classes(self.profile)
        self._index_classes()
        self.dedupe_rules = {}

    def refresh_settings(self) -> bool:
        """Take up the administrators' edits of time-limit rules and assessment composites;
        whether there were new ones."""
        changes = setting_changes.load(self.db)
        version = changes[-1]["id"] if changes else 0
        if version == self.settings_version:
            return False
        self.setting_changes, self.settings_version = changes, version
        self.profile.update(setting_changes.apply(self.base_settings, changes))
        return True

    def taxonomy_at(self, version: int) -> dict[str, Any]:
        """The taxonomy as it was at a version (the one a case came in under)."""
        if version > self.taxonomy_version:  # another worker took an edit this one has not seen
            self.refresh_taxonomy()
        if version >= self.taxonomy_version:
            return self.profile.get("taxonomy", {})
        return taxonomy_changes.apply(
            self.base_taxonomy, [c for c in self.taxonomy_changes if c["id"] <= version]
        )

    def resolve_class(self, code: str, kind: str | None = None) -> ClassInfo:
        """The class a report or a filing names; a code shared by both kinds needs its kind."""
        if kind is not None and kind not in ("component", "event"):
            raise GridcaseError(
                "invalid_report", f"kind is 'component' (部件) or 'event' (事件), not {kind!r}"
            )
        matches = [info for info in self.classes_by_code.get(code, ()) if kind in (None, info["kind"])]
        if not matches:
            raise GridcaseError("unknown_category", f"no minor class {code!r} in the active taxonomy")
        if len(matches) > 1:
            names = " and ".join(
                f"{'a' if m['kind'] == 'component' else 'an'} {m['kind']} ({label_zh(m['minor']['name'])})"
                for m in matches
            )
            raise GridcaseError(
                "ambiguous_category",
                f"{code!r} is {names}: give kind",
                {"kinds": [m["kind"] for m in matches]},
            )
        info = matches[0]
        if info["minor"].get("enabled") is False or info["major"].get("enabled") is False:
            raise GridcaseError("category_disabled", f"minor class {code!r} is disabled")
        return info

    def workflow_for(self, r: dict[str, Any]) -> Workflow:
        """A class's workflow, else its channel's, else the profile's default (宜昌's three case types)."""
        code = (
            r["info"]["minor"].get("workflow")
            or self.channels[r["channel"]].get("workflow")
            or self.profile["workflow"]["default"]
        )
        return self.workflows[code]
