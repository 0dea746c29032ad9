"""The taxonomy editor: the 部件/事件 tree, a minor class's form with inline validation, the
change history with reverts, and the merged profile's taxonomy as YAML."""

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.names import duration_code, time_unit_names
from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import ADMIN, problems_of, text_form_of, ui
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.profile import taxonomy_changes
from gridcase.core.profile.taxonomy import KINDS, active_edition

STANDARD_FIELDS = ("code", "condition", "time_limit", "close_condition")
MAX_STANDARD_ROWS = 100


def _tree(profile: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    edition = active_edition(profile)
    return [(kind, edition.get(kind, [])) for kind in KINDS]


def _minor(engine, kind: str, code: str) -> dict[str, Any]:
    minor = taxonomy_changes.find_minor(engine.profile["taxonomy"], kind, code)
    if minor is None:
        raise GridcaseError("not_found", f"没有分类 {kind}:{code}")
    return minor


def _history(engine, kind: str | None = None, code: str | None = None) -> list[dict[str, Any]]:
    rows = taxonomy_changes.load(engine.db)
    if kind:
        rows = [r for r in rows if (r["kind"], r["code"]) == (kind, code)]
    return list(reversed(rows))


@ui(ADMIN)
async def tree(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    await run_in_threadpool(engine.catalogue.refresh_taxonomy)
    history = await run_in_threadpool(_history, engine)
    return page(request, "taxonomy.html", {"tree": _tree(engine.profile), "history": history[:20]})


@ui(ADMIN)
async def edit(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    return await _editor(request, engine, request.path_params["kind"], request.path_params["code"])


async def _editor(
    request: Request, engine, kind: str, code: str, status: int = 200, **extra: Any
) -> Response:
    """The class's form with its history; `extra` carries what a save said (problems, saved…)."""
    context = {
        "kind": kind,
        "minor": extra.pop("minor", None) or _minor(engine, kind, code),
        "history": await run_in_threadpool(_history, engine, kind, code),
        "problems": [],
        "units": engine.profile.get("units", []),
        **extra,
    }
    return page(request, "taxonomy_class.html", context, block="editor", status=status)


def _record(
    engine, actor: Actor, kind: str, code: str, fields: dict, reason: str, reverts: int | None = None
):
    by = actor.username or str(actor.id)
    guards = set(engine.guards)
    now = engine.time.now()
    taxonomy_changes.record(engine.db, engine.profile, guards, kind, code, fields, reason, by, now, reverts)
    engine.catalogue.refresh_taxonomy()


def _fields(form: dict[str, Any], minor: dict[str, Any], units: dict[str, Any]) -> dict[str, Any]:
    """The class's fields from the form, typed as the profile writes them: a handling limit typed
    with its unit's name ('2 紧急工作时') by its unit's code."""
    name = {"zh": form.get("name_zh", "").strip(), "en": form.get("name_en", "").strip()}
    fields: dict[str, Any] = {
        "name": {k: v for k, v in name.items() if v}
        if name["en"] or isinstance(minor.get("name"), dict)
        else name["zh"],
        "enabled": form.get("enabled") == "on",
        "unit": form.get("unit") or None,
        "aliases": [a.strip() for a in form.get("aliases", "").replace("，", ",").split(",") if a.strip()]
        or None,
    }
    if minor.get("enabled") is None and fields["enabled"]:
        fields["enabled"] = None  # enabled is the default: leave the profile as it was written
    raw = form.get("multiplier", "").strip()
    if raw:
        try:
            fields["multiplier"] = float(raw) if "." in raw else int(raw)
        except ValueError:
            fields["multiplier"] = raw  # the schema says what is wrong with it
    else:
        fields["multiplier"] = None
    rows = []
    shown = form.get("standard_rows", "0")
    rows_shown = min(int(shown), MAX_STANDARD_ROWS) if shown.isdigit() else 0  # a forged count is no 500
    for i in range(rows_shown + 1):
        row = {key: form.get(f"standards-{i}-{key}", "").strip() for key in STANDARD_FIELDS}
        if not any(row.values()):
            continue
        if row["time_limit"]:
            row["time_limit"] = duration_code(row["time_limit"], units)
        written: list[dict[str, Any]] = minor.get("standards", [])
        old = next((r for r in written if r.get("code") == row["code"]), {})
        rows.append({**old, **{k: v for k, v in row.items() if v}})
    fields["standards"] = rows or None
    return fields


@ui(ADMIN)
async def save(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    kind, code = request.path_params["kind"], request.path_params["code"]
    form = dict((await text_form_of(request, max_fields=400)).items())
    minor = _minor(engine, kind, code)
    fields = _fields(form, minor, time_unit_names(engine))
    try:
        await run_in_threadpool(_record, engine, actor, kind, code, fields, form.get("reason", ""))
    except GridcaseError as exc:
        if exc.code not in ("invalid_class", "invalid_request"):
            raise
        problems = problems_of(request, exc)
        shown = {**minor, **{k: v for k, v in fields.items() if v is not None}}  # what they typed
        return await _editor(
            request, engine, kind, code, 422, minor=shown, problems=problems, reason=form.get("reason", "")
        )
    return await _editor(request, engine, kind, code, saved=True)


@ui(ADMIN)
async def new_class(request: Request, actor: Actor) -> Response:
    """A new minor class under a major one; the editor opens on it to fill in the rest."""
    engine = request.app.state.engine
    kind, major = request.path_params["kind"], request.path_params["major"]
    form = dict((await text_form_of(request, max_fields=10)).items())
    code, name = form.get("code", "").strip(), form.get("name_zh", "").strip()

    def run() -> None:
        by = actor.username or str(actor.id)
        taxonomy_changes.create(
            engine.db, engine.profile, set(engine.guards), kind, major, code, {"name": name},
            form.get("reason", ""), by, engine.time.now(),
        )  # fmt: skip
        engine.catalogue.refresh_taxonomy()

    await run_in_threadpool(run)
    return Response(status_code=204, headers={"HX-Redirect": f"/ui/taxonomy/{kind}/{code}"})


@ui(ADMIN)
async def revert(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    change_id = request.path_params["change_id"]
    form = dict((await text_form_of(request, max_fields=10)).items())
    history = await run_in_threadpool(taxonomy_changes.load, engine.db)
    change = next((c for c in history if str(c["id"]) == change_id), None)
    if change is None:
        raise GridcaseError("not_found", f"没有修改记录 {change_id}")
    reason = form.get("reason") or f"撤销修改 #{change['id']}"
    kind, code = change["kind"], change["code"]
    await run_in_threadpool(_record, engine, actor, kind, code, change["previous"], reason, change["id"])
    return await _editor(request, engine, kind, code, saved=True)


@ui(ADMIN)
async def export(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    await run_in_threadpool(engine.catalogue.refresh_taxonomy)
    return Response(
        taxonomy_changes.export_yaml(engine.profile),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="profile.yaml"'},
    )
