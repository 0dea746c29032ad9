"""Profile labels by code, for templates to show in the page's language."""

import re
import unicodedata
from typing import Any

from gridcase.core.durations import Duration
from gridcase.core.profile.taxonomy import active_minors


def label(value: Any, language: str) -> str:
    """A profile label ({zh, en} or plain text) in the page's language."""
    if isinstance(value, dict):
        return value.get(language) or value.get("zh") or value.get("en") or ""
    return "" if value is None else str(value)


def role_names(engine) -> dict[str, Any]:
    return {r["code"]: r.get("name") for r in engine.profile.get("roles", [])}


def state_names(engine) -> dict[str, Any]:
    specs = engine.profile.get("workflow", {}).get("workflows", [])
    return {s["code"]: s.get("name") for w in specs for s in w.get("states", [])}


def transition_names(engine) -> dict[str, Any]:
    specs = engine.profile.get("workflow", {}).get("workflows", [])
    return {t["code"]: t.get("name") for w in specs for t in w.get("transitions", [])}


def class_names(engine) -> dict[str, Any]:
    """{"kind:code": name} of the enabled minor classes."""
    return {f"{kind}:{code}": minor.get("name") for kind, code, minor in active_minors(engine.profile)}


def time_unit_names(engine) -> dict[str, Any]:
    return {u["code"]: u.get("name") for u in engine.profile.get("time_limits", {}).get("units", [])}


def duration_text(raw: Any, units: dict[str, Any], language: str) -> str:
    """A profile's duration ('2 urgent_hour') with its unit's name: '2 紧急工作时'."""
    duration = Duration.parse(raw)
    if duration is None:
        return "" if raw is None else str(raw)
    name = units.get(duration.unit)
    if isinstance(name, dict):
        name = name.get(language) or name.get("zh")
    value = str(duration).split(" ", 1)[0]
    return f"{value} {name or duration.unit}"


TYPED_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(\S.*?)\s*")


def duration_code(text: str, units: dict[str, Any]) -> str:
    """A duration typed with its unit's name in either language, with a space or without
    ('3 紧急工作时', '3紧急工作时', full-width ３小时 from a Chinese keyboard too), as the profile
    writes it ('3 urgent_hour'); anything else is left for the profile's check to name."""
    text = unicodedata.normalize("NFKC", text).strip()
    typed = TYPED_DURATION.fullmatch(text)
    if typed:
        number, unit = typed.groups()
        for code, name in units.items():
            names = name.values() if isinstance(name, dict) else [name]
            if unit.casefold() in (str(n).casefold() for n in names):
                return f"{number} {code}"
    return text


# a code in text the engine writes: water, street1, 210102001001001 (not 上水井盖, not 70%)
CODE_IN_TEXT = re.compile(r"(?<![\w-])[A-Za-z0-9][A-Za-z0-9_-]*(?![\w-])", re.ASCII)


def codes_in(text: str) -> set[str]:
    return set(CODE_IN_TEXT.findall(text))


def with_names(text: str, names: dict[str, str]) -> str:
    """Text the engine wrote with codes (a routing's reason: 小类 上水井盖 的责任单位为 water)
    with each code `names` knows replaced by its name; what is stored keeps its codes."""
    return CODE_IN_TEXT.sub(lambda found: names.get(found.group(0)) or found.group(0), text)
