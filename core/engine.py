"""The Engine: one facade for intake, transitions and queries.

The JSON API, the admin UI, the CLI and simulations all call these methods; none of them
touches the tables directly. Time comes from the injected clock.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pluggy
from sqlalchemy import Engine as Database
from sqlalchemy import select

from gridcase.core.assess import scheduled
from gridcase.core.cases.evidence import EvidenceStore, Upload, default_root
from gridcase.core.cases.idempotency import Claim
from gridcase.core.cases.subtasks import create_subtasks
from gridcase.core.cases.transitions import fire
from gridcase.core.city import CityProfile
from gridcase.core.context import Hooks
from gridcase.core.db.connection import make_engine, read
from gridcase.core.db.models import Case, CaseEvent, CaseUnit, Evidence, Report
from gridcase.core.db.models import Clock as ClockRow
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.submit import Submission, intake_many
from gridcase.core.intake.submit import intake as _intake
from gridcase.core.ops.retention import Retention, purge
from gridcase.core.people.actor import Actor
from gridcase.core.places.registry import Places
from gridcase.core.plugins import collect
from gridcase.core.profile import Profile, load_validated
from gridcase.core.profile.catalogue import Catalogue
from gridcase.core.settings import settings_path
from gridcase.core.sla import digests, sweep
from gridcase.core.sla.limits import TimeLimits
from gridcase.core.timesource import SystemTime, TimeSource

CASE, CASE_EVENT, CASE_UNIT, CLOCK, EVIDENCE, REPORT = (
    t.__table__ for t in (Case, CaseEvent, CaseUnit, ClockRow, Evidence, Report)
)


@dataclass
class Engine:
    profile_obj: Profile
    pm: pluggy.PluginManager
    db: Database
    time: TimeSource = field(default_factory=SystemTime)
    evidence: EvidenceStore | None = None

    def __post_init__(self) -> None:
        self.profile: dict[str, Any] = self.profile_obj.plain()
        self.city = CityProfile.of(self.profile)
        self.catalogue = Catalogue(self.profile, self.db)
        self.places = Places(self.profile, self.city, self.db, self.catalogue.unit_parents)
        self.guards = {g["name"]: g["check"] for g in collect(self.pm, "register_guards")}
        self.moves = {m.name: m for m in collect(self.pm, "register_unit_moves")}
        self.hooks = Hooks(self.pm, self.city, self.time, self.db)
        if self.evidence is None:
            root = default_root(self.db.url.render_as_string(hide_password=False), settings_path())
            self.evidence = EvidenceStore(root, self.city.intake.evidence_max_bytes)
        self.limits = TimeLimits(self.profile, self.db, self.hooks, self.catalogue.taxonomy_at)
        self.catalogue.refresh_taxonomy()
        self.refresh_settings()

    @classmethod
    def open(cls, profile_ref: str | os.PathLike, database_url: str, **kwargs: Any) -> "Engine":
        profile, pm = load_validated(profile_ref)
        return cls(profile, pm, make_engine(database_url), **kwargs)

    # -- what administrators edit, taken up from the database --------------------------

    def refresh_settings(self) -> None:
        """Take up the administrators' edits of time-limit rules and assessment composites."""
        if self.catalogue.refresh_settings():
            self.limits.use_rules(self.profile["time_limits"].get("rules", []))

    def load_reference_data(self) -> dict[str, int]:
        """Units and grids made to match the profile's in place, and its components when it
        carries them (see places.registry)."""
        return self.places.load_reference_data(self.time.now())

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
        made_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Fire a transition; returns the case as `case()` does (`brief`: only its id, state,
        state kind and version). Raises TransitionError. `claim` takes an idempotency key in the
        transition's transaction (IntegrityError when another request took it first). `made_at`
        is when a step made offline was made on the device (see sla/offline.py)."""
        return fire(
            self,
            case_id,
            code,
            actor,
            payload,
            reason,
            list(uploads),
            expected_version,
            brief,
            claim,
            made_at,
        )

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
        workflow = self.catalogue.workflows[case["workflow"]]
        return [t.code for t in workflow.available(case["state"], actor.roles)]
