"""What the case page and its print view show beyond the case itself: who took each step (name,
role and unit), the photos from before and after the handling, the callers' contacts as the
viewer may read them, and the reply a channel owes its callers."""

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gridcase.admin_ui.names import class_names, codes_in, state_names, transition_names, with_names
from gridcase.admin_ui.places import grid_labels
from gridcase.admin_ui.views import N_
from gridcase.core.db.connection import read
from gridcase.core.db.models import Person
from gridcase.core.profile.taxonomy import label_zh

PERSON = Person.__table__
# the engine's own events, which no workflow names
EVENT_NAMES = {
    "report": N_("上报"),
    "duplicate_report": N_("重复上报"),
    "recompute_deadlines": N_("重算时限"),
    "subtasks_created": N_("拆分子任务"),
    "subtask_closed": N_("子任务办结"),
    "subtask": N_("由主案件拆分"),
    "hotline_visit": N_("12345回访"),
    "hotline_extension": N_("12345延期答复"),
}
# the fields a workflow's step may ask for beyond units and category (workflow.yaml's requires)
FIELD_NAMES = {
    "amount": N_("金额"),
    "cost": N_("费用"),
    "payment": N_("付款"),
    "reply": N_("答复内容"),
    "satisfaction": N_("满意度"),
}
# the handling's stage: the photos of the step that stops its clock (the feedback, a takeover)
# and of every step after it show the result; the ones before, the problem. A photo its client
# marked before or after (the field app's feedback and 自行处置) is shown where it said.
HANDLING = "handle"


def case_context(engine, case: dict[str, Any]) -> dict[str, Any]:
    """The case page's context: the case, its labels, and the steps, photos and callers."""
    info = engine.catalogue.classes.get((case.get("kind"), case.get("class_code"))) or {"minor": {}}
    units = engine.profile.get("units", [])
    context = {
        "case": case,
        "standards": info["minor"].get("standards", []),
        "channel_names": {c["code"]: c.get("name") for c in engine.profile.get("channels", [])},
        "state_names": state_names(engine),
        "transition_names": {**EVENT_NAMES, **transition_names(engine)},
        "field_names": FIELD_NAMES,
        "class_names": class_names(engine),
        "units": units,
        "unit_names": {u["code"]: u.get("name") for u in units},
        "stage_names": {
            s["code"]: s.get("name") for s in engine.profile.get("workflow", {}).get("stages", [])
        },
        **_places(engine, case),
    }
    if "events" not in case:  # a citizen's view of someone else's report: its public fields only
        empty = {"steps": [], "photos": {"before": [], "after": []}, "callers": [], "replies": []}
        return {**context, **empty, "made_offline": []}
    steps = _steps(engine, case)
    return {
        **context,
        "steps": steps,
        "photos": _photos(engine, case, steps),
        "callers": [r for r in case.get("reports", []) if r.get("contact")],
        "replies": _replies(engine, case),
        "made_offline": _made_offline(case),
    }


def _made_offline(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The reports made on a handset offline whose device time is not their arrival's minute, as
    the page shows times (a handset's clock a few seconds off is not a report made elsewhen)."""
    return [
        r
        for r in case.get("reports", [])
        if r.get("made_at") and abs(r["received_at"] - r["made_at"]) >= timedelta(minutes=1)
    ]


def _places(engine, case: dict[str, Any]) -> dict[str, Any]:
    """The case's grid by its name, and its routing's reason with units and grids by their
    names: the engine keeps the reason with codes (the API's form); it is written in Chinese, so
    it names them in Chinese on either page."""
    reason = case.get("routing_explanation")
    grid = case.get("grid")
    with read(engine.db) as connection:
        grids = grid_labels(connection, codes_in(reason or "") | ({grid} if grid else set()))
    units = {u["code"]: label_zh(u.get("name")) for u in engine.profile.get("units", [])}
    return {
        "grid_name": grids.get(grid, grid) if grid else None,
        "routing_reason": with_names(reason, {**units, **grids}) if reason else None,
    }


def _steps(engine, case: dict[str, Any]) -> list[dict[str, Any]]:
    """Each event with who took it: the person's name and unit, and the roles they took it in
    (those of their roles the transition allows; all of them for the engine's own events)."""
    ids = {e["actor_id"] for e in case["events"] if e.get("actor_id") is not None}
    with read(engine.db) as connection:
        people = {
            row.id: row
            for row in connection.execute(
                select(PERSON.c.id, PERSON.c.name, PERSON.c.unit).where(PERSON.c.id.in_(ids))
            )
        }
    workflow = engine.catalogue.workflows.get(case.get("workflow"))
    roles = {r["code"]: r.get("name") for r in engine.profile.get("roles", [])}
    units = {u["code"]: u.get("name") for u in engine.profile.get("units", [])}
    steps = []
    for event in case["events"]:
        person = people.get(event.get("actor_id"))
        held = list(event.get("actor_roles") or [])
        transition = workflow.transitions.get(event["transition"]) if workflow else None
        acting = [r for r in held if transition is None or r in transition.roles] or held
        steps.append(
            {
                **event,
                "who": person.name if person else None,
                "roles": [roles.get(r) or r for r in acting],
                "unit": units.get(person.unit) if person and person.unit else None,
            }
        )
    return steps


def _photos(engine, case: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The case's photos as before (the report's, the verification's) and after (those of the
    step that ended the handling, the feedback, and of every step after it: the check's, a
    rework's), each with the step it came with; a photo marked before or after where marked."""
    workflow = engine.catalogue.workflows.get(case.get("workflow"))
    ended = {code for code, t in (workflow.transitions.items() if workflow else ()) if HANDLING in t.stops}
    handled = min((s["seq"] for s in steps if s["transition"] in ended), default=None)
    by_id = {s["id"]: s for s in steps}
    photos: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for item in case.get("evidence", []):
        step = by_id.get(item.get("event_id"))
        after = step is not None and handled is not None and step["seq"] >= handled
        phase = item.get("phase") or ("after" if after else "before")
        photos[phase].append({**item, "step": step})
    return photos


def _replies(engine, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The clocks the case's channel started for its callers (民生110's reply within 8 hours)."""
    channel = engine.catalogue.channels.get(case.get("channel")) or {}
    owed = set(channel.get("starts") or ())
    return [c for c in case.get("clocks", []) if c["stage"] in owed and not c.get("superseded")]
