"""Templates, languages and the page shell.

Every page is one template. Its blocks double as htmx fragments (jinja2-fragments): an htmx
request names the block it wants and gets only that, and every answer says `Vary: HX-Request`
so a cache never serves one for the other. Autoescaping is on for every template.
"""

from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2_fragments import render_block
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from gridcase.admin_ui.change_text import ChangeReader
from gridcase.admin_ui.names import duration_text, label, role_names, time_unit_names
from gridcase.core.text import clean_text

HERE = Path(__file__).parent
LANGUAGES = {"zh": "中文", "en": "English"}
# an outbox notice's status, as the pages name it (translated where shown)
NOTICE_STATUSES = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}
DEFAULT_LANGUAGE = "zh"


def _catalogue(language: str) -> NullTranslations:
    """Read the .po file directly, so no compile step stands between an edit and the UI."""
    path = HERE / "locale" / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()  # zh: the messages are written in Chinese
    with path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


CATALOGUES = {language: _catalogue(language) for language in LANGUAGES}


def _clean(value: Any) -> Any:
    """Every value a template prints, cleaned (core/text.py): rows stored before the text rule
    existed must not put a character into a page that XML tools and some browsers refuse."""
    if isinstance(value, Markup):  # already escaped: cleaned, it stays markup
        return Markup(clean_text(value))
    return clean_text(value) if isinstance(value, str) else value


@pass_context
def local(context: Context, moment: datetime | date | None, form: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment (UTC) as the city's clock showed it: every time a page shows goes
    through here, so none is shown in UTC beside another in the city's time. A naive moment is
    UTC: the database kept it so."""
    if moment is None:
        return "—"
    if not isinstance(moment, datetime):
        return moment.strftime(form)
    zone = context.get("tz") or UTC
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime(form)


@pass_context
def duration(context: Context, raw: Any) -> str:
    """A profile's duration in the page's language: '2 urgent_hour' as '2 紧急工作时'."""
    engine = getattr(context["request"].app.state, "engine", None) if "request" in context else None
    units = time_unit_names(engine) if engine is not None else {}
    return duration_text(raw, units, context.get("lang", DEFAULT_LANGUAGE))


@pass_context
def change_reader(context: Context) -> ChangeReader:
    """The administrators' change history read with the profile's names, in the page's language."""
    language = context.get("lang", DEFAULT_LANGUAGE)
    return ChangeReader(context["request"].app.state.engine, language, CATALOGUES[language].gettext)


def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_clean,
    )
    # the i18n extension adds this method when the environment is made; jinja2's types do not declare it
    env.install_gettext_translations(CATALOGUES[language], newstyle=True)  # type: ignore[attr-defined]
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["change_reader"] = change_reader
    env.globals["STATUS_LABELS"] = NOTICE_STATUSES
    env.filters["local"] = local
    env.filters["duration"] = duration
    return env


ENVIRONMENTS = {language: _environment(language) for language in LANGUAGES}


def language_of(request: Request) -> str:
    chosen = request.cookies.get("gridcase_lang", "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _calendar_warnings(request: Request) -> list[Any]:
    """Calendars near their last confirmed day, for the signed-in staff's banner."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None or getattr(request.state, "actor", None) is None:
        return []
    return [item for item in engine.limits.deadlines.readiness(engine.time.now()) if item.warning]


# the page's error area (base.html), emptied out of band (htmx swaps it by its id)
CLEAR_ERRORS = '<div id="errors" class="errors" role="alert" hx-swap-oob="true"></div>'


def zone_of(request: Request) -> ZoneInfo | None:
    """The city's time zone (CityProfile.timezone), for `local`."""
    engine = getattr(request.app.state, "engine", None)
    return engine.city.timezone if engine is not None else None


def _role_names(request: Request) -> dict[str, Any]:
    """The roles by name, for the header's "who is logged in"."""
    engine = getattr(request.app.state, "engine", None)
    return role_names(engine) if engine is not None else {}


def page(
    request: Request, template: str, context: dict[str, Any], block: str | None = None, status: int = 200
) -> HTMLResponse:
    """The whole page, or only `block` when htmx asks for it."""
    language = language_of(request)
    env = ENVIRONMENTS[language]
    context = {
        "request": request,
        "lang": language,
        "L": lambda value: label(value, language),
        "actor": getattr(request.state, "actor", None),
        "csrf": request.session.get("csrf", "") if "session" in request.scope else "",
        "nav": getattr(request.state, "nav", []),
        "calendar_warnings": _calendar_warnings(request),
        "tz": zone_of(request),
        "role_names": _role_names(request),
        **context,
    }
    if block and request.headers.get("hx-request"):
        body = render_block(env, template, block, context)
        if status < 400:  # an answer that worked takes away an earlier one's error
            body += CLEAR_ERRORS
    else:
        body = env.get_template(template).render(context)
    return HTMLResponse(body, status_code=status, headers={"Vary": "HX-Request"})
