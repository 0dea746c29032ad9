"""What the stage packages read of a running deployment: the `Deployment` protocol.

Intake, transitions, the sweep and the scheduled bulletins are functions of a deployment: its
typed profile and catalogue, its places, time limits and evidence, its database, time source and
plugins. They name that through this protocol, never through the Engine that implements it
(core/engine.py, the composition root), so no stage package imports the facade and the packages
form no import cycle (tests/test_architecture.py).

Each service is typed where the import graph allows it. The time limits (sla) and the evidence
store (cases) live in packages that themselves read a deployment, so they are named `Any` here;
their classes are sla.limits.TimeLimits and cases.evidence.EvidenceStore.
"""

from collections.abc import Callable
from typing import Any, Protocol

import pluggy
from sqlalchemy import Engine as Database

from gridcase.core.city import CityProfile
from gridcase.core.context import Hooks, UnitMove
from gridcase.core.places.registry import Places
from gridcase.core.profile.catalogue import Catalogue
from gridcase.core.timesource import TimeSource


class Deployment(Protocol):
    profile: dict[str, Any]  # the profile as data, with the administrators' edits applied
    city: CityProfile  # its settings, typed
    catalogue: Catalogue  # classes, workflows, channels, roles, units, checklists
    places: Places  # grids, components, the unit tree, tenancy
    limits: Any  # sla.limits.TimeLimits: deadline rules, calendars, the clock service
    evidence: Any  # cases.evidence.EvidenceStore
    guards: dict[str, Callable[[dict[str, Any]], str | None]]
    moves: dict[str, UnitMove]  # the unit moves plugins registered, by name
    db: Database
    time: TimeSource
    pm: pluggy.PluginManager
    hooks: Hooks

    def case(self, case_id: int) -> dict[str, Any]: ...

    def load_reference_data(self) -> dict[str, int]: ...
