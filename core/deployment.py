"""What the stage packages read of a running deployment: the `Deployment` protocol.

Intake, transitions, the sweep and the scheduled bulletins are functions of a deployment: its
profile and the indexes built from it, its database, time source, plugins and services. They
name that through this protocol, never through the Engine that implements it (core/engine.py,
the composition root), so no stage package imports the facade and the packages form no import
cycle (tests/test_architecture.py). The services that live in a stage package above the one
reading them (the clock service, the grid index, the evidence store) are typed as `Any` here for
the same reason; each is typed where it is defined.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pluggy
from sqlalchemy import Connection
from sqlalchemy import Engine as Database

from gridcase.core.context import Hooks
from gridcase.core.timesource import TimeSource


class Deployment(Protocol):
    # the profile (with the administrators' edits applied) and what is indexed from it
    profile: dict[str, Any]
    tz: ZoneInfo
    division_code: str
    classes: dict[tuple[str, str], dict[str, Any]]  # (kind, minor code) → the class's taxonomy entry
    channels: dict[str, dict[str, Any]]
    roles: dict[str, dict[str, Any]]
    workflows: dict[str, Any]  # code → cases.workflow.Workflow
    time_units: dict[str, dict[str, Any]]
    unit_codes: set[str]
    unit_parents: dict[str, str]
    checklist_items: dict[str, dict[str, Any]]
    taxonomy_version: int
    dedupe_rules: dict[tuple[str, str], Any]
    guards: dict[str, Callable[[dict[str, Any]], str | None]]
    # where it runs
    db: Database
    time: TimeSource
    pm: pluggy.PluginManager
    hooks: Hooks
    # services of the stages above the readers: sla.clocks.Clocks, places.gridindex.GridIndex,
    # places.tenancy.Tenancy, cases.evidence.EvidenceStore
    clocks: Any
    tenancy: Any
    evidence: Any

    @property
    def grids(self) -> Any: ...

    def resolve_class(self, code: str, kind: str | None = None) -> dict[str, Any]: ...

    def workflow_for(self, r: dict[str, Any]) -> Any: ...

    def find_component(self, connection: Connection, r: dict[str, Any]) -> dict[str, Any] | None: ...

    def attach(
        self,
        connection: Connection,
        case_id: int,
        event_id: int | None,
        uploads: Any,
        stored: list[Any],
        now: datetime,
    ) -> None: ...

    def subtree(self, connection: Connection, unit: str) -> frozenset[str]: ...

    def check_scope(
        self, connection: Connection, case: dict[str, Any], actor: Any, transition: Any, handling: list[Any]
    ) -> None: ...

    def case(self, case_id: int) -> dict[str, Any]: ...

    def recompute_deadlines(self, now: datetime) -> int: ...
