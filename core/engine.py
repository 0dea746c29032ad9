"""The Engine: one facade for intake, transitions and queries.

The JSON API, the admin UI, the CLI and simulations all call these methods; none of them
touches the tables directly. Time comes from the injected clock.
"""

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import pluggy
from sqlalchemy import Connection, select
from sqlalchemy import Engine as SAEngine

from gridcase.core.assess import scheduled
from gridcase.core.cases import checklists
from gridcase.core.cases.evidence import DEFAULT_MAX_BYTES, EvidenceStore, Stored, Upload, default_root
from gridcase.core.cases.idempotency import Claim
from gridcase.core.cases.subtasks import create_subtasks
from gridcase.core.cases.transitions import fire
from gridcase.core.cases.workflow import Workflow, workflows
from gridcase.core.context import CityProfile, Hooks
from gridcase.core.db.connection import make_engine, read, write
from gridcase.core.db.fast import FastInsert
from gridcase.core.db.models import Case, CaseEvent, CaseUnit, Evidence, Report
from gridcase.core.db.models import Clock as ClockRow
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.submit import Submission, intake_many
from gridcase.core.intake.submit import intake as _intake
from gridcase.core.ops.retention import Retention, purge
from gridcase.core.people.actor import SYSTEM, Actor
from gridcase.core.places import components as component_registry
from gridcase.core.places import grids as grid_registry
from gridcase.core.places.gridindex import GridIndex
from gridcase.core.places.reconcile import reconcile
from gridcase.core.places.tenancy import Tenancy
from gridcase.core.places.units import subtree
from gridcase.core.plugins import collect
from gridcase.core.profile import Profile, load_validated, setting_changes, taxonomy_changes
from gridcase.core.profile.taxonomy import active_classes, forget_classes, label_zh
from gridcase.core.settings import settings_path
from gridcase.core.sla import digests, sweep
from gridcase.core.sla import overrides as calendar_overrides
from gridcase.core.sla.clocks import Clocks
from gridcase.core.sla.deadlines import Deadlines
from gridcase.core.timesource import SystemTime, TimeSource

CASE, CASE_EVENT, CASE_UNIT, CLOCK, EVIDENCE, REPORT = (
    t.__table__ for t in (Case, CaseEvent, CaseUnit, ClockRow, Evidence, Report)
)

INSERT_EVIDENCE = FastInsert(EVIDENCE)


@dataclass
class Engine:
    profile_obj: Profile
    pm: pluggy.PluginManager
    db: SAEngine
    time: TimeSource = field(default_factory=SystemTime)
    evidence: EvidenceStore | None = None

    def __post_init__(self) -> None:
        self.profile: dict[str, Any] = self.profile_obj.plain()
        self.workflows: dict[str, Workflow] = workflows(self.profile)
        self.channels = {c["code"]: c for c in self.profile.get("channels", [])}
        self.checklist_items = checklists.index(self.profile)
        self.time_units = {u["code"]: u for u in self.profile.get("time_limits", {}).get("units", [])}
        self.roles = {r["code"]: r for r in self.profile.get("roles", [])}
        self.unit_codes = {u["code"] for u in self.profile.get("units", [])}
        self.unit_parents = {u["code"]: u["parent"] for u in self.profile.get("units", []) if u.get("parent")}
        self._subtrees: dict[str, frozenset[str]] = {}
        self.tenancy = Tenancy(self.profile, self.unit_parents, lambda: self.grids)
        self.guards = {g["name"]: g["check"] for g in collect(self.pm, "register_guards")}
        self.tz = ZoneInfo(
            self.profile.get("time_limits", {}).get("calendar", {}).get("timezone", "Asia/Shanghai")
        )
        self.division_code = self.profile.get("region", {}).get("division_code", "")
        self.hooks = Hooks(self.pm, CityProfile.of(self.profile), self.time, self.db)
        self.base_taxonomy = copy.deepcopy(self.profile.get("taxonomy", {}))
        self.base_settings = setting_changes.apply(self.profile, [])
        self.setting_changes: list[dict[str, Any]] = []
        self.settings_version = 0
        self.taxonomy_changes: list[dict[str, Any]] = []
        self.taxonomy_version = 0
        self._index_classes()
        if self.evidence is None:
            max_bytes = self.profile.get("intake", {}).get("evidence", {}).get("max_bytes", DEFAULT_MAX_BYTES)
            root = default_root(self.db.url.render_as_string(hide_password=False), settings_path())
            self.evidence = EvidenceStore(root, max_bytes)
        self.deadlines = Deadlines(self.profile, self.hooks, self.taxonomy_at)
        self.refresh_calendars()
        self.refresh_taxonomy()
        self.refresh_settings()
        self.clocks = Clocks(self.deadlines)
        self.dedupe_rules: dict[tuple[str, str], Any] = {}
        self.components = component_registry.ComponentIndex(self.db)

    @classmethod
    def open(cls, profile_ref: str | os.PathLike, database_url: str, **kwargs: Any) -> "Engine":
        profile, pm = load_validated(profile_ref)
        return cls(profile, pm, make_engine(database_url), **kwargs)

    # -- reference data ---------------------------------------------------------------

    def refresh_calendars(self) -> None:
        """Take up the administrators' working-day overrides and confirmed years (the server
        does before each sweep)."""
        overrides, years = calendar_overrides.load(self.db), calendar_overrides.load_years(self.db)
        self.deadlines.apply_overrides(overrides, years)

    def recompute_deadlines(self, now: datetime) -> int:
        """Provisional deadlines counted again on today's calendars (the sweep runs it), in a
        transaction of its own: once a process for each set of calendars, since a deadline
        started after it was counted on them already."""
        key = self.deadlines.calendar_key
        if key == self.__dict__.get("_recomputed_for"):
            return 0
        with write(self.db) as connection:
            changed = self.clocks.recompute(connection, now, SYSTEM)
        self._recomputed_for = key  # after the commit: a rolled-back recompute is tried again
        return changed

    def _index_classes(self) -> None:
        self.classes = {(i["kind"], i["minor"]["code"]): i for i in active_classes(self.profile)}
        self.classes_by_code: dict[str, list[dict[str, Any]]] = {}
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

    def refresh_settings(self) -> None:
        """Take up the administrators' edits of time-limit rules and assessment composites."""
        changes = setting_changes.load(self.db)
        version = changes[-1]["id"] if changes else 0
        if version == self.settings_version:
            return
        self.setting_changes, self.settings_version = changes, version
        self.profile.update(setting_changes.apply(self.base_settings, changes))
        self.deadlines.use_rules(self.profile["time_limits"].get("rules", []))

    def taxonomy_at(self, version: int) -> dict[str, Any]:
        """The taxonomy as it was at a version (the one a case came in under)."""
        if version > self.taxonomy_version:  # another worker took an edit this one has not seen
            self.refresh_taxonomy()
        if version >= self.taxonomy_version:
            return self.profile.get("taxonomy", {})
        return taxonomy_changes.apply(
            self.base_taxonomy, [c for c in self.taxonomy_changes if c["id"] <= version]
        )

    def load_reference_data(self) -> dict[str, int]:
        """Units and grids made to match the profile's in place (see reconcile.py), and its
        components when it carries them."""
        planned = reconcile(self.db, self.profile, self.time.now())
        counts = {"units": planned.units}
        self._subtrees.clear()
        if planned.grids:
            counts["grids"] = planned.grids
        self.__dict__.pop("grids", None)
        components = self.profile.get("components")
        if components:  # a few named ones (bulk data is imported): those already stored are kept
            rows = ((n, component_registry.profile_row(c)) for n, c in enumerate(components, 1))
            # the profile's author chose these codes (a city's local structure): lenient
            imported = component_registry.import_rows(self.db, rows, self.profile, lenient=True)
            counts["components"] = imported.imported
            self.components.forget()
        return counts

    @cached_property
    def grids(self) -> GridIndex:
        return grid_registry.load_index(self.db, [lvl["code"] for lvl in self.profile.get("grid_levels", [])])

    def reload_grids(self) -> None:
        self.__dict__.pop("grids", None)

    def refresh_grids(self) -> None:
        """Take up grids imported or reconciled since they were loaded (the server does before
        each sweep), when the grids' version moved: reading it is one small query."""
        seen = grid_registry.version(self.db)
        if seen != self.__dict__.get("_grids_version"):
            self.reload_grids()
            self._grids_version = seen

    def find_component(self, connection: Connection, r: dict[str, Any]) -> dict[str, Any] | None:
        """The report's component: the one it names, or the nearest of its class close enough."""
        code = r.get("component")
        if code:
            row = connection.execute(component_registry.BY_CODE, {"code": code}).mappings().first()
            if row is None:
                raise GridcaseError("unknown_component", f"no component {code!r} is registered")
            if row["class_code"] != r["category"] or r["info"]["kind"] != "component":
                raise GridcaseError(
                    "invalid_report", f"component {code} is a {row['class_code']}, not a {r['category']}"
                )
            return dict(row)
        if r["info"]["kind"] != "component":
            return None
        radius = self.profile.get("intake", {}).get("component_radius_m", 0)
        return self.components.nearest(r["category"], r["lon"], r["lat"], radius) if radius else None

    def resolve_class(self, code: str, kind: str | None = None) -> dict[str, Any]:
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

    # -- the loop ---------------------------------------------------------------------

    def intake(
        self,
        report: dict[str, Any],
        actor: Actor,
        uploads: Sequence[Upload] = (),
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """File a report. Returns {case_id, number, duplicate, replay}."""
        result = _intake(self, report, actor, list(uploads), idempotency_key)
        result.pop("event", None)
        return result

    def intake_many(self, submissions: list[Submission]) -> list[dict[str, Any] | Exception]:
        """File several reports in one transaction (what the server does with the reports that
        arrive together): each one's answer as `intake` gives it, or the exception it raises."""
        outcomes = intake_many(self, submissions)
        for outcome in outcomes:
            if isinstance(outcome, dict):
                outcome.pop("event", None)
        return outcomes

    def transition(
        self,
        case_id: int,
        code: str,
        actor: Actor,
        payload: dict[str, Any] | None = None,
        reason: str | None = None,
        uploads: Sequence[Upload] = (),
        expected_version: int | None = None,
        brief: bool = False,
        claim: Claim | None = None,
    ) -> dict[str, Any]:
        """Fire a transition; returns the case as `case()` does (`brief`: only its id, state,
        state kind and version). Raises TransitionError. `claim` takes an idempotency key in the
        transition's transaction (IntegrityError when another request took it first)."""
        return fire(
            self, case_id, code, actor, payload, reason, list(uploads), expected_version, brief, claim
        )

    def subtree(self, connection: Connection, unit: str) -> frozenset[str]:
        """The unit and every unit below it. The tree is the profile's, synced at start-up, so it
        is read once per unit: every department transition asks."""
        found = self._subtrees.get(unit)
        if found is None:
            found = self._subtrees[unit] = frozenset(subtree(connection, unit))
        return found

    def check_scope(
        self, connection: Connection, case: dict, actor: Actor, transition, handling: list
    ) -> None:
        """Unit- and grid-scoped roles act only on their own cases (the rest is the API's job),
        and a tenant platform's people only on cases in its territory."""
        grids = (case.get("grid_path") or "").strip("/").split("/")
        self.tenancy.require(actor, grids, f"case {case['number']}")
        allowed = [self.roles.get(r, {}) for r in actor.roles & transition.roles]
        if any(r.get("scope") in ("all", None) for r in allowed):
            return
        if any(r.get("scope") == "unit_subtree" for r in allowed):
            if actor.unit and {h["unit"] for h in handling} & self.subtree(connection, actor.unit):
                return
            raise GridcaseError(
                "forbidden", f"case {case['number']} is not dispatched to {actor.unit} or below it"
            )
        if any(r.get("scope") == "grids" for r in allowed):
            path = case.get("grid_path") or ""
            if actor.grids is None or any(f"/{g}/" in path for g in actor.grids):
                return
            raise GridcaseError("forbidden", f"case {case['number']} is outside your responsibility grids")
        if any(r.get("scope") == "own" for r in allowed) and case.get("reporter_id") == actor.id:
            return
        raise GridcaseError("forbidden", "this case is outside your scope")

    def attach(
        self,
        connection: Connection,
        case_id: int,
        event_id: int | None,
        uploads,
        stored: list[Stored],
        now: datetime,
    ) -> None:
        store = self.evidence
        assert store is not None  # __post_init__ made one when none was given
        for upload, meta in zip(uploads, stored, strict=True):
            store.put(upload)
            INSERT_EVIDENCE(
                connection,
                {
                    "case_id": case_id, "event_id": event_id, "kind": meta.kind, "sha256": meta.sha256,
                    "content_type": meta.content_type, "size": meta.size, "filename": meta.filename,
                    "added_at": now,
                },
            )  # fmt: skip

    def senders(self) -> dict[str, Any]:
        """The sender of each channel; a later plugin's replaces an earlier one's."""
        return {sender.channel: sender for sender in collect(self.pm, "register_senders")}

    def sweep(self, now: datetime | None = None, retention: Retention | None = None) -> dict[str, Any]:
        """Fire the due time-limit events, send the due digests and bulletins, deliver the due
        notifications, then purge what the retention windows no longer keep."""
        fired = sweep.sweep(self, now)
        digested = digests.send_due(self, now or self.time.now())
        bulletins = scheduled.publish_due(self, now or self.time.now())
        return {
            "fired": fired,
            "digests": digested,
            "bulletins": bulletins,
            "delivered": sweep.deliver(self, self.senders(), now),
            "purged": purge(self.db, now or self.time.now(), retention or Retention()),
        }

    def create_subtasks(self, parent_id: int, units: list[str], actor: Actor, note: str = "") -> list[int]:
        """A joint order: one sub-task per unit under the parent, each dispatched at once."""
        return create_subtasks(self, parent_id, units, actor, note)

    # -- queries ----------------------------------------------------------------------

    def case(self, case_id: int) -> dict[str, Any]:
        """A case with its units, timeline, clocks, evidence and sub-tasks."""
        with read(self.db) as connection:
            row = connection.execute(select(CASE).where(CASE.c.id == case_id)).mappings().first()
            if row is None:
                raise GridcaseError("not_found", f"no case {case_id}")

            def rows(table, *where, order=None):
                query = select(table).where(*where)
                return [
                    dict(r)
                    for r in connection.execute(
                        query.order_by(order) if order is not None else query
                    ).mappings()
                ]

            return {
                **dict(row),
                "units": rows(CASE_UNIT, CASE_UNIT.c.case_id == case_id, order=CASE_UNIT.c.id),
                "events": rows(CASE_EVENT, CASE_EVENT.c.case_id == case_id, order=CASE_EVENT.c.seq),
                "clocks": rows(CLOCK, CLOCK.c.case_id == case_id, order=CLOCK.c.id),
                "evidence": rows(EVIDENCE, EVIDENCE.c.case_id == case_id, order=EVIDENCE.c.id),
                "reports": rows(REPORT, REPORT.c.case_id == case_id, order=REPORT.c.id),
                "subtasks": rows(CASE, CASE.c.parent_id == case_id, order=CASE.c.id),
            }

    def allowed_transitions(self, case_id: int, actor: Actor) -> list[str]:
        case = self.case(case_id)
        return [t.code for t in self.workflows[case["workflow"]].available(case["state"], actor.roles)]
