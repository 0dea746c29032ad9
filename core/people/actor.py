"""Who acts on a case: a person (or the system) with roles, a unit and responsibility grids."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who acts: a person's id, roles and unit (grids for grid-scoped roles)."""

    id: int | None
    roles: frozenset[str]
    unit: str | None = None
    grids: frozenset[str] | None = None
    username: str = ""

    @classmethod
    def of(cls, *roles: str, id: int | None = None, unit: str | None = None, grids=None) -> "Actor":
        return cls(
            id=id, roles=frozenset(roles), unit=unit, grids=frozenset(grids) if grids is not None else None
        )

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "roles": sorted(self.roles), "unit": self.unit}


SYSTEM = Actor.of("system")
