"""Every page in the page's language, as each role of a bundled city (和平, six simulated weeks)
walks it in a real browser: the pages of the navigation, the inbox, a case and its print view,
a case of each routing rule (its reason names units and grids), a ranking's explanation, a grid's
cases and an unknown page; the administrators' change histories hold an edit of each kind. A
Chinese page shows no leftover code (three_sixty, unit_grid, urgent_hour, a unit's code such as
community002, a grid's 12- or 15-digit code), no Python value (urgent=True), no raw float and no
English word beyond a short list (gridcase, the switch to English, file formats, grades); an
English page shows no Chinese that the catalogue or the profile has an English name for, and no
unit's or grid's code either.
"""

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Grid, Person
from gridcase.core.people import administration
from gridcase.core.people.roster import PersonData, add
from gridcase.core.profile import setting_changes, taxonomy_changes
from gridcase.core.profile.taxonomy import active_minors

from . import city_browser
from .city_browser import PASSWORD, STREET, log_in, needs_chromium

city, chromium = city_browser.city, city_browser.chromium

PERSON, CASE, GRID = Person.__table__, Case.__table__, Grid.__table__
CATALOGUE = Path(__file__).parents[2] / "admin_ui" / "locale" / "en" / "LC_MESSAGES" / "messages.po"
# the roles city_browser has no login for, one person each (the department in a street office)
MORE = {
    "lang_operator": ("刘洋", ["operator"], None),
    "lang_dispatcher": ("黄磊", ["dispatcher"], None),
    "lang_shift": ("吴芳", ["shift_leader"], None),
    "lang_department": ("郑刚", ["department"], "street01"),
    "lang_citizen": ("马丽", ["citizen"], None),
    "lang_cadre": ("朱军", ["cadre"], None),
}
LOGINS = ["admin", "desk", "leader", "supervisor", *MORE]

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # three_sixty, unit_grid, urgent_hour
REPR = re.compile(r"\b\w+=(?:True|False|None)\b|\b(?:True|False|None)\b|[{\[]'\w+'")
RAW_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{4,}\b")  # 0.38461538461538464
POINT = re.compile(r"\b\d{1,3}\.\d{6}, \d{1,2}\.\d{6}\b")  # a case's place, as the page writes it
# a code as the engine writes one, also beside Chinese (为community002): compared with the city's
# unit and grid codes, which WORD misses when they hold digits
CODE_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9][A-Za-z0-9_-]*(?![\w-])", re.ASCII)
# a word standing alone: not part of a case number (E2026090400003) or a code with digits
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z'’]*(?![A-Za-z0-9])")
# English a Chinese page may show: names, standards, units and the switch to English
ALLOWED = {
    "gridcase", "English", "GB", "T", "Open", "APP", "Leaflet", "YAML", "Excel", "xlsx", "csv", "km", "m",
    "A", "B", "C", "D", "E",  # grades
}  # fmt: skip
# a run of Chinese with its punctuation and digits: 模拟：申请挂账 is a reason someone wrote and
# 太原街第1社区 a community's name, not the label 社区
CJK = re.compile(
    r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef0-9]*[\u3400-\u9fff][\u3400-\u9fff\u3000-\u303f\uff00-\uffef0-9]*"
)

# the visible text of the page, every <details> opened, with the words people read but
# innerText leaves out: titles, placeholders, ARIA labels and <option> labels. A page shows a
# code on purpose in <code> (a unit's or a rule's code on the administrator's pages): those are
# left out, and an attribute may name them; so is text marked lang="zh-CN" on an English page.
TEXT_JS = """() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const codes = [...document.querySelectorAll('code')];
  // text the page declares Chinese on an English page (the engine's routing and scoring reasons)
  const chinese = document.documentElement.lang === 'en' ? [...document.querySelectorAll('[lang^=zh]')] : [];
  for (const c of chinese) c.style.display = 'none';
  const shown = codes.map(c => c.textContent.trim());
  for (const c of codes) c.style.display = 'none';
  const parts = [document.title, document.body.innerText];
  for (const c of codes) c.style.display = '';
  for (const e of document.querySelectorAll('[title],[placeholder],[aria-label]'))
    parts.push(e.getAttribute('title') || '', e.getAttribute('placeholder') || '', e.getAttribute('aria-label') || '');
  for (const o of document.querySelectorAll('option')) parts.push(o.label || o.textContent);
  for (const b of document.querySelectorAll('input[type=submit],input[type=button]')) parts.push(b.value);
  return {text: parts.join('\\n'), visible: parts.slice(0, 2).join('\\n'), codes: shown.filter(Boolean)};
}"""


def english_names() -> set[str]:
    """Chinese texts that have an English name: the catalogue's messages (whole) and the
    profile's {zh, en} labels."""
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    known = {str(m.id) for m in catalogue if m.id and m.string and "%(" not in str(m.id)}
    return known


def profile_labels(profile) -> tuple[set[str], set[str]]:
    """The profile's Chinese labels: those with an English name, and those without (a class
    or a place the city named only in Chinese, which an English page shows as it is)."""
    named: set[str] = set()
    unnamed: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("zh"), str):
                (named if value.get("en") else unnamed).add(value["zh"])
            if isinstance(value.get("name"), str):
                unnamed.add(value["name"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(profile)
    return named, unnamed


def without_data(text: str, names: set[str]) -> str:
    """The text without what is data, not words: login names, codes the page shows as codes
    (an attribute may name them) and a case's coordinates."""
    text = POINT.sub(" ", text)
    return data_pattern(frozenset(names)).sub(" ", text) if names else text


@functools.cache
def data_pattern(names: frozenset[str]) -> re.Pattern[str]:
    # one pattern for the city's thousand names, the longest first: a substitution each took
    # most of the scan's time
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=lambda n: (-len(n), n)))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w.])")


def leftovers(text: str, language: str, translated: set[str], codes: set[str], visible: str) -> list[str]:
    """Codes, Python values and raw floats; on a Chinese page English words, on an English one
    a run of Chinese that is exactly a catalogue message or a profile label (descriptions,
    addresses and reasons are data, in whatever language they were written); and in the
    `visible` text (not the attributes, nor the choices of a field that takes a code) the
    city's unit and grid `codes`. Each with the text around it, to find where the page
    says it."""
    found = [("code", m) for m in SNAKE.finditer(text)]
    found += [("code", m) for m in CODE_TOKEN.finditer(visible) if m.group(0) in codes]
    found += [("repr", m) for m in REPR.finditer(text)]
    found += [("float", m) for m in RAW_FLOAT.finditer(text)]
    if language == "zh":
        words = WORD.finditer(SNAKE.sub(lambda m: " " * len(m.group(0)), text))
        found += [("English", m) for m in words if m.group(0) not in ALLOWED]
    else:
        found += [("Chinese", m) for m in CJK.finditer(text) if m.group(0) in translated]
    around = {}
    for kind, match in found:
        start, end = max(0, match.start() - 25), match.end() + 25
        around.setdefault(f"{kind} {match.group(0)}", " ".join(match.string[start:end].split()))
    return [f"{what} «{context}»" for what, context in around.items()]


@pytest.fixture(scope="module")
def served(city) -> Iterator:
    for username, (name, roles, unit) in MORE.items():
        add(city.engine.db, city.engine.profile, PersonData(username, name, roles, unit, []), PASSWORD)
    edit_everything(city.engine)
    yield city


def edit_everything(engine) -> None:
    """An administrator's edit of each kind the change histories list: a class's unit and a
    standards row's limit, a time-limit rule, a composite's weights and a person's grids."""
    profile, guards, now = engine.profile, set(engine.guards), engine.time.now()
    kind, code, minor = next((k, c, m) for k, c, m in active_minors(profile) if m.get("standards"))
    unit = next(u["code"] for u in profile["units"] if re.search(r"\d", u["code"]))  # a code WORD misses
    standards = [{**minor["standards"][0], "time_limit": "3 work_hour"}, *minor["standards"][1:]]
    fields = {"unit": unit, "standards": standards}
    taxonomy_changes.record(engine.db, profile, guards, kind, code, fields, "调整", "admin", now)
    engine.catalogue.refresh_taxonomy()
    rule = profile["time_limits"]["rules"][0]
    limit = "2 work_hour" if rule["limit"] != "2 work_hour" else "3 work_hour"
    setting_changes.record(
        engine.db, profile, guards, "rule", rule["code"], {"limit": limit}, "调整", "admin", now
    )
    composite = next(c for c in profile["assessment"]["composites"] if c.get("terms"))
    weights = [t["weight"] for t in composite["terms"]]
    terms = [{**t, "weight": w} for t, w in zip(composite["terms"], weights[1:] + weights[:1], strict=True)]
    setting_changes.record(
        engine.db, profile, guards, "composite", composite["code"], {"terms": terms}, "调整", "admin", now
    )
    engine.refresh_settings()
    with read(engine.db) as connection:
        grids = (
            connection.execute(select(GRID.c.code).where(GRID.c.parent == STREET).limit(2)).scalars().all()
        )
    administration.assign_grids(engine.db, "supervisor", grids, "admin", now, reason="调整")


def codes_of(engine, language: str) -> tuple[set[str], set[str]]:
    """The city's unit and grid codes a page must name by their names; on an English page not
    the unit codes that are English words (centre)."""
    with read(engine.db) as connection:
        grids = set(connection.execute(select(GRID.c.code)).scalars())
    units = {u["code"] for u in engine.profile.get("units", [])}
    return {u for u in units if language == "zh" or not u.isalpha()}, grids


def routed_cases(engine) -> list[str]:
    """A case of each routing rule (by class, by command, by territory…): their reasons name
    units and grids."""
    with read(engine.db) as connection:
        found = connection.execute(
            select(func.min(CASE.c.id)).where(CASE.c.routing_rule.is_not(None)).group_by(CASE.c.routing_rule)
        ).scalars()
        return [f"/ui/cases/{case_id}" for case_id in sorted(found)]


def pages_of(page, base: str, cases: list[str]) -> list[str]:
    """The navigation's pages, the inbox, a case of the queue and its print view, `cases`, a
    grid's cases."""
    paths = page.eval_on_selector_all("header nav a", "links => links.map(a => a.getAttribute('href'))")
    paths += cases
    paths += ["/ui/inbox", f"/ui/map/grids/{STREET}", "/ui/no-such-page"]
    page.goto(f"{base}/ui/queue")
    first = page.locator("table a[href^='/ui/cases/']").first
    if first.count():
        case = first.get_attribute("href")
        paths += [case, f"{case}/print"]
    return paths


def scan(
    page,
    base: str,
    language: str,
    translated: set[str],
    usernames: set[str],
    codes: tuple[set[str], set[str]],
    cases: list[str],
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    units, grids = codes
    for path in pages_of(page, base, cases):
        page.goto(f"{base}{path}")
        if path == "/ui/rankings" and page.locator("a.explain-link").count():
            page.locator("a.explain-link").first.click()
            page.locator("#explanation h2").wait_for()
        shown = page.evaluate(TEXT_JS)
        data = usernames | set(shown["codes"])
        visible = without_data(shown["visible"], data)
        bad = leftovers(without_data(shown["text"], data), language, translated, units | grids, visible)
        if bad:
            found[path] = bad
    return found


@needs_chromium
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_page_speaks_the_pages_language_as_every_role(served, chromium, language):
    named, unnamed = profile_labels(served.engine.profile)
    translated = english_names() | named
    with read(served.engine.db) as connection:
        usernames = set(connection.execute(select(PERSON.c.username)).scalars())
    codes, routed = codes_of(served.engine, language), routed_cases(served.engine)
    report = {}
    # the English pages' labels do not change with the role: four logins see every page
    for username in LOGINS if language == "zh" else ["admin", "desk", "lang_department", "lang_citizen"]:
        page = log_in(chromium, served.base, username)
        if language == "en":
            page.goto(f"{served.base}/ui/lang/en?next=/ui/queue")
        # a case's reasons read the same to every role: the centre, which sees every case, reads them
        cases = routed if username == "desk" else []
        found = scan(page, served.base, language, translated, usernames | unnamed, codes, cases)
        if found:
            report[username] = found
        page.context.close()
    assert not report, "\n".join(
        f"{who} {path}: {bad}"
        for who, pages in report.items()
        for path, found in pages.items()
        for bad in found
    )
