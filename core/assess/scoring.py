"""From indicator values to scores: formulas, rate and band scores, weighted composites (综合指标值),
grades and rankings within classes."""

from graphlib import TopologicalSorter
from typing import Any

from gridcase.core.profile.formulas import Formula, parse


def clamp(score: float) -> float:
    return max(0.0, min(100.0, score))


class Scoring:
    def __init__(self, assessment: dict[str, Any]) -> None:
        self.indicators = {i["code"]: i for i in assessment.get("indicators", [])}
        self.formulas: dict[str, Formula] = {
            code: parse(i["formula"]) for code, i in self.indicators.items() if "formula" in i
        }
        graph = {code: set(f.names) for code, f in self.formulas.items()}
        self.order = [c for c in TopologicalSorter(graph).static_order() if c in self.formulas]
        self.bands = {b["code"]: b for b in assessment.get("bands", [])}
        self.composites = assessment.get("composites", [])
        self.grades = assessment.get("grades", [])
        ranking = assessment.get("ranking", {})
        self.min_sample = ranking.get("min_sample", 0)
        self.sample = ranking.get("sample", "close_due")
        self.within_class = ranking.get("within_class", True)
        self._applies: dict[tuple[str, str], bool] = {}

    def applies(self, code: str, kind: str) -> bool:
        """Whether an indicator has a value for objects of `kind` (a formula: all its inputs do)."""
        known = self._applies.get((code, kind))
        if known is None:
            if code in self.formulas:
                known = all(self.applies(name, kind) for name in self.formulas[code].names)
            else:
                known = kind in self.indicators[code].get("objects", [kind])
            self._applies[code, kind] = known
        return known

    def values(self, counts: dict[str, float], kind: str) -> dict[str, float | None]:
        """Every indicator's value: counts (0 when nothing was counted), then formulas in order."""
        values: dict[str, float | None] = {
            code: counts.get(code, 0) if self.applies(code, kind) else None
            for code in self.indicators
            if code not in self.formulas
        }
        for code in self.order:
            values[code] = self.formulas[code].evaluate(values) if self.applies(code, kind) else None
        return values

    def band_score(self, band_code: str, value: float, object_class: str | None) -> float:
        band = self.bands[band_code]
        rows = band.get("by_class", {}).get(object_class) or band["rows"]
        for row in rows:
            if "max" not in row or value <= row["max"]:
                return float(row["score"])
        return float(rows[-1]["score"])

    def term_score(self, term: dict[str, Any], value: float | None, object_class: str | None) -> float | None:
        if value is None:
            return None
        if term["score"] == "rate":
            return clamp(value * 100)
        if term["score"] == "inverse_rate":
            return clamp((1 - value) * 100)
        return self.band_score(term["band"], value, object_class)

    def composite_for(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The first composite that applies to the object (by kind, unit kind, role, grid level)."""
        for composite in self.composites:
            applies = composite["applies_to"]
            if applies["object"] != obj["kind"]:
                continue
            if "unit_kinds" in applies and obj.get("unit_kind") not in applies["unit_kinds"]:
                continue
            if "roles" in applies and not set(applies["roles"]) & set(obj.get("roles", ())):
                continue
            if "grid_levels" in applies and obj.get("level") not in applies["grid_levels"]:
                continue
            return composite
        return None

    def composite(
        self, composite: dict[str, Any], values: dict[str, float | None], object_class: str | None
    ) -> dict[str, Any]:
        """The weighted score. A term without a value (a rate with nothing to divide) drops out and
        the other weights are scaled up, so a unit is not punished for having no cases of a kind.
        With no rate at all the composite has no score."""
        terms, weight_sum, total = [], 0.0, 0.0
        for term in composite["terms"]:
            value = values.get(term["indicator"])
            score = self.term_score(term, value, object_class)
            terms.append(
                {
                    "code": term["code"],
                    "indicator": term["indicator"],
                    "value": value,
                    "score": score,
                    "weight": term["weight"],
                }
            )
            if score is not None:
                weight_sum += term["weight"]
                total += term["weight"] * score
        rated = any(
            t["score"] is not None
            for t, spec in zip(terms, composite["terms"], strict=True)
            if spec["score"] != "band"
        )
        # with no rate to judge (no cases of any kind), a count band alone would score a perfect 100
        score = round(total / weight_sum, 4) if weight_sum and rated else None
        for term in terms:
            term["contribution"] = (
                round(term["weight"] * term["score"] / weight_sum, 4)
                if term["score"] is not None and weight_sum
                else None
            )
        return {"code": composite["code"], "score": score, "terms": terms}

    def grade(self, score: float | None) -> str | None:
        if score is None:
            return None
        for grade in self.grades:
            if score >= grade["min"]:
                return grade["code"]
        return self.grades[-1]["code"] if self.grades else None

    def rank(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rank objects with a final score within their composite (and class): 1, 2, 2, 4 …

        An object with fewer than `min_sample` cases (the `sample` indicator) is listed, unranked,
        so a unit with three cases cannot top the table.
        """
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for obj in objects:
            obj["rank"], obj["unranked"] = None, None
            if obj.get("final") is None:
                continue
            sample = obj["values"].get(self.sample)
            if self.min_sample and (sample is None or sample < self.min_sample):
                obj["unranked"] = f"样本不足：{self.sample} = {sample or 0} < {self.min_sample}"
                continue
            group = (obj["composite"]["code"], obj.get("class") if self.within_class else None)
            groups.setdefault(group, []).append(obj)
        rankings = []
        for (composite, object_class), members in sorted(
            groups.items(), key=lambda g: (g[0][0], g[0][1] or "")
        ):
            members.sort(key=lambda o: (-o["final"], o["code"]))
            previous, rank = None, 0
            for position, obj in enumerate(members, start=1):
                if obj["final"] != previous:
                    rank, previous = position, obj["final"]
                obj["rank"], obj["ranked_in"] = rank, object_class
            rankings.append(
                {"composite": composite, "class": object_class, "objects": [o["object"] for o in members]}
            )
        return rankings
