"""Profile labels by code, for templates to show in the page's language."""

from typing import Any

from gridcase.core.profile.taxonomy import active_minors


def state_names(engine) -> dict[str, Any]:
    specs = engine.profile.get("workflow", {}).get("workflows", [])
    return {s["code"]: s.get("name") for w in specs for s in w.get("states", [])}


def transition_names(engine) -> dict[str, Any]:
    specs = engine.profile.get("workflow", {}).get("workflows", [])
    return {t["code"]: t.get("name") for w in specs for t in w.get("transitions", [])}


def class_names(engine) -> dict[str, Any]:
    """{"kind:code": name} of the enabled minor classes."""
    return {f"{kind}:{code}": minor.get("name") for kind, code, minor in active_minors(engine.profile)}
