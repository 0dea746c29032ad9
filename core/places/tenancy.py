"""Multi-level tenancy (徐州's county platforms in the city's deployment).

The profile's `tenancy.unit_kinds` names the kinds of unit that run their own platform. Every
unit at or below such a unit belongs to it (its tenant), and the tenant's territory is the grids
assigned to it or to its units in the deployment's grid table (whether the grids came from the
profile or from `gridcase import grids`). The people of a tenant see, report and act only on
cases in its territory and dispatch only to its units, whatever their roles; the city's own
people are untouched.
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from gridcase.core.city import CityProfile
from gridcase.core.errors import GridcaseError

if TYPE_CHECKING:
    from gridcase.core.people.actor import Actor
    from gridcase.core.places.gridindex import GridIndex


class Tenancy:
    def __init__(self, city: CityProfile, parents: dict[str, str], grids: Callable[[], "GridIndex"]) -> None:
        roots = {u.code for u in city.units if u.kind in city.tenant_unit_kinds}
        self.tenants: dict[str, str] = {}
        for unit in (u.code for u in city.units):
            found: str | None = unit
            while found is not None and found not in roots:
                found = parents.get(found)
            if found is not None:
                self.tenants[unit] = found
        self.roots = roots
        self.grids = grids
        self._territories: tuple[Any, dict[str, list[str]]] = (None, {})

    @property
    def territories(self) -> dict[str, list[str]]:
        """Each tenant's grids, from the grid index the engine holds now (it is reloaded after an
        import)."""
        if not self.roots:
            return {}
        index = self.grids()
        if index is not self._territories[0]:
            found: dict[str, list[str]] = {root: [] for root in self.roots}
            for code, unit in index.units.items():
                if unit in self.tenants:
                    found[self.tenants[unit]].append(code)
            self._territories = (index, found)
        return self._territories[1]

    def of(self, actor: "Actor") -> str | None:
        """The tenant an actor works for (None: the city's own people)."""
        return self.tenants.get(actor.unit) if actor.unit else None

    def require(self, actor: "Actor", grids: Iterable[str], what: str) -> None:
        """Refuse (403) an actor of a tenant something located in `grids` (a case's or a report's
        chain of grids) outside its territory; the city's own people pass."""
        tenant = self.of(actor)
        if tenant and not set(grids) & set(self.territories[tenant]):
            raise GridcaseError("forbidden", f"{what} is outside the territory of {tenant}")
