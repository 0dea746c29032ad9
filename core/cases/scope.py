"""Which cases a person may see, from their roles' scopes (roles.yaml), denied by default:

- `all`: every case (the centre's roles);
- `unit_subtree`: cases that a unit in the person's unit subtree handles or answers for;
- `grids`: cases in the person's responsibility grids;
- `own`: the person's own reports; of other cases only the public fields.

The people of a tenant platform (徐州's county platforms, `tenancy`) see, within that, only the
cases in its territory.

What a person may read is decided here (`case_filter`), and what they may act on within their
roles' steps (`require`).
"""

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, and_, exists, false, not_, or_, select, true

from gridcase.core.db.models import Case, CaseUnit, Report, ReportContact
from gridcase.core.errors import GridcaseError

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.people.actor import Actor
    from gridcase.core.profile.workflow import Workflow

CASE, CASE_UNIT, REPORT = (t.__table__ for t in (Case, CaseUnit, Report))
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
    found = (engine.city.role(role).scope for role in actor.roles)
    return {scope for scope in found if scope is not None}


def case_filter(engine: "Deployment", actor: "Actor", few: bool = False) -> ColumnElement:
    """A WHERE on the case table selecting the cases the actor sees in full. `few` says the
    query's other conditions leave few cases (the open ones): see handled_by."""
    tenant = engine.places.tenancy.of(actor)
    if tenant:  # a tenant platform's people see only its territory, whatever their roles
        territory = [
            CASE.c.grid_path.contains(f"/{grid}/") for grid in engine.places.tenancy.territories[tenant]
        ]
        return and_(or_(*territory) if territory else false(), _by_roles(engine, actor, few))
    return _by_roles(engine, actor, few)


def handled_by(units: Collection[str], few: bool = False) -> ColumnElement:
    """Cases a unit of `units` answers for or handles now. A unit keeps its closed cases, so
    PostgreSQL finds a unit's cases by hashing every case it ever had (a department's 170,000
    of a city's million); among `few` cases, looking up each one's units is ten times faster,
    and OFFSET 0 keeps it a lookup per case."""
    units_of_case = select(CASE_UNIT.c.id).where(
        CASE_UNIT.c.case_id == CASE.c.id, CASE_UNIT.c.active, CASE_UNIT.c.unit.in_(sorted(units))
    )
    return exists(units_of_case.offset(0) if few else units_of_case)


def _by_roles(engine: "Deployment", actor: "Actor", few: bool) -> ColumnElement:
    granted = scopes(engine, actor)
    if "all" in granted:
        return true()
    terms: list[ColumnElement[bool]] = []
    if "unit_subtree" in granted and actor.unit:
        terms.append(handled_by(engine.places.subtree(actor.unit), few))
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


def public_view(engine: "Deployment", case: dict[str, Any]) -> dict[str, Any]:
    """A case's public fields as anyone may read them without logging in (the public site, Open311;
    docs/public-site.md): for a class the taxonomy marks `sensitive` nothing of where it is or of
    what was said of it (`sensitive` is True), and for a case that came in by a hotline (a channel
    of kind `hotline`) not the caller's words, which were taken down for the city, not the public."""
    out = public(case)
    info = engine.catalogue.classes.get((case["kind"], case["class_code"]))
    hidden = bool(info and info["minor"].get("sensitive"))
    if hidden:
        out.update(description=None, address=None, lon=None, lat=None, grid=None)
    channel = engine.catalogue.channels.get(case.get("channel") or "") or {}
    if channel.get("kind") == "hotline":
        out["description"] = None
    out["sensitive"] = hidden
    return out


def publicly_listed(engine: "Deployment") -> ColumnElement:
    """A WHERE on the case table selecting the cases public lists show: neither a case the city
    turned away (in a state `voided_states` names) nor one of a class with `published: false`."""
    voided = [
        and_(CASE.c.workflow == code, CASE.c.state.in_(sorted(states)))
        for code, workflow in engine.catalogue.workflows.items()
        if (states := voided_states(workflow))
    ]
    unpublished = [
        and_(CASE.c.kind == kind, CASE.c.class_code == code)
        for (kind, code), info in engine.catalogue.classes.items()
        if info["minor"].get("published") is False
    ]
    excluded = voided + unpublished
    return not_(or_(*excluded)) if excluded else true()


def voided_states(workflow: "Workflow") -> frozenset[str]:
    """The closed states a case reaches only by being turned away (不予受理, 不予立案, 作废): every
    transition into them stops all its clocks ('*'), as simulate/figures.py tells a bad ending."""
    closed = {code for code, state in workflow.states.items() if state.kind == "closed"}
    ended_well = {
        t.target for t in workflow.transitions.values() if t.target in closed and "*" not in t.stops
    }
    return frozenset(closed - ended_well)


def is_public(engine: "Deployment", actor: "Actor") -> bool:
    """Whether every role of the actor is the public's (citizens), none the city's staff's."""
    return all(engine.city.role(role).group == "public" for role in actor.roles)


def contacts(
    engine: "Deployment", connection: Connection, actor: "Actor", reports: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The contact (email, names, phone) of each report of a case the actor sees in full, by
    report id, that the actor may read: staff read every one, a citizen only their own reports'."""
    ids = [r["id"] for r in reports if not is_public(engine, actor) or r["reporter_id"] == actor.id]
    if not ids:
        return {}
    own = {r["id"] for r in reports if r["reporter_id"] == actor.id}
    full = reads_contacts(engine, actor)
    rows = connection.execute(select(CONTACT).where(CONTACT.c.report_id.in_(ids))).mappings()
    return {
        row["report_id"]: {
            k: v if full or row["report_id"] in own else mask(k, v)
            for k, v in row.items()
            if k != "report_id"
        }
        for row in rows
    }


def reads_contacts(engine: "Deployment", actor: "Actor") -> bool:
    """Whether one of the actor's roles reads a caller's contact as given (roles.yaml
    `contacts: full`); the other staff read it masked."""
    return any(engine.city.role(role).contacts == "full" for role in actor.roles)


def mask(field: str, value: str | None) -> str | None:
    """A contact's field with enough left to tell two callers apart and not enough to reach
    them: 张*, 138****5678, z***@example.com."""
    if not value:
        return value
    if field == "phone":
        keep = 4 if len(value) >= 7 else 2
        head = 3 if len(value) >= 11 else 0
        return value[:head] + "*" * (len(value) - head - keep) + value[-keep:]
    if field == "email":
        name, at, domain = value.partition("@")
        return name[:1] + "***" + at + domain
    return value[:1] + "*" * max(len(value) - 1, 1)


def require(
    deployment: "Deployment",
    connection: Connection,
    case: dict,
    actor: "Actor",
    transition: Any,
    handling: list,
) -> None:
    """Unit- and grid-scoped roles act only on their own cases (the rest is the API's job),
    and a tenant platform's people only on cases in its territory."""
    grids = (case.get("grid_path") or "").strip("/").split("/")
    deployment.places.tenancy.require(actor, grids, f"case {case['number']}")
    allowed = {deployment.city.role(r).scope for r in actor.roles & transition.roles}
    if allowed & {"all", None}:
        return
    if "unit_subtree" in allowed:
        if actor.unit and {h["unit"] for h in handling} & deployment.places.subtree(actor.unit, connection):
            return
        raise GridcaseError(
            "forbidden", f"case {case['number']} is not dispatched to {actor.unit} or below it"
        )
    if "grids" in allowed:
        path = case.get("grid_path") or ""
        if actor.grids is None or any(f"/{g}/" in path for g in actor.grids):
            return
        raise GridcaseError("forbidden", f"case {case['number']} is outside your responsibility grids")
    # `own` acts on what it reads in full (_by_roles): a case one of the person's reports was
    # merged into is theirs too, not only the case their report opened
    if "own" in allowed and actor.id is not None:
        mine = select(REPORT.c.id).where(REPORT.c.case_id == case["id"], REPORT.c.reporter_id == actor.id)
        if case.get("reporter_id") == actor.id or connection.execute(mine.limit(1)).first():
            return
    raise GridcaseError("forbidden", "this case is outside your scope")
