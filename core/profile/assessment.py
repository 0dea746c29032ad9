"""Profile checks of the assessment section that JSON Schema cannot express: references between
facts, indicators, bands, composites, deductions, ledgers and awards, and formulas that parse and do not
refer to each other in a circle."""

from typing import TYPE_CHECKING

from gridcase.core.profile.formulas import FormulaError, cycles, parse
from gridcase.core.profile.shapes import codes, entries, listed, mapping

if TYPE_CHECKING:
    from gridcase.core.profile.crosscheck import CrossChecker

SOURCES = ("clock", "event", "report")
# events the engine records beside the workflows' transitions that event facts may count: the
# 12345 platform's 回访 result (core/hotline/orders.py), a satisfaction answer like a survey's
RECORDED_EVENTS = frozenset({"hotline_visit"})


def check_assessment(checker: "CrossChecker") -> None:
    assessment = mapping(checker.data.get("assessment"))
    transitions = {
        t.get("code")
        for _, machine in entries(mapping(checker.data.get("workflow")).get("workflows"))
        for _, t in entries(machine.get("transitions"))
    }
    facts = _check_facts(checker, assessment, transitions)
    indicators = _check_indicators(checker, assessment, facts, checker.plugin_facts)
    _check_composites(checker, assessment, indicators)
    counts = {i.get("code") for _, i in entries(assessment.get("indicators")) if "count" in i}
    by_plugin = {
        i.get("code")
        for _, i in entries(assessment.get("indicators"))
        if i.get("count") in checker.plugin_facts
    }
    for d, rule in entries(assessment.get("deductions")):
        path = ["assessment", "deductions", d, "indicator"]
        if rule.get("indicator") in by_plugin:
            checker.error(path, f"{rule['indicator']!r} counts a plugin's fact, which has no cases to charge")
        elif rule.get("indicator") in indicators and rule.get("indicator") not in counts:
            checker.error(
                path, f"{rule['indicator']!r} is a formula; deductions count cases of a count indicator"
            )
        else:
            checker.ref(path, rule.get("indicator"), indicators, "indicator")
        objects = next(
            (
                i.get("objects")
                for _, i in entries(assessment.get("indicators"))
                if i.get("code") == rule.get("indicator")
            ),
            None,
        )
        if rule.get("split") == "grid_people" and objects is not None and "grid" not in listed(objects):
            checker.error(
                path, f"split grid_people charges a grid's people: {rule['indicator']!r} must count by grid"
            )
    deductions = codes(assessment.get("deductions"))
    for g, ledger in entries(assessment.get("ledgers")):
        checker.refs(
            ["assessment", "ledgers", g, "deductions"], ledger.get("deductions"), deductions, "deduction"
        )
    composites = codes(assessment.get("composites"))
    for a, spec in entries(assessment.get("awards")):
        path = ["assessment", "awards", a]
        checker.ref(path + ["composite"], spec.get("composite"), composites, "composite")
        checker.refs(path + ["barred_by"], spec.get("barred_by"), indicators, "indicator")
        if spec.get("code") in codes(assessment.get("ledgers")):
            checker.error(
                path + ["code"],
                "an award's code names its own ledger column: it must differ from the ledgers'",
            )
    ranking = mapping(assessment.get("ranking"))
    checker.ref(["assessment", "ranking", "sample"], ranking.get("sample"), indicators, "indicator")
    mins = [m for _, g in entries(assessment.get("grades")) if isinstance(m := g.get("min"), (int, float))]
    if mins != sorted(mins, reverse=True):
        checker.error(["assessment", "grades"], "grades are listed from the highest min to the lowest")


def _check_facts(checker: "CrossChecker", assessment: dict, transitions: set) -> set:
    for f, fact in entries(assessment.get("facts")):
        path = ["assessment", "facts", f]
        sources = [s for s in SOURCES if s in fact]
        if len(sources) != 1:
            checker.error(path, "a fact has exactly one of `clock`, `event` or `report`")
            continue
        source = sources[0]
        checker.ref(path + ["clock"], fact.get("clock"), checker.stages, "stage")
        checker.refs(path + ["event"], fact.get("event"), transitions | RECORDED_EVENTS, "transition")
        checker.refs(path + ["by"], fact.get("by"), transitions, "transition")
        checker.refs(path + ["unless"], fact.get("unless"), transitions, "transition")
        if source == "clock" and ("measure" not in fact or "by" not in fact):
            checker.error(
                path, "a clock fact names its `measure` and the transitions that complete the stage (`by`)"
            )
        if source == "report" and fact.get("report") == "valid" and "by" not in fact:
            checker.error(path, "a valid-report fact names the transitions that make a report valid (`by`)")
        if source != "event" and "distinct" in fact:
            checker.error(path + ["distinct"], "only event facts count distinct cases")
        if source != "event" and "unless" in fact:
            checker.error(path + ["unless"], "only event facts can be answered by a later transition")
        if source != "clock":
            for key in ("measure", "due", "attempts", "extended_on_time"):
                if key in fact:
                    checker.error(path + [key], f"`{key}` applies to clock facts only")
    return codes(assessment.get("facts"))


def _check_indicators(
    checker: "CrossChecker", assessment: dict, facts: set, plugin_facts: set | frozenset
) -> set:
    indicators = codes(assessment.get("indicators"))
    distinct = {f.get("code") for _, f in entries(assessment.get("facts")) if f.get("distinct") == "case"}
    depends: dict[str, set[str]] = {}
    for i, indicator in entries(assessment.get("indicators")):
        path = ["assessment", "indicators", i]
        has_count, has_formula = "count" in indicator, "formula" in indicator
        if has_count == has_formula:
            checker.error(path, "an indicator has exactly one of `count` or `formula`")
        checker.ref(path + ["count"], indicator.get("count"), facts | plugin_facts, "fact")
        if indicator.get("count") in plugin_facts - facts:
            for key in ("where", "weighted"):
                if key in indicator:
                    checker.error(path + [key], f"`{key}` applies to profile facts, not a plugin's")
        if indicator.get("weighted") and indicator.get("count") in distinct:
            checker.error(path + ["weighted"], "a count of distinct cases cannot be weighted")
        if has_formula and isinstance(indicator["formula"], str):
            try:
                names = parse(indicator["formula"]).names
            except FormulaError as exc:
                checker.error(path + ["formula"], str(exc))
                continue
            for name in sorted(names - indicators):
                checker.error(path + ["formula"], f"unknown indicator {name!r} in formula")
            if isinstance(code := indicator.get("code"), str):  # a missing code is the schema's to report
                depends[code] = set(names)
    for cycle in cycles(depends):
        at = next(i for i, ind in entries(assessment.get("indicators")) if ind.get("code") == cycle[0])
        checker.error(
            ["assessment", "indicators", at, "formula"], f"formulas refer to each other: {' -> '.join(cycle)}"
        )
    return indicators


def _check_composites(checker: "CrossChecker", assessment: dict, indicators: set) -> None:
    bands = codes(assessment.get("bands"))
    class_codes = codes(checker.data.get("region_classes")) | codes(checker.data.get("unit_classes"))
    for b, band in entries(assessment.get("bands")):
        for key in mapping(band.get("by_class")):
            checker.ref(["assessment", "bands", b, "by_class", key], key, class_codes, "region or unit class")
    for c, composite in entries(assessment.get("composites")):
        path = ["assessment", "composites", c]
        applies = mapping(composite.get("applies_to"))
        checker.refs(path + ["applies_to", "roles"], applies.get("roles"), checker.roles, "role")
        checker.refs(
            path + ["applies_to", "unit_kinds"],
            applies.get("unit_kinds"),
            codes(checker.data.get("unit_kinds")),
            "unit kind",
        )
        checker.refs(
            path + ["applies_to", "grid_levels"],
            applies.get("grid_levels"),
            codes(checker.data.get("grid_levels")),
            "grid level",
        )
        weights = 0.0
        for t, term in entries(composite.get("terms")):
            checker.ref(path + ["terms", t, "indicator"], term.get("indicator"), indicators, "indicator")
            if term.get("score") == "band" and "band" not in term:
                checker.error(path + ["terms", t], "a band score names its band table (band)")
            checker.ref(path + ["terms", t, "band"], term.get("band"), bands, "band table")
            weights += term.get("weight", 0) if isinstance(term.get("weight"), (int, float)) else 0
        if listed(composite.get("terms")) and abs(weights - 1) > 1e-9:
            checker.error(path + ["terms"], f"weights add up to {weights:g}, not 1")
