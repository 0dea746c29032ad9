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


def active_minors(profile: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    edition = active_edition(profile)
    for kind in ("component", "event"):
        for major in edition.get(kind, []):
            if major.get("enabled") is False:
                continue
            for minor in major.get("minors", []):
                yield minor["code"], minor


def find_class(profile: dict[str, Any], code: str | None) -> dict[str, Any] | None:
    """{"kind", "major", "minor"} for a minor class code of the active edition, or None."""
    edition = active_edition(profile)
    for kind in ("component", "event"):
        for major in edition.get(kind, []):
            for minor in major.get("minors", []):
                if minor.get("code") == code:
                    return {"kind": kind, "major": major, "minor": minor}
    return None
