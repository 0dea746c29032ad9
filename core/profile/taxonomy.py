"""Read-only views of a profile's taxonomy (the active edition's classes)."""

from collections.abc import Iterator
from typing import Any


def label_zh(label: Any) -> str:
    """The Chinese text of a label written as a string or as {zh, en}."""
    if isinstance(label, dict):
        return label.get("zh", "")
    return label or ""


def active_edition(profile: dict[str, Any]) -> dict[str, Any]:
    taxonomy = profile.get("taxonomy", {})
    return next((e for e in taxonomy.get("editions", []) if e.get("code") == taxonomy.get("edition")), {})


KINDS = ("component", "event")


def active_classes(profile: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """{"kind", "major", "minor"} for every minor class of the active edition.

    A minor code is unique only within its kind: in CJ/T 214, 0101 is both the component
    上水井盖 and the event 私搭乱建. So a class is always (kind, code).
    """
    edition = active_edition(profile)
    for kind in KINDS:
        for major in edition.get(kind, []):
            for minor in major.get("minors", []):
                yield {"kind": kind, "major": major, "minor": minor}


def active_minors(profile: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, code, minor) of the enabled classes."""
    for info in active_classes(profile):
        if info["major"].get("enabled") is not False:
            yield info["kind"], info["minor"]["code"], info["minor"]


# a minor written without a code is indexed under None, as find_class(profile, None) finds it
_by_code: dict[int, tuple[dict, dict[str | None, list[dict[str, Any]]]]] = {}


def find_class(profile: dict[str, Any], code: str | None, kind: str | None = None) -> dict[str, Any] | None:
    """The class with this code (of this kind, when given), or None."""
    cached = _by_code.get(id(profile))
    if cached is None or cached[0] is not profile:  # keep the profile alive so its id stays its own
        if len(_by_code) > 16:  # a process normally holds one profile; tests hold many
            _by_code.clear()
        index: dict[str | None, list[dict[str, Any]]] = {}
        for info in active_classes(profile):
            index.setdefault(info["minor"].get("code"), []).append(info)
        cached = _by_code[id(profile)] = (profile, index)
    return next((info for info in cached[1].get(code, ()) if kind in (None, info["kind"])), None)


def forget_classes(profile: dict[str, Any]) -> None:
    """Drop find_class's index of a profile whose taxonomy was replaced in place."""
    _by_code.pop(id(profile), None)
