"""The administrators' change history as a person reads it (_history.html): what was changed by
its name (部件 0101 上水井盖, 立案 · 紧急, 监督员综合评价) and each line with the names the profile
gives classes, units, stages, indicators, workflows and time units (处置时限 2 工作时 → 3 工作时,
责任单位 水务局 → 城管执法局), never a stored code, a field's key, JSON or a Python value.

Messages are marked with `_` here and translated by the gettext the page passes in."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gridcase.admin_ui.names import duration_text, label, time_unit_names
from gridcase.core.profile.edits import Difference, differences
from gridcase.core.profile.taxonomy_changes import find_minor

DURATIONS = ("limit", "time_limit")  # a rule's limit, a standards row's handling limit


@dataclass(frozen=True)
class Reading:
    subject: str
    lines: list[tuple[str, str, str]]  # (what, before, after)


class ChangeReader:
    """Reads changes with the deployment's profile's names, in one language."""

    def __init__(self, engine: Any, language: str, _: Callable[[str], str]) -> None:
        profile = engine.profile
        self.profile, self.language, self.gettext = profile, language, _
        spec = profile.get("assessment", {})
        self.names = {
            "unit": {u["code"]: u.get("name") for u in profile.get("units", [])},
            "indicator": {i["code"]: i.get("name") for i in spec.get("indicators", [])},
            "workflow": {w["code"]: w.get("name") for w in profile.get("workflow", {}).get("workflows", [])},
            "stage": {s["code"]: s.get("name") for s in profile.get("workflow", {}).get("stages", [])},
            "area_class": {a["code"]: a.get("name") for a in profile.get("area_classes", [])},
        }
        self.rules = {r["code"]: r for r in profile.get("time_limits", {}).get("rules", [])}
        self.composites = {c["code"]: c for c in spec.get("composites", [])}
        self.time_units = time_unit_names(engine)
        self.kinds = {"component": _("部件"), "event": _("事件")}
        self.fields = {
            "name": _("名称"),
            "enabled": _("启用"),
            "unit": _("责任单位"),
            "units": _("责任单位"),
            "multiplier": _("难度系数"),
            "aliases": _("别名"),
            "keywords": _("关键词"),
            "standards": _("立结案标准"),
            "workflow": _("案件流程"),
            "code": _("代码"),
            "condition": _("立案条件"),
            "time_limit": _("处置时限"),
            "close_condition": _("结案条件"),
            "terms": _("指标"),
            "indicator": _("指标"),
            "weight": _("权重"),
        }
        self.yes_no = {True: _("是"), False: _("否")}

    def label(self, value: Any) -> str:
        return label(value, self.language)

    def name(self, kind: str, code: Any) -> str:
        return self.label(self.names[kind].get(code)) or str(code)

    def read(self, change: dict[str, Any]) -> Reading:
        return Reading(self.subject(change), [self.line(change, d) for d in differences(change)])

    def subject(self, change: dict[str, Any]) -> str:
        kind, code = change["kind"], change["code"]
        if kind in self.kinds:
            minor = find_minor(self.profile.get("taxonomy", {}), kind, code) or {}
            return " ".join(filter(None, [self.kinds[kind], code, self.label(minor.get("name"))]))
        if kind == "rule" and code in self.rules:
            return " · ".join(self.applies_to(self.rules[code]))
        if kind == "composite" and code in self.composites:
            return self.label(self.composites[code].get("name")) or code
        return code

    def applies_to(self, rule: dict[str, Any]) -> list[str]:
        """A time-limit rule as its page's 环节 and 适用 columns say it: 处置 · 部件 · 紧急."""
        said = [self.name("stage", rule.get("stage"))]
        if rule.get("kind") in self.kinds:
            said.append(self.kinds[rule["kind"]])
        if rule.get("urgent"):
            said.append(self.gettext("紧急"))
        if "class" in rule:
            said.append(f"{self.gettext('小类')} {rule['class']}")
        if "area_class" in rule:
            said.append(self.name("area_class", rule["area_class"]))
        if rule.get("condition"):
            said.append(str(rule["condition"]))
        return said

    def line(self, change: dict[str, Any], difference: Difference) -> tuple[str, str, str]:
        field = difference.key or difference.field
        before, after = self.value(field, difference.before), self.value(field, difference.after)
        if before == after and field == "name":  # only the other language's name changed
            before, after = self.every_language(difference.before), self.every_language(difference.after)
        what = self.fields.get(field, field)
        if change["kind"] == "rule" and field == "limit":
            stage = self.rules.get(change["code"], {}).get("stage")
            what = self.gettext("%(stage)s时限") % {"stage": self.name("stage", stage)}
        if difference.row is not None:
            what = self.gettext("%(row)s的%(field)s") % {"row": self.row_label(difference.row), "field": what}
        return what, before, after

    def row_label(self, row: dict[str, Any]) -> str:
        """A standards row by its filing condition, a composite's term by its indicator."""
        if row.get("indicator"):
            return self.name("indicator", row["indicator"])
        return str(row.get("condition") or row.get("code") or "")

    def value(self, field: str, value: Any) -> str:
        if value is None:
            return self.yes_no[True] if field == "enabled" else "—"  # enabled unless said otherwise
        if isinstance(value, bool):
            return self.yes_no[value]
        if field in DURATIONS:
            return duration_text(value, self.time_units, self.language)
        if field in ("unit", "indicator", "workflow"):
            return self.name(field, value)
        if field == "units" and isinstance(value, list):  # shares: [{unit, share}]
            shares = ((self.name("unit", u.get("unit")), float(u.get("share", 1))) for u in value)
            return "、".join(f"{name} {share:.0%}" for name, share in shares)
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, list):
            return "、".join(self.value(field, item) for item in value)
        if isinstance(value, dict) and not {"zh", "en"} & set(value):
            return " / ".join(self.value(key, item) for key, item in value.items())
        return self.label(value)

    def every_language(self, value: Any) -> str:
        if isinstance(value, dict):
            return " / ".join(str(v) for v in value.values())
        return self.value("name", value)
