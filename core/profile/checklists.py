"""Patrol checklists (巡查事项清单; 禅城's grid workers patrol 334 items): a report on a
checklist's channel may name an `item` instead of a class, and is filed in the item's class."""

from typing import Any

from gridcase.core.errors import GridcaseError


def index(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every checklist's items by code, each with its checklist's code and channels."""
    return {
        item["code"]: {**item, "checklist": checklist["code"], "channels": checklist.get("channels")}
        for checklist in profile.get("checklists", [])
        for item in checklist["items"]
    }


def item_class(items: dict[str, dict[str, Any]], report: dict[str, Any], channel: str) -> tuple[str, str]:
    """(class, kind) of the report's item, or an `invalid_report` saying what is wrong with it."""
    item = items.get(report["item"])
    if item is None:
        raise _invalid(f"no checklist item {report['item']!r}")
    if item["channels"] and channel not in item["channels"]:
        raise _invalid(
            f"checklist {item['checklist']!r} takes reports from {', '.join(item['channels'])} only"
        )
    given = (report.get("category") or item["class"], report.get("kind") or item["kind"])
    if given != (item["class"], item["kind"]):
        raise _invalid(f"item {item['code']!r} is {item['kind']} {item['class']}, not {' '.join(given)}")
    return item["class"], item["kind"]


def _invalid(message: str) -> GridcaseError:
    return GridcaseError("invalid_report", message, {"field": "item"})
