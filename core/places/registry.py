"""The deployment's places as services: the grid index, the components, the unit tree, tenancy.

Each is read from the database (where imports and `gridcase db upgrade` put them) and kept in
memory, and taken up again when the database says they changed: the grids by their version
counter, the unit tree when reference data is reconciled.
"""

from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine as Database

from gridcase.core.city import CityProfile
from gridcase.core.errors import GridcaseError
from gridcase.core.places import components as component_registry
from gridcase.core.places import grids as grid_registry
from gridcase.core.places.gridindex import GridIndex
from gridcase.core.places.reconcile import reconcile
from gridcase.core.places.tenancy import Tenancy
from gridcase.core.places.units import subtree


class Places:
    def __init__(
        self, profile: dict[str, Any], city: CityProfile, db: Database, unit_parents: dict[str, str]
    ) -> None:
        self.profile = profile  # the units, grids and components it carries are reconciled
        self.db = db
        self.levels = list(city.grid_levels)
        self.component_radius_m = city.intake.component_radius_m
        self.components = component_registry.ComponentIndex(db)
        self.tenancy = Tenancy(city, unit_parents, lambda: self.grids)
        self._subtrees: dict[str, frozenset[str]] = {}
        self._grids_version: int | None = None

    @cached_property
    def grids(self) -> GridIndex:
        return grid_registry.load_index(self.db, self.levels)

    def reload_grids(self) -> None:
        self.__dict__.pop("grids", None)

    def refresh_grids(self) -> None:
        """Take up grids imported or reconciled since they were loaded (the server does before
        each sweep), when the grids' version moved: reading it is one small query."""
        seen = grid_registry.version(self.db)
        if seen != self._grids_version:
            self.reload_grids()
            self._grids_version = seen

    def load_reference_data(self, now: datetime) -> dict[str, int]:
        """Units and grids made to match the profile's in place (see reconcile.py), and its
        components when it carries them."""
        planned = reconcile(self.db, self.profile, now)
        counts = {"units": planned.units}
        self._subtrees.clear()
        if planned.grids:
            counts["grids"] = planned.grids
        self.reload_grids()
        components = self.profile.get("components")
        if components:  # a few named ones (bulk data is imported): those already stored are kept
            rows = ((n, component_registry.profile_row(c)) for n, c in enumerate(components, 1))
            # the profile's author chose these codes (a city's local structure): lenient
            imported = component_registry.import_rows(self.db, rows, self.profile, lenient=True)
            counts["components"] = imported.imported
            self.components.forget()
        return counts

    def subtree(self, unit: str, connection: Connection | None = None) -> frozenset[str]:
        """The unit and every unit below it. The tree is the profile's, synced at start-up, so it
        is read once per unit (in the caller's transaction when it gives its `connection`):
        every department transition and queue asks."""
        found = self._subtrees.get(unit)
        if found is None:
            if connection is None:
                with self.db.connect() as own:
                    found = frozenset(subtree(own, unit))
            else:
                found = frozenset(subtree(connection, unit))
            self._subtrees[unit] = found
        return found

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
        if r["info"]["kind"] != "component" or not self.component_radius_m:
            return None
        return self.components.nearest(r["category"], r["lon"], r["lat"], self.component_radius_m)
