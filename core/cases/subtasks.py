"""Sub-tasks: one parent case, one sub-task per unit, results fed back (the machinery of 禅城's
joint orders, 联合执法, which the built-in joint_order move asks for).

Each sub-task is dispatched to its unit at once and numbered `<parent>-1`, `<parent>-2` …;
when one closes, the parent gets a `subtask_closed` event (core/transitions.py).
"""

from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from gridcase.core.cases.events import append, event_row, record_action
from gridcase.core.db.connection import write
from gridcase.core.db.models import Case
from gridcase.core.errors import GridcaseError
from gridcase.core.places.units import add_case_units

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.people.actor import Actor

CASE = Case.__table__
INHERITED = (
    "workflow", "kind", "class_code", "major_code", "standard", "urgent", "channel", "address", "lon", "lat",
    "grid", "grid_path", "area_class", "component", "reporter_id", "verified",
)  # fmt: skip


def create_subtasks(
    engine: "Deployment", parent_id: int, units: list[str], actor: "Actor", note: str = ""
) -> list[int]:
    with write(engine.db) as connection:
        parent = connection.execute(select(CASE).where(CASE.c.id == parent_id)).mappings().first()
        if parent is None or parent["state_kind"] != "open":
            raise GridcaseError("not_found", f"no open case {parent_id}")
        return add_subtasks(engine, connection, parent, units, actor, note, engine.time.now())


def add_subtasks(
    engine: "Deployment",
    connection,
    parent,
    units: list[str],
    actor: "Actor",
    note: str,
    now,
    rule: str = "subtasks",
    label: str = "",
) -> list[int]:
    """One sub-task per unit under `parent` (its row), inside the caller's transaction. `rule`
    and `label` name what asked for them (a unit move: joint_order, 联合执法) in each sub-task's
    routing."""
    unknown = [u for u in units if u not in engine.catalogue.unit_codes]
    if not units or unknown:
        raise GridcaseError("invalid_field", f"sub-tasks need known units (unknown: {', '.join(unknown)})")
    parent_id = parent["id"]
    workflow = engine.catalogue.workflows[parent["workflow"]]
    dispatch = workflow.transitions.get("dispatch")
    state = dispatch.target if dispatch and dispatch.target else workflow.initial
    # a second order under the same parent numbers on from the first's sub-tasks
    before = connection.execute(select(func.count()).where(CASE.c.parent_id == parent_id)).scalar_one()
    children = []
    for n, unit in enumerate(units, start=before + 1):
        child = connection.execute(
            insert(CASE).values(
                **{k: parent[k] for k in INHERITED},
                number=f"{parent['number']}-{n}",
                state=state,
                state_kind=workflow.kind_of(state),
                version=1,
                description=note or parent["description"],
                report_count=0,
                parent_id=parent_id,
                routing_rule=rule,
                routing_explanation=f"{label}子任务：{unit}",
                reported_at=now,
                updated_at=now,
            )  # fmt: skip
        ).inserted_primary_key[0]
        for role in ("responsible", "handling"):
            add_case_units(connection, child, role, [{"unit": unit}], now, depth=1)
        starts = dispatch.starts if dispatch else ()
        deadlines = engine.limits.clocks.start(
            connection, child, starts, now, dict(parent), handling_unit=unit, fresh=True, owner=unit
        )
        payload = {"parent": parent_id, "unit": unit}
        append(
            connection,
            event_row(child, 1, "subtask", None, state, actor, now, payload, deadlines=deadlines, unit=unit),
        )
        children.append(child)
    record_action(
        connection, parent_id, "subtasks_created", actor, {"subtasks": children, "units": units}, now
    )
    return children
