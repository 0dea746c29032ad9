"""Firing a workflow transition on a case.

Order: the transition must exist and leave the current state; the actor needs a role and, for
a unit-scoped role, the case must be in the unit's subtree; the payload, reason and evidence
must be complete and the named fields valid; guards and plugins may refuse. Then one UPDATE
guarded by the case's version (a stale or concurrent transition conflicts instead of
overwriting), one appended CaseEvent, and the clock, unit and evidence changes, all in one
transaction.

Fields with a meaning to the engine (docs/workflow.md): `units` (dispatch or re-dispatch to
these units), `category` with `kind` and `standard` (classify, re-route; a class with
立结案标准 rows needs the row), `amount` (an extension), `satisfaction` (a callback's
answer). Other fields are kept in the event's payload.
"""

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from gridcase.core.cases import scope
from gridcase.core.cases.events import append, event_row, record_action
from gridcase.core.cases.evidence import Upload
from gridcase.core.cases.subtasks import add_subtasks
from gridcase.core.context import (
    ActorView,
    HandlingUnit,
    HookContext,
    MoveRequest,
    RoutingRequest,
    TransitionView,
    case_view,
)
from gridcase.core.db.connection import write
from gridcase.core.db.models import Case, CaseEvent, CaseUnit
from gridcase.core.db.models import Clock as ClockRow
from gridcase.core.durations import Duration
from gridcase.core.errors import GridcaseError
from gridcase.core.places.units import add_case_units, release_case_units
from gridcase.core.profile.taxonomy import label_zh
from gridcase.core.profile.workflow import TransitionError

if TYPE_CHECKING:
    from gridcase.core.cases.idempotency import Claim
    from gridcase.core.deployment import Deployment
    from gridcase.core.people.actor import Actor

CASE, CASE_UNIT, CASE_EVENT, CLOCK = (t.__table__ for t in (Case, CaseUnit, CaseEvent, ClockRow))
# built once: building and keying a statement costs more than running it on SQLite
SELECT_CASE = select(CASE).where(CASE.c.id == bindparam("case"))
ACTIVE_UNITS = select(CASE_UNIT).where(
    CASE_UNIT.c.case_id == bindparam("case"), CASE_UNIT.c.role == bindparam("role"), CASE_UNIT.c.active
)
MAIN_RESPONSIBLE = (
    select(CASE_UNIT.c.unit)
    .where(CASE_UNIT.c.case_id == bindparam("case"), CASE_UNIT.c.role == "responsible", CASE_UNIT.c.active)
    .order_by(CASE_UNIT.c.share.desc(), CASE_UNIT.c.id)
    .limit(1)
)
RUNNING_CLOCKS = select(CLOCK.c.stage, CLOCK.c.deadline, CLOCK.c.status).where(
    CLOCK.c.case_id == bindparam("case"), CLOCK.c.status == "running"
)
SUBTASKS = select(CASE.c.id, CASE.c.number, CASE.c.state, CASE.c.state_kind).where(
    CASE.c.parent_id == bindparam("case")
)
CASE_EVENTS = (
    select(CASE_EVENT.c.transition, CASE_EVENT.c.at, CASE_EVENT.c.unit, CASE_EVENT.c.actor_id)
    .where(CASE_EVENT.c.case_id == bindparam("case"))
    .order_by(CASE_EVENT.c.id)
)
FIRED_BY = (
    select(CASE_EVENT.c.transition)
    .where(
        CASE_EVENT.c.case_id == bindparam("case"),
        CASE_EVENT.c.actor_id == bindparam("actor"),
        CASE_EVENT.c.transition.in_(bindparam("codes", expanding=True)),
    )
    .limit(1)
)


def fire(
    engine: "Deployment",
    case_id: int,
    code: str,
    actor: "Actor",
    payload: dict[str, Any] | None = None,
    reason: str | None = None,
    uploads: Sequence[Upload] = (),
    expected_version: int | None = None,
    brief: bool = False,
    claim: "Claim | None" = None,
    made_at: datetime | None = None,
) -> dict[str, Any]:
    payload = dict(payload or {})
    stored = [engine.evidence.check(u) for u in uploads]
    now = engine.time.now()
    if made_at is not None:  # made on a handset offline (the field app), sent now
        engine.limits.offline.check(made_at, now)
    with write(engine.db) as connection:
        case = connection.execute(SELECT_CASE, {"case": case_id}).mappings().first()
        if case is None:
            raise GridcaseError("not_found", f"no case {case_id}")
        if expected_version is not None and expected_version != case["version"]:
            raise TransitionError(
                "conflict",
                f"case {case['number']} has changed (version {case['version']}, "
                f"you had {expected_version}); reload it",
                {"version": case["version"]},
            )
        workflow = engine.catalogue.workflows[case["workflow"]]
        transition = workflow.get(code)
        workflow.check(transition, case["state"], actor.roles)
        _check_separation(connection, workflow, case, code, actor)
        handling = _active_units(connection, case_id, "handling")
        scope.require(engine, connection, dict(case), actor, transition, handling)
        missing = transition.missing(payload, reason, [u.kind for u in uploads])
        if missing:
            raise TransitionError("missing_requirements", "; ".join(missing), {"missing": missing})
        moves = [engine.moves[name] for name in transition.moves]
        run = _mover(engine, connection, case, code, handling, payload, reason, actor, now) if moves else None
        changes = _field_changes(engine, connection, case, transition, actor, payload, handling, moves, run)
        context = {
            "case": dict(case),
            "transition": {"code": code},
            "actor": actor.as_dict(),
            "payload": payload,
            "profile": engine.profile,
            "city": engine.city,
            "now": now,
            "clocks": lambda: _rows(connection, RUNNING_CLOCKS, case_id),
            "subtasks": lambda: _rows(connection, SUBTASKS, case_id),
            "events": lambda: _rows(connection, CASE_EVENTS, case_id),
        }
        for name in transition.guards:
            refusal = engine.guards[name](context)
            if refusal:
                raise TransitionError("guard_refused", refusal, {"guard": name})
        if engine.hooks.listened("before_transition"):
            _ask_plugins(engine, connection, case, transition, workflow, actor, payload, reason, now)
        target = workflow.target_of(transition, case["state"])
        values = {
            "state": target,
            "state_kind": workflow.kind_of(target),
            "version": case["version"] + 1,
            "updated_at": now,
            **{k: v for k, v in transition.sets if k in ("verified", "urgent")},
            **changes["case"],
        }
        if workflow.kind_of(target) == "closed" and case["state_kind"] == "open":
            values["closed_at"] = now
        elif workflow.kind_of(target) == "open" and case["state_kind"] == "closed":  # reopened
            values["closed_at"] = None
        done = connection.execute(
            _update_case(tuple(sorted(values))), {**values, "case_": case_id, "version_": case["version"]}
        )
        if done.rowcount != 1:
            raise TransitionError("conflict", f"case {case['number']} was changed by someone else; reload it")
        _apply_units(connection, case_id, changes, handling, now)
        responsible = _responsible_unit(connection, case_id, changes)
        stop_at = engine.limits.offline.stop_moment(made_at, now, case["updated_at"])
        deadlines = _move_clocks(
            engine, connection, {**case, **values}, transition, payload, changes, handling, now,
            actor, responsible, stop_at,
        )  # fmt: skip
        event = event_row(
            case_id, case["version"] + 1, code, case["state"], target, actor, now, payload, reason, deadlines,
            unit=_top(handling) or responsible,
        )  # fmt: skip
        if made_at is not None:  # both times, and which one the clocks stopped at
            moments = {"made_at": made_at, "arrived_at": now, "clock_stopped_at": stop_at}
            offline = {name: moment.astimezone(UTC).isoformat() for name, moment in moments.items()}
            event["effects"] = {**(event["effects"] or {}), "offline": offline}
        event_id = append(connection, event)
        engine.evidence.attach(connection, case_id, event_id, uploads, stored, now)
        if claim is not None:  # the key is taken exactly when the transition commits
            claim.take(connection, case_id, now)
        for move in moves:
            if move.subtasks is not None and run is not None:  # one order, a sub-task per unit
                units = run(move.subtasks)
                row = {**case, **values}
                add_subtasks(engine, connection, row, units, actor, reason or "", now, move.name, move.label)
                values["version"] += 1  # the parent's subtasks_created event
        parent = case["parent_id"]
        if parent is not None and values["state_kind"] == "closed" and case["state_kind"] == "open":
            parent_event = record_action(
                connection,
                parent,
                "subtask_closed",
                actor,
                {"subtask": case_id, "number": case["number"], "state": target},
                now,
            )
        else:
            parent_event = None
        engine.hooks.during_transition(connection, event, label_zh(transition.name))
    engine.hooks.after_transition(event, label_zh(transition.name))
    if parent_event:
        engine.hooks.after_transition(parent_event, parent_event["transition"])
    if brief:  # callers driving many cases (the simulator) need only where the case went
        return {
            "id": case_id,
            "state": target,
            "state_kind": values["state_kind"],
            "version": values["version"],
        }
    return engine.case(case_id)


@functools.cache
def _update_case(columns: tuple[str, ...]):
    """The case's UPDATE for one set of columns, guarded by its version; built once per set."""
    return (
        update(CASE)
        .where(CASE.c.id == bindparam("case_"), CASE.c.version == bindparam("version_"))
        .values({name: bindparam(name) for name in columns})
    )


def _rows(connection: Connection, query, case_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in connection.execute(query, {"case": case_id}).mappings()]


def _check_separation(connection, workflow, case, code: str, actor: "Actor") -> None:
    """监管分离: whoever acted on one side of a case may not act on the other side of it."""
    apart = workflow.kept_apart(code)
    if not apart or actor.id is None:
        return
    fired = connection.execute(
        FIRED_BY, {"case": case["id"], "actor": actor.id, "codes": sorted(apart)}
    ).scalar()
    if fired is not None:
        raise TransitionError(
            "forbidden",
            f"duties are kept apart on this case (监管分离): you fired {fired!r} on case {case['number']}, "
            f"so someone else must fire {code!r}",
            {"fired": fired},
        )


def _move_clocks(
    engine, connection, case, transition, payload, changes, handling, now, actor, responsible, stop_at
) -> list[dict[str, Any]]:
    """Stop, pause, resume, start and extend the transition's clocks; the deadline changes made.
    Stopped clocks stop at `stop_at`: now, or a step's device time when the profile says so."""
    clocks, case_id = engine.limits.clocks, case["id"]
    # the clock counts on the calendar of the unit now handling the case (a 24h team, say), and
    # against the unit at the top of the handling chain (the one dispatched to) in assessment
    if changes["handling"] is not None:
        unit = changes["handling"][0] if changes["handling"] else None
        owner = _top(handling) if changes["depth"] > 1 else unit
    else:
        unit = max(handling, key=lambda h: h["depth"])["unit"] if handling else None
        owner = _top(handling)
    # the common shape (named stages stopped and started, nothing paused) takes one statement
    simple = not (transition.pauses or transition.resumes or "*" in transition.stops + transition.starts)
    if simple and transition.starts:
        clocks.stop_and_supersede(
            connection,
            case_id,
            list(transition.stops),
            list(transition.starts),
            stop_at,
            transition.code,
            actor.id,
        )
        effects = []
    else:
        effects = clocks.stop(
            connection, case_id, transition.stops, stop_at, by=transition.code, actor_id=actor.id
        )
        effects += clocks.pause(connection, case_id, transition.pauses, now)
        effects += clocks.resume(connection, case_id, transition.resumes, now)
    effects += clocks.start(
        connection, case_id, transition.starts, now, case, handling_unit=unit,
        owner=owner or responsible, by=transition.code, actor_id=actor.id, ended=simple,
    )  # fmt: skip
    if transition.extends and payload.get("amount"):
        effects += clocks.extend(connection, case_id, transition.extends, Duration.parse(payload["amount"]))
    return effects


def _top(handling: list[dict[str, Any]]) -> str | None:
    """The unit the case was dispatched to, above any it passed the case down to."""
    return min(handling, key=lambda h: (h["depth"], h["id"]))["unit"] if handling else None


def _responsible_unit(connection: Connection, case_id: int, changes: dict[str, Any]) -> str | None:
    """The responsible unit with the largest share (after this transition's re-routing)."""
    if changes["responsible"]:
        return max(changes["responsible"]["units"], key=lambda u: u.get("share", 1.0))["unit"]
    return connection.execute(MAIN_RESPONSIBLE, {"case": case_id}).scalar()


def _active_units(connection: Connection, case_id: int, role: str) -> list[dict[str, Any]]:
    return [dict(r) for r in connection.execute(ACTIVE_UNITS, {"case": case_id, "role": role}).mappings()]


def _mover(engine, connection, case, code, handling, payload, reason, actor, now) -> Callable:
    """A runner of unit moves' functions, with the deployment's context and the transition as
    the moves see it. A move's refusal (a GridcaseError) is the transition's."""
    ctx = engine.hooks.context(connection, now)
    request = MoveRequest(
        case=case_view(connection, case["id"], now),
        transition=code,
        handling=tuple(HandlingUnit(h["unit"], h["depth"]) for h in handling),
        payload=payload,
        reason=reason,
        actor=ActorView(actor.id, tuple(sorted(actor.roles)), actor.unit),
    )

    def run(function: Callable[[HookContext, MoveRequest], Sequence[str]]) -> list[str]:
        try:
            return list(function(ctx, request))
        except TransitionError:
            raise
        except GridcaseError as exc:
            raise TransitionError(exc.code, exc.message, exc.details) from None

    return run


def _field_changes(
    engine, connection, case, transition, actor, payload, handling, moves, run
) -> dict[str, Any]:
    """Validate the fields the engine gives meaning to, and say what they change."""
    changes: dict[str, Any] = {"case": {}, "handling": None, "depth": 1, "responsible": None}
    if "units" in payload and not any(m.takes_units for m in moves):
        units = payload["units"]
        if isinstance(units, str):
            units = [units]
        if not (isinstance(units, list) and units and all(isinstance(u, str) for u in units)):
            raise TransitionError("invalid_field", "units must be a list of unit codes", {"field": "units"})
        unknown = [u for u in units if u not in engine.catalogue.unit_codes]
        if unknown:
            raise TransitionError("invalid_field", f"unknown units: {', '.join(unknown)}", {"field": "units"})
        tenant = engine.places.tenancy.of(actor)
        foreign = [u for u in units if tenant and engine.places.tenancy.tenants.get(u) != tenant]
        if foreign:
            raise TransitionError(
                "invalid_field", f"{', '.join(foreign)} is not on the {tenant} platform", {"field": "units"}
            )
        actor_units = [
            h for h in handling if actor.unit and h["unit"] in engine.places.subtree(actor.unit, connection)
        ]
        if actor_units:  # a handling unit passes the case down its own hierarchy (二级 → 三级 → 四级)
            mine = engine.places.subtree(actor.unit, connection) - {actor.unit}
            outside = [u for u in units if u not in mine]
            if outside:
                raise TransitionError(
                    "invalid_field",
                    f"{', '.join(outside)} is not below {actor.unit}; "
                    "return the case to the dispatcher instead",
                    {"field": "units"},
                )
            changes["depth"] = max(h["depth"] for h in actor_units) + 1
        changes["handling"] = units
    if dict(transition.sets).get("release_units"):
        changes["handling"] = []
    for move in moves:
        if move.handling is not None:  # dispatched afresh to the units the move chose
            units = run(move.handling)
            unknown = [u for u in units if u not in engine.catalogue.unit_codes]
            if not units or unknown:
                raise TransitionError(
                    "invalid_field", f"the {move.name} move chose no known unit ({', '.join(unknown)})"
                )
            changes["handling"] = units
    category = payload.get("category")
    info = None
    if category is not None:
        try:
            info = engine.catalogue.resolve_class(category, payload.get("kind") or None)
        except GridcaseError as exc:
            raise TransitionError("invalid_field", exc.message, {"field": "category"}) from None
        changes["case"].update(class_code=category, major_code=info["major"]["code"], kind=info["kind"])
        if (info["kind"], category) != (case["kind"], case["class_code"]):
            grids = engine.places.grids.chain(case["grid"]) if case["grid"] else []
            request = RoutingRequest(
                class_code=category,
                kind=info["kind"],
                grid=case["grid"],
                grids=tuple(grids),
                grid_units=engine.places.grids.units_of(grids),
                component=None,
            )
            routing = engine.hooks.call("route_case", connection, request=request)
            if routing:
                changes["responsible"] = routing
                changes["case"].update(
                    routing_rule=routing["rule"], routing_explanation=routing["explanation"]
                )
    standard = payload.get("standard")
    minor = (info or engine.catalogue.classes[(case["kind"], case["class_code"])])["minor"]
    rows = {row["code"] for row in minor.get("standards", [])}
    if category is not None and rows and standard is None:
        # filing picks the 立结案标准 row that decides the time limit and the closing condition
        raise TransitionError(
            "missing_requirements",
            f"choose the filing condition (standard) of {category}: {', '.join(sorted(rows))}",
            {"missing": ["standard"], "choices": sorted(rows)},
        )
    if standard is not None:
        if rows and standard not in rows:
            raise TransitionError(
                "invalid_field",
                f"{standard!r} is not a filing condition of {category or case['class_code']} "
                f"({', '.join(sorted(rows))})",
                {"field": "standard"},
            )
        changes["case"]["standard"] = standard
    if "amount" in payload:
        amount = Duration.parse(payload["amount"])
        if amount is None or amount.unit not in engine.city.time_units or amount.value <= 0:
            raise TransitionError(
                "invalid_field", "amount is a positive duration such as '2 work_day'", {"field": "amount"}
            )
    return changes


def _ask_plugins(engine, connection, case, transition, workflow, actor, payload, reason, now) -> None:
    """before_transition: every plugin may veto, with a reason."""
    ctx = engine.hooks.context(connection, now)
    proposed = TransitionView(
        code=transition.code, name=label_zh(transition.name), from_state=case["state"],
        to_state=workflow.target_of(transition, case["state"]), actor_id=actor.id,
        actor_roles=tuple(sorted(actor.roles)), at=now, payload=payload, reason=reason,
    )  # fmt: skip
    vetoes = [
        v
        for v in engine.pm.hook.before_transition(
            ctx=ctx,
            case=case_view(connection, case["id"], now),
            transition=proposed,
            actor=ActorView(actor.id, tuple(sorted(actor.roles)), actor.unit),
        )
        if v
    ]
    if vetoes:
        raise TransitionError("vetoed", "; ".join(vetoes), {"reasons": vetoes})


def _apply_units(connection: Connection, case_id: int, changes: dict[str, Any], handling: list, now) -> None:
    handlers = changes["handling"]
    if handlers is not None:
        if handling and changes["depth"] <= 1:  # afresh (a deeper level keeps the levels above it)
            release_case_units(connection, case_id, "handling")
        if handlers:
            units = [{"unit": u, "share": 1.0 / len(handlers)} for u in handlers]
            add_case_units(connection, case_id, "handling", units, now, depth=changes["depth"])
    if changes["responsible"]:
        release_case_units(connection, case_id, "responsible")
        add_case_units(connection, case_id, "responsible", changes["responsible"]["units"], now)
