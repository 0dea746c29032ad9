"""Cross-reference checks that JSON Schema cannot express.

Every check tolerates data the schema has already rejected (wrong types are skipped, not
crashed on), so one run reports schema problems and reference problems together.
"""

import re
import string
from typing import Any

from gridcase.core.durations import Duration
from gridcase.core.profile.assessment import check_assessment
from gridcase.core.profile.loader import Issue, Profile
from gridcase.core.profile.located import mark_at
from gridcase.core.profile.merge import pointer
from gridcase.core.profile.shapes import codes as _codes
from gridcase.core.profile.shapes import entries as _enumerate
from gridcase.core.profile.shapes import listed as _list
from gridcase.core.profile.shapes import mapping as _dict

CASE_NUMBER_FIELDS = {"kind", "year", "month", "day", "seq", "major", "minor", "district", "channel"}


class CrossChecker:
    def __init__(
        self,
        profile: Profile,
        guards: set[str] | None = None,
        plugin_facts: set[str] | frozenset[str] = frozenset(),
        moves: set[str] | None = None,
    ) -> None:
        self.profile = profile
        self.data = _dict(profile.data)
        self.guards = guards
        self.moves = moves
        self.plugin_facts = plugin_facts
        self.issues: list[Issue] = []
        d = self.data
        self.units = _codes(d.get("units"))
        self.roles = _codes(d.get("roles"))
        self.stages = _codes(_dict(d.get("workflow")).get("stages"))
        self.workflows = _codes(_dict(d.get("workflow")).get("workflows"))
        self.time_units = _codes(_dict(d.get("time_limits")).get("units"))
        self.calendars = _codes(_dict(d.get("time_limits")).get("calendars"))
        self.area_classes = _codes(d.get("area_classes"))
        self.grid_codes = {
            _dict(f.get("properties")).get("code")
            for _, f in _enumerate(_dict(d.get("grids")).get("features"))
        }
        self.classes = self._active_classes()

    def error(self, path: list, message: str) -> None:
        self.issues.append(Issue(mark_at(self.profile.data, path), pointer(path), message))

    def ref(self, path: list, value: Any, known: set, what: str) -> None:
        if isinstance(value, str) and value not in known:
            self.error(path, f"unknown {what} {value!r}")

    def refs(self, path: list, values: Any, known: set, what: str, allow: tuple = ()) -> None:
        for i, value in enumerate(_list(values)):
            if value not in allow:
                self.ref(path + [i], value, known, what)

    def duration(self, path: list, raw: Any) -> None:
        parsed = Duration.parse(raw)
        if parsed and parsed.unit not in self.time_units:
            self.error(
                path, f"unknown time-limit unit {parsed.unit!r} (known: {', '.join(sorted(self.time_units))})"
            )

    def run(self) -> list[Issue]:
        for check in (
            self.check_codes,
            self.check_taxonomy,
            self.check_units,
            self.check_grids,
            self.check_components,
            self.check_workflow,
            self.check_time_limits,
            self.check_assessment,
            self.check_channels,
            self.check_checklists,
            self.check_hotline,
            self.check_public,
        ):
            check()
        return self.issues

    # -- taxonomy -----------------------------------------------------------------------

    def _active_classes(self) -> dict[Any, dict]:
        """code -> {kind, major, minor} for the active edition (majors and minors).

        Here and below, codes are keys as the profile wrote them: None or a number is reported by
        the schema, not assumed away."""
        taxonomy = _dict(self.data.get("taxonomy"))
        out: dict[Any, dict] = {}
        for _, edition in _enumerate(taxonomy.get("editions")):
            if edition.get("code") != taxonomy.get("edition"):
                continue
            for kind in ("component", "event"):
                for _, major in _enumerate(edition.get(kind)):
                    out.setdefault(major.get("code"), {"kind": kind, "major": major})
                    for _, minor in _enumerate(major.get("minors")):
                        out.setdefault(minor.get("code"), {"kind": kind, "major": major, "minor": minor})
        return out

    def check_taxonomy(self) -> None:
        taxonomy = _dict(self.data.get("taxonomy"))
        editions = _codes(taxonomy.get("editions"))
        self.ref(["taxonomy", "edition"], taxonomy.get("edition"), editions, "edition")
        for e, edition in _enumerate(taxonomy.get("editions")):
            patterns = {k: _compile(v) for k, v in _dict(edition.get("codes")).items()}
            for kind in ("component", "event"):
                seen: dict[Any, list] = {}
                for m, major in _enumerate(edition.get(kind)):
                    mpath = ["taxonomy", "editions", e, kind, m]
                    self._pattern(
                        mpath + ["code"], major.get("code"), patterns.get("major"), "major class code"
                    )
                    for n, minor in _enumerate(major.get("minors")):
                        path = mpath + ["minors", n]
                        code = minor.get("code")
                        self._pattern(path + ["code"], code, patterns.get("minor"), "minor class code")
                        if (
                            isinstance(code, str)
                            and isinstance(major.get("code"), str)
                            and not code.startswith(major["code"])
                        ):
                            self.error(
                                path + ["code"],
                                f"minor class {code!r} does not start with its major class code "
                                f"{major['code']!r}",
                            )
                        seen.setdefault(code, []).append(path)
                        self._check_minor(path, minor)
                for code, paths in seen.items():
                    for path in paths if len(paths) > 1 else ():
                        others = ", ".join(pointer(p) for p in paths if p is not path)
                        self.error(
                            path + ["code"],
                            f"minor class {code!r} is defined more than once (also at {others})",
                        )

    def _check_minor(self, path: list, minor: dict) -> None:
        self.ref(path + ["unit"], minor.get("unit"), self.units, "unit")
        self.ref(path + ["workflow"], minor.get("workflow"), self.workflows, "workflow")
        shares = list(_enumerate(minor.get("units")))
        for s, share in shares:
            self.ref(path + ["units", s, "unit"], share.get("unit"), self.units, "unit")
        total = sum(s.get("share", 0) for _, s in shares if isinstance(s.get("share"), (int, float)))
        if shares and abs(total - 1) > 1e-9:
            self.error(path + ["units"], f"shares of the responsible units add up to {total:g}, not 1")
        for r, row in _enumerate(minor.get("standards")):
            self.duration(path + ["standards", r, "time_limit"], row.get("time_limit"))
            for area, raw in _dict(row.get("by_area")).items():
                self.ref(path + ["standards", r, "by_area", area], area, self.area_classes, "area class")
                self.duration(path + ["standards", r, "by_area", area], raw)

    def _pattern(self, path: list, value: Any, pattern: re.Pattern | None, what: str) -> None:
        if pattern is not None and isinstance(value, str) and not pattern.search(value):
            self.error(path, f"{what} {value!r} does not match the pattern {pattern.pattern}")

    # -- units, grids, components ------------------------------------------------------

    def check_units(self) -> None:
        kinds, classes = _codes(self.data.get("unit_kinds")), _codes(self.data.get("unit_classes"))
        parents: dict[Any, str] = {}
        for i, unit in _enumerate(self.data.get("units")):
            path = ["units", i]
            self.ref(path + ["kind"], unit.get("kind"), kinds, "unit kind")
            self.ref(path + ["class"], unit.get("class"), classes, "unit class")
            self.ref(path + ["parent"], unit.get("parent"), self.units, "parent unit")
            self.ref(path + ["calendar"], unit.get("calendar"), self.calendars, "calendar")
            self.refs(path + ["commands"], unit.get("commands"), self.units, "unit")
            if unit.get("code") in _list(unit.get("commands")):
                self.error(path + ["commands"], "a unit cannot command itself")
            if isinstance(unit.get("parent"), str):
                parents[unit.get("code")] = unit["parent"]
        self.refs(
            ["tenancy", "unit_kinds"], _dict(self.data.get("tenancy")).get("unit_kinds"), kinds, "unit kind"
        )
        reported: set[str] = set()
        for i, unit in _enumerate(self.data.get("units")):
            code = unit.get("code")
            trail: list[Any] = []  # codes as written (the first may be None; a cycle never returns to it)
            while code in parents and code not in trail:
                trail.append(code)
                code = parents[code]
            if code in trail and not reported.intersection(trail):
                cycle = trail[trail.index(code) :] + [code]
                reported.update(trail)
                self.error(["units", i, "parent"], f"cyclic unit hierarchy: {' -> '.join(cycle)}")

    def check_grids(self) -> None:
        levels = _codes(self.data.get("grid_levels"))
        default = _compile(_dict(self.data.get("codes")).get("grid"))
        patterns = {
            lvl.get("code"): _compile(lvl.get("pattern"))
            for _, lvl in _enumerate(self.data.get("grid_levels"))
        }
        region_classes = _codes(self.data.get("region_classes"))
        seen: dict[Any, int] = {}
        for i, feature in _enumerate(_dict(self.data.get("grids")).get("features")):
            path = ["grids", "features", i, "properties"]
            props = _dict(feature.get("properties"))
            code = props.get("code")
            self._pattern(path + ["code"], code, patterns.get(props.get("level")) or default, "grid code")
            if code in seen:
                self.error(path + ["code"], f"duplicate grid code {code!r} (also feature {seen[code]})")
            seen.setdefault(code, i)
            self.ref(path + ["level"], props.get("level"), levels, "grid level")
            self.ref(path + ["parent"], props.get("parent"), self.grid_codes, "parent grid")
            self.ref(path + ["unit"], props.get("unit"), self.units, "unit")
            self.ref(path + ["area_class"], props.get("area_class"), self.area_classes, "area class")
            self.ref(path + ["region_class"], props.get("region_class"), region_classes, "region class")

    def check_components(self) -> None:
        pattern = _compile(_dict(self.data.get("codes")).get("component"))
        component_classes = {c for c, info in self.classes.items() if info["kind"] == "component"}
        for i, item in _enumerate(self.data.get("components")):
            path = ["components", i]
            self._pattern(path + ["code"], item.get("code"), pattern, "component code")
            self.ref(path + ["class"], item.get("class"), component_classes, "component class")
            if self.grid_codes:  # else the grids are imported: loading the component checks its grid
                self.ref(path + ["grid"], item.get("grid"), self.grid_codes, "grid")
            for key in ("supervisor_unit", "owner_unit", "maintainer_unit"):
                self.ref(path + [key], item.get(key), self.units, "unit")

    # -- workflow, time limits ----------------------------------------------------------

    def check_workflow(self) -> None:
        workflow = _dict(self.data.get("workflow"))
        self.ref(["workflow", "default"], workflow.get("default"), self.workflows, "workflow")
        for w, machine in _enumerate(workflow.get("workflows")):
            path = ["workflow", "workflows", w]
            states = _codes(machine.get("states"))
            self.ref(path + ["initial"], machine.get("initial"), states, "state")
            self.refs(path + ["starts"], machine.get("starts"), self.stages, "stage", allow=("*",))
            for t, transition in _enumerate(machine.get("transitions")):
                tpath = path + ["transitions", t]
                self.refs(tpath + ["from"], transition.get("from"), states, "state")
                self.ref(tpath + ["to"], transition.get("to"), states, "state")
                self.refs(tpath + ["roles"], transition.get("roles"), self.roles, "role")
                if self.guards is not None:
                    self.refs(tpath + ["guards"], transition.get("guards"), self.guards, "guard")
                if self.moves is not None:
                    self.refs(tpath + ["moves"], transition.get("moves"), self.moves, "unit move")
                for key in ("starts", "stops", "pauses", "resumes", "extends"):
                    self.refs(tpath + [key], transition.get(key), self.stages, "stage", allow=("*",))
            transitions = _codes(machine.get("transitions"))
            for g, group in _enumerate(machine.get("separate")):
                self.refs(path + ["separate", g], group, transitions, "transition")

    def check_time_limits(self) -> None:
        limits = _dict(self.data.get("time_limits"))
        # the admin UI shows a limit by its unit's name and takes it back typed so (3小时)
        named: dict[str, Any] = {}
        for u, unit in _enumerate(limits.get("units")):
            name = unit.get("name")
            for text in name.values() if isinstance(name, dict) else [name]:
                if not isinstance(text, str):
                    continue
                first = named.setdefault(text.casefold(), unit.get("code"))
                if first != unit.get("code"):
                    self.error(
                        ["time_limits", "units", u, "name"],
                        f"time-limit units {first!r} and {unit.get('code')!r} are both named {text!r}: "
                        "a limit typed with that name would be either",
                    )
        self.ref(["time_limits", "standard_stage"], limits.get("standard_stage"), self.stages, "stage")
        for r, rule in _enumerate(limits.get("rules")):
            path = ["time_limits", "rules", r]
            self.ref(path + ["stage"], rule.get("stage"), self.stages, "stage")
            self.ref(path + ["class"], rule.get("class"), set(self.classes), "class")
            self.ref(path + ["area_class"], rule.get("area_class"), self.area_classes, "area class")
            self.duration(path + ["limit"], rule.get("limit"))
            condition = rule.get("condition")
            if isinstance(condition, str):
                minor = self.classes.get(rule.get("class"), {}).get("minor")
                if minor is None:
                    self.error(
                        path + ["condition"], "a filing condition needs the minor class it belongs to (class)"
                    )
                else:
                    self.ref(
                        path + ["condition"], condition, _codes(minor.get("standards")), "filing condition"
                    )
        self.duration(
            ["time_limits", "lights", "yellow_remaining"], _dict(limits.get("lights")).get("yellow_remaining")
        )
        max_age = Duration.parse(_dict(limits.get("offline")).get("max_age"))
        units = {u.get("code"): u for u in _list(limits.get("units")) if isinstance(u, dict)}
        if max_age and units.get(max_age.unit, {}).get("working"):
            self.error(
                ["time_limits", "offline", "max_age"],
                f"max_age is natural time: {max_age.unit!r} counts working time only "
                "(use hours or natural days)",
            )
        self.duration(["time_limits", "offline", "max_age"], _dict(limits.get("offline")).get("max_age"))
        for e, rung in _enumerate(limits.get("escalation")):
            self.duration(["time_limits", "escalation", e, "after"], rung.get("after"))
            self.refs(["time_limits", "escalation", e, "stages"], rung.get("stages"), self.stages, "stage")
            self.refs(
                ["time_limits", "escalation", e, "notify"], rung.get("notify"), self.roles | NOTICE_TARGETS,
                "notice target",
            )  # fmt: skip
        for b, bulletin in _enumerate(_dict(self.data.get("notifications")).get("bulletins")):
            self.refs(["notifications", "bulletins", b, "notify"], bulletin.get("notify"), self.roles, "role")
        from gridcase.core.notify.outbox import TEMPLATE_FIELDS

        for action, template in _dict(_dict(self.data.get("notifications")).get("templates")).items():
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(str(template)) if f}
            except ValueError as exc:
                self.error(["notifications", "templates", action], f"bad template: {exc}")
                continue
            for name in sorted(names - set(TEMPLATE_FIELDS)):
                self.error(
                    ["notifications", "templates", action],
                    f"unknown field {{{name}}}; known: {', '.join(TEMPLATE_FIELDS)}",
                )

    # -- assessment, channels, codes ----------------------------------------------------

    def check_assessment(self) -> None:
        check_assessment(self)

    def check_channels(self) -> None:
        for i, channel in _enumerate(self.data.get("channels")):
            self.refs(["channels", i, "roles"], channel.get("roles"), self.roles, "role")
            self.ref(["channels", i, "workflow"], channel.get("workflow"), self.workflows, "workflow")
            self.refs(["channels", i, "starts"], channel.get("starts"), self.stages, "stage")
            self.ref(["channels", i, "first_contact"], channel.get("first_contact"), self.units, "unit")

    def _minor_classes(self) -> set[tuple[str, Any]]:
        """(kind, code) of every minor class of the active edition (one code may be both kinds)."""
        taxonomy = _dict(self.data.get("taxonomy"))
        return {
            (kind, minor.get("code"))
            for _, edition in _enumerate(taxonomy.get("editions"))
            if edition.get("code") == taxonomy.get("edition")
            for kind in ("component", "event")
            for _, major in _enumerate(edition.get(kind))
            for _, minor in _enumerate(major.get("minors"))
        }

    def check_checklists(self) -> None:
        classes = self._minor_classes()
        channels = _codes(self.data.get("channels"))
        seen: dict[Any, Any] = {}
        for c, checklist in _enumerate(self.data.get("checklists")):
            self.refs(["checklists", c, "channels"], checklist.get("channels"), channels, "channel")
            for i, item in _enumerate(checklist.get("items")):
                path = ["checklists", c, "items", i]
                if item.get("class") is not None and (item.get("kind"), item.get("class")) not in classes:
                    self.error(
                        path + ["class"],
                        f"no {item.get('kind')} minor class {item.get('class')!r} in the active taxonomy",
                    )
                if item.get("code") in seen:
                    self.error(
                        path + ["code"],
                        f"item {item.get('code')!r} is also in checklist {seen[item['code']]!r}",
                    )
                seen.setdefault(item.get("code"), checklist.get("code"))

    def check_hotline(self) -> None:
        """The 12345 mapping names the city's own minor classes: an order of a category mapped
        to a class the city lacks would be filed as nothing."""
        hotline = _dict(self.data.get("hotline"))
        self.ref(["hotline", "channel"], hotline.get("channel"), _codes(self.data.get("channels")), "channel")
        classes = self._minor_classes()
        for i, mapped in _enumerate(hotline.get("categories")):
            code, kind = mapped.get("class"), mapped.get("kind")
            if not isinstance(code, str):
                continue
            kinds = [kind] if kind in ("component", "event") else ["component", "event"]
            if not any((k, code) in classes for k in kinds):
                self.error(
                    ["hotline", "categories", i, "class"],
                    f"hotline category {mapped.get('code')!r} maps to class {code!r}: "
                    f"no {kind + ' ' if kind in kinds else ''}minor class {code!r} in the active taxonomy",
                )

    def check_public(self) -> None:
        """A survey link sent by SMS must be one a phone can open: the site's own address."""
        public = _dict(self.data.get("public"))
        survey = _dict(public.get("survey"))
        texts = _dict(self.data.get("notifications")).get("citizens") is not None
        if texts and survey.get("enabled", True) and survey.get("sms", True) and not public.get("address"):
            self.error(
                ["notifications", "citizens"],
                "citizens get SMS and the survey's link goes by SMS (public.survey.sms), but "
                "public.address (the site's address, https://…) is not set: the link would be a "
                "path no phone can open",
            )

    def check_codes(self) -> None:
        fmt = _dict(self.data.get("codes")).get("case_number")
        if not isinstance(fmt, str):
            return
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
        except ValueError as exc:
            self.error(["codes", "case_number"], f"bad format: {exc}")
            return
        for name in fields:
            if name not in CASE_NUMBER_FIELDS:
                self.error(
                    ["codes", "case_number"],
                    f"unknown field {{{name}}}; known: {', '.join(sorted(CASE_NUMBER_FIELDS))}",
                )
        if "seq" not in fields:
            self.error(["codes", "case_number"], "the format needs {seq} so numbers stay unique")


def _compile(pattern: Any) -> re.Pattern | None:
    try:
        return re.compile(pattern) if isinstance(pattern, str) else None
    except re.error:
        return None  # the schema's regex format check reports it


NOTICE_TARGETS = {"handler", "unit", "unit_leader", "centre", "grid_people"}  # besides role codes


def cross_check(
    profile: Profile,
    guards: set[str] | None = None,
    plugin_facts: set[str] | frozenset[str] = frozenset(),
    moves: set[str] | None = None,
) -> list[Issue]:
    return CrossChecker(profile, guards, plugin_facts, moves).run()
