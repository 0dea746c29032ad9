"""Which cases a person may see, from their roles' scopes (roles.yaml), denied by default:

- `all`: every case (the centre's roles);
- `unit_subtree`: cases that a unit in the person's unit subtree handles or answers for;
- `grids`: cases in the person's responsibility grids;
- `own`: the person's own reports; of other cases only the public fields.

The people of a tenant platform (徐州's county platforms, `tenancy`) see, within that, only the
cases in its territory.

Acting on a case is the workflow's and `Engine.check_scope`'s business; this module decides
what is read.
"""

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, and_, exists, false, or_, select, true

from gridcase.core.db.models import Case, CaseUnit, Report, ReportContact, Unit

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.people.actor import Actor

CASE, CASE_UNIT, REPORT, UNIT = (t.__table__ for t in (Case, CaseUnit, Report, Unit))
CONTACT = ReportContact.__table__
PUBLIC_FIELDS = (
    "id",
    "number",
    "state",
    "state_kind",
    "kind",
    "class_code",
    "major_code",
    "channel",
    "description",
    "address",
    "lon",
    "lat",
    "grid",
    "reported_at",
    "updated_at",
    "closed_at",
)


def scopes(engine: "Deployment", actor: "Actor") -> set[str]:
    found = (engine.roles.get(role, {}).get("scope") for role in actor.roles)
    return {scope for scope in found if scope is not None}


def case_filter(engine: "Deployment", actor: "Actor") -> ColumnElement:
    """A WHERE on the case table selecting the cases the actor sees in full."""
    tenant = engine.tenancy.of(actor)
    if tenant:  # a tenant platform's people see only its territory, whatever their roles
        territory = [CASE.c.grid_path.contains(f"/{grid}/") for grid in engine.tenancy.territories[tenant]]
        return and_(or_(*territory) if territory else false(), _by_roles(engine, actor))
    return _by_roles(engine, actor)


def _by_roles(engine: "Deployment", actor: "Actor") -> ColumnElement:
    granted = scopes(engine, actor)
    if "all" in granted:
        return true()
    terms: list[ColumnElement[bool]] = []
    if "unit_subtree" in granted and actor.unit:
        below = select(UNIT.c.code).where(
            UNIT.c.path.startswith(select(UNIT.c.path).where(UNIT.c.code == actor.unit).scalar_subquery())
        )
        terms.append(
            exists().where(CASE_UNIT.c.case_id == CASE.c.id, CASE_UNIT.c.active, CASE_UNIT.c.unit.in_(below))
        )
    if "grids" in granted and actor.grids:
        terms.append(or_(*[CASE.c.grid_path.contains(f"/{grid}/") for grid in sorted(actor.grids)]))
    if "own" in granted and actor.id is not None:
        terms.append(
            or_(
                CASE.c.reporter_id == actor.id,
                exists().where(REPORT.c.case_id == CASE.c.id, REPORT.c.reporter_id == actor.id),
            )
        )
    return or_(*terms) if terms else false()


def view_of(engine: "Deployment", connection: Connection, actor: "Actor", case_id: int) -> str | None:
    """ "full", "public" (a citizen looking at someone else's report) or None (not to be seen)."""
    seen = connection.execute(
        select(CASE.c.id).where(CASE.c.id == case_id, case_filter(engine, actor))
    ).first()
    if seen:
        return "full"
    return "public" if "own" in scopes(engine, actor) else None


def public(case: dict[str, Any]) -> dict[str, Any]:
    return {key: case[key] for key in PUBLIC_FIELDS if key in case}


def is_public(engine: "Deployment", actor: "Actor") -> bool:
    """Whether every role of the actor is the public's (citizens), none the city's staff's."""
    return all(engine.roles.get(role, {}).get("group") == "public" for role in actor.roles)


def contacts(
    engine: "Deployment", connection: Connection, actor: "Actor", reports: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The contact (email, names, phone) of each report of a case the actor sees in full, by
    report id, that the actor may read: staff read every one, a citizen only their own reports'."""
    ids = [r["id"] for r in reports if not is_public(engine, actor) or r["reporter_id"] == actor.id]
    if not ids:
        return {}
    rows = connection.execute(select(CONTACT).where(CONTACT.c.report_id.in_(ids))).mappings()
    return {row["report_id"]: {k: v for k, v in row.items() if k != "report_id"} for row in rows}
