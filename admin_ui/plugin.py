"""The admin UI, registered like any plugin: its routes under /ui and its static files."""

from pathlib import Path

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gridcase.admin_ui import (
    auth,
    config_pages,
    dashboards,
    hotline,
    inbox,
    operations,
    places,
    queues,
    taxonomy_editor,
    tracks,
    views,
)
from gridcase.core.hookspecs import hookimpl

STATIC = Path(__file__).parent / "static"


def ui_routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/", auth.home, methods=get),
        Route("/login", auth.login_form, methods=get),
        Route("/login", auth.login, methods=post),
        Route("/logout", auth.logout, methods=post),
        Route("/password", auth.password_form, methods=get),
        Route("/password", auth.choose_password, methods=post),
        Route("/lang/{language}", auth.language, methods=get),
        Route("/queue", queues.queue, methods=get),
        Route("/queue/export.xlsx", queues.export, methods=get),
        Route("/inbox", inbox.notices, methods=get),
        Route("/inbox/unread", inbox.unread, methods=get),
        Route("/inbox/read", inbox.mark_read, methods=post),
        Route("/hotline", hotline.waiting, methods=get),
        Route("/hotline/{order_no}", hotline.order, methods=get),
        Route("/hotline/{order_no}/file", hotline.file, methods=post),
        Route("/hotline/{order_no}/return", hotline.return_order, methods=post),
        Route("/cases/new", operations.new_case, methods=get),
        Route("/cases", operations.create_case, methods=post),
        Route("/cases/bulk", queues.bulk, methods=post),
        Route("/cases/{case_id}", operations.case_page, methods=get),
        Route("/cases/{case_id}/print", operations.case_print, methods=get),
        Route("/cases/{case_id}/transitions/{code}", operations.fire, methods=post),
        Route("/evidence/{evidence_id}", operations.evidence, methods=get),
        Route("/taxonomy", taxonomy_editor.tree, methods=get),
        Route("/taxonomy/export.yaml", taxonomy_editor.export, methods=get),
        Route("/taxonomy/changes/{change_id}/revert", taxonomy_editor.revert, methods=post),
        Route("/taxonomy/{kind}/{major}/new", taxonomy_editor.new_class, methods=post),
        Route("/taxonomy/{kind}/{code}", taxonomy_editor.edit, methods=get),
        Route("/taxonomy/{kind}/{code}", taxonomy_editor.save, methods=post),
        Route("/config/units", config_pages.units, methods=get),
        Route("/config/units/{code}/class", config_pages.unit_class, methods=post),
        Route("/config/people", config_pages.add_person_page, methods=post),
        Route("/config/people/{username}", config_pages.save_person, methods=post),
        Route("/config/people/{username}/grids", config_pages.person_grids, methods=post),
        Route("/config/people/{username}/password", config_pages.person_password, methods=post),
        Route("/config/people/{username}/unlock", config_pages.person_unlock, methods=post),
        Route("/config/people/{username}/active", config_pages.person_active, methods=post),
        Route("/config/throttles/clear", config_pages.unthrottle, methods=post),
        Route("/config/time-limits", config_pages.time_limits, methods=get),
        Route("/config/calendar", config_pages.calendar_day, methods=post),
        Route("/config/rules/{code}", config_pages.save_rule, methods=post),
        Route("/config/composites/{code}", config_pages.save_composite, methods=post),
        Route("/config/settings/{change_id}/revert", config_pages.revert_setting, methods=post),
        Route("/config/assessment", config_pages.assessment, methods=get),
        Route("/config/workflow", config_pages.workflow, methods=get),
        Route("/config/outbox", config_pages.outbox, methods=get),
        Route("/map", dashboards.city_map, methods=get),
        Route("/map/grids/{grid}", dashboards.grid_cases, methods=get),
        Route("/places/picker.json", places.picker, methods=get),
        Route("/places/search", places.search, methods=get),
        Route("/places/at", places.place_at, methods=get),
        Route("/tracks", tracks.tracks, methods=get),
        Route("/dashboard", dashboards.dashboard, methods=get),
        Route("/rankings", dashboards.rankings, methods=get),
        Route("/rankings/explain", dashboards.explain, methods=get),
        Route("/rankings/bulletin.{fmt}", dashboards.bulletin, methods=get),
        Route("/{path:path}", views.not_found, methods=get),  # last: any other path is no page
    ]


@hookimpl
def register_routes() -> list:
    return [
        Mount("/ui/static", app=StaticFiles(directory=STATIC, check_dir=False), name="ui_static"),
        Mount("/ui", routes=ui_routes()),
    ]
