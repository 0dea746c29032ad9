"""Assessment of a period: counts in SQL, then values, composites, deductions, ledgers, ranks
and awards.

    assessor = Assessor(engine)
    result = assessor.assess("2026-10", by="unit")
    why = assessor.explain("2026-10", "unit:jiefang")             # deductions and composite terms
    why = assessor.explain("2026-10", "unit:jiefang", "closure_rate")   # down to the cases

The database does the counting (one GROUP BY per fact source); Python only sees one row per
object, so a month of a large city never becomes Python objects.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from gridcase.core.assess.awards import award, award_ledgers
from gridcase.core.assess.deductions import charge
from gridcase.core.assess.explain import reason
from gridcase.core.assess.facts import OBJECTS, Count, FactSQL, key_columns, params, run_counts
from gridcase.core.assess.periods import Period, parse_period
from gridcase.core.assess.scoring import Scoring
from gridcase.core.db.connection import read
from gridcase.core.db.models import CaseUnit, Grid, Person, Unit, UnitClassChange
from gridcase.core.errors import GridcaseError
from gridcase.core.plugins import collect
from gridcase.core.profile.taxonomy import label_zh

UNIT, GRID, PERSON, CASE_UNIT, CLASS_CHANGE = (
    t.__table__ for t in (Unit, Grid, Person, CaseUnit, UnitClassChange)
)


def object_id(kind: str, key: tuple) -> str:
    return ":".join([kind, *(str(k) for k in key)])


class Assessor:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        profile = engine.profile
        self.assessment = profile.get("assessment", {})
        self.facts = {f["code"]: f for f in self.assessment.get("facts", [])}
        multipliers = {
            key: info["minor"]["multiplier"]
            for key, info in engine.catalogue.classes.items()
            if "multiplier" in info["minor"]
        }
        self.sql = FactSQL(self.assessment, profile.get("channels", []), multipliers)
        self.scoring = Scoring(self.assessment)
        plugin_facts = {f.code: f for f in collect(engine.pm, "register_assessment_facts")}
        counted = [i for i in self.assessment.get("indicators", []) if "count" in i]
        self.counts = [
            Count(i["code"], self.facts[i["count"]], i.get("where", {}), bool(i.get("weighted")))
            for i in counted
            if i["count"] in self.facts
        ]
        # indicator code → the plugin's fact it counts (a profile fact of the same code wins)
        self.plugin_counts = {
            i["code"]: plugin_facts[i["count"]]
            for i in counted
            if i["count"] not in self.facts and i["count"] in plugin_facts
        }
        self.names = dict(engine.catalogue.stage_names)
        for workflow in engine.catalogue.workflows.values():
            for transition in workflow.transitions.values():
                self.names.setdefault(transition.code, label_zh(transition.name))

    def period(self, text: str | Period) -> Period:
        return text if isinstance(text, Period) else parse_period(text, str(self.engine.city.timezone))

    # -- assessment ---------------------------------------------------------------------

    def assess(
        self,
        period: str | Period,
        by: str = "unit",
        classes: list[str] | None = None,
        level: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        if by not in OBJECTS:
            raise GridcaseError(
                "invalid_object", f"cannot assess by {by!r}; choose one of {', '.join(OBJECTS)}"
            )
        period, now = self.period(period), now or self.engine.time.now()
        counts = [c for c in self.counts if self.scoring.applies(c.code, by)]
        with read(self.engine.db) as connection:
            objects = self.objects(connection, by, period)
            found = run_counts(connection, self.sql, by, counts, period, now)
            self._plugin_counts(connection, found, by, period, now)
            deducted = charge(self, connection, by, period, now)
        totals: dict[str, float] = {}
        for counted in found.values():
            for code, value in counted.items():
                totals[code] = totals.get(code, 0) + value
        own = {obj["key"]: found.get(obj["key"], {}) for obj in objects}
        rolled = _roll_up(objects, own)
        deductions = _roll_up(objects, {o["key"]: deducted["points"].get(o["key"], {}) for o in objects})
        results = []
        for obj in objects:
            values = self.scoring.values(rolled[obj["key"]], by)
            composite = self.scoring.composite_for(obj)
            scored = self.scoring.composite(composite, values, obj.get("class")) if composite else None
            points = self._capped(deductions[obj["key"]])
            results.append(
                {
                    "object": obj["object"],
                    "code": obj["code"],
                    "name": obj["name"],
                    "class": obj.get("class"),
                    "values": values,
                    "composite": scored,
                    "deductions": points,
                    "deducted": round(sum(points.values()), 4),
                    "adjustments": [],
                }
            )
        self._adjust(results, period)
        caps = {o["object"]: o.get("attributes") or {} for o in objects}
        for result in results:
            score = result["composite"]["score"] if result["composite"] else None
            extra = sum(a["points"] for a in result["adjustments"])
            result["final"] = None if score is None else round(score - result["deducted"] + extra, 4)
            result["grade"] = self.scoring.grade(result["final"])
            result["ledgers"] = self._ledgers(result["deductions"], caps[result["object"]])
        wanted = {
            o["object"]
            for o in objects
            if (not classes or o.get("class") in classes) and (not level or o.get("level") == level)
        }
        # awards go to the top of the whole ranking, whatever this call's filters show
        self.scoring.rank(results)
        award(self.assessment.get("awards", []), results, {o["object"]: o.get("unit_kind") for o in objects})
        results = [r for r in results if r["object"] in wanted]
        rankings = self.scoring.rank(results)
        return {
            "period": period.as_dict(),
            "by": by,
            "filters": {"classes": classes or [], "level": level},
            "generated_at": now.isoformat(),
            "indicators": [
                {k: i.get(k) for k in ("code", "name", "percent", "better")}
                for i in self.assessment.get("indicators", [])
                if self.scoring.applies(i["code"], by)
            ],
            "ledgers": [
                {"code": g["code"], "name": label_zh(g["name"]), "currency": g.get("currency")}
                for g in self.assessment.get("ledgers", [])
            ]
            + award_ledgers(self.assessment.get("awards", [])),
            "totals": self.scoring.values(totals, by),
            "objects": results,
            "rankings": rankings,
        }

    def _plugin_counts(
        self,
        connection: Connection,
        found: dict[tuple, dict[str, float]],
        kind: str,
        period: Period,
        now: datetime,
    ) -> None:
        """The counts of plugins' facts (register_assessment_facts), added to `found`."""
        if not self.plugin_counts:
            return
        ctx = self.engine.hooks.context(connection, now)
        for code, fact in self.plugin_counts.items():
            query = fact.query(ctx, kind) if self.scoring.applies(code, kind) else None
            if query is None:
                continue
            for key, value in connection.execute(query, params(period, now)):
                found.setdefault((key,), {})[code] = value or 0

    def _capped(self, points: dict[str, float]) -> dict[str, float]:
        rules = {d["code"]: d for d in self.assessment.get("deductions", [])}
        return {
            code: round(min(value, rules[code].get("cap", value)), 4)
            for code, value in sorted(points.items())
            if value
        }

    def _ledgers(self, points: dict[str, float], attributes: dict[str, Any]) -> dict[str, float]:
        """Each ledger's amount: points times its rate, within its cap and within the object's own
        cap attribute (和平: no worker loses more than their performance pay)."""
        out = {}
        for ledger in self.assessment.get("ledgers", []):
            charged = sum(v for k, v in points.items() if k in ledger.get("deductions", points))
            amount = min(charged * ledger["per_point"], ledger.get("cap", float("inf")))
            own_cap = attributes.get(ledger.get("cap_attribute"))
            if isinstance(own_cap, (int, float)):
                amount = min(amount, own_cap)
            out[ledger["code"]] = round(amount, 2)
        return out

    def _adjust(self, results: list[dict[str, Any]], period: Period) -> None:
        """Plugins' adjust_scores entries, added to their objects (unknown objects are an error)."""
        by_object = {r["object"]: r for r in results}
        if not self.engine.hooks.listened("adjust_scores"):
            return
        summary = [
            {
                **{k: r[k] for k in ("object", "code", "name", "class")},
                "values": dict(r["values"]),
                "composite": (r["composite"] or {}).get("code"),
                "score": (r["composite"] or {}).get("score"),
            }
            for r in results
        ]
        ctx = self.engine.hooks.context()
        for entry in collect(self.engine.pm, "adjust_scores", ctx=ctx, results=summary, period=period):
            target = by_object.get(entry.get("object"))
            if target is None:
                continue  # a plugin adjusting objects of another kind
            target["adjustments"].append(
                {
                    "points": float(entry["points"]),
                    "reason": entry.get("reason", ""),
                    "cases": entry.get("cases", []),
                }
            )

    # -- objects ------------------------------------------------------------------------

    def objects(self, connection: Connection, kind: str, period: Period) -> list[dict[str, Any]]:
        """Every object of `kind` with its key, name, class and what composites select on."""
        objects = self._catalogue(connection, kind, period)
        for obj in objects:
            obj["kind"], obj["object"] = kind, object_id(kind, obj["key"])
        return objects

    def _catalogue(self, connection: Connection, kind: str, period: Period) -> list[dict[str, Any]]:
        if kind == "unit":
            classes = self._unit_classes(connection, period.end)
            rows = connection.execute(select(UNIT).order_by(UNIT.c.path))
            return [
                _entry((r.code,), r.name, classes.get(r.code, r.unit_class), unit_kind=r.kind, path=r.path)
                for r in rows
            ]
        if kind == "grid":
            rows = connection.execute(
                select(GRID.c.code, GRID.c.name, GRID.c.level, GRID.c.path, GRID.c.region_class).order_by(
                    GRID.c.path
                )
            )
            return [
                _entry((r.code,), r.name or r.code, r.region_class, level=r.level, path=r.path) for r in rows
            ]
        if kind == "person":
            rows = connection.execute(select(PERSON).order_by(PERSON.c.id))
            return [
                _entry((r.id,), r.name, None, roles=r.roles, unit=r.unit, attributes=r.attributes or {})
                for r in rows
            ]
        if kind == "channel":
            channels = self.engine.profile.get("channels", [])
            return [_entry((c["code"],), label_zh(c["name"]), c["kind"]) for c in channels]
        return [
            _entry(key, label_zh(info["minor"]["name"]), info["major"]["code"])
            for key, info in sorted(self.engine.catalogue.classes.items())
        ]

    def _unit_classes(self, connection: Connection, end: datetime) -> dict[str, str | None]:
        """Each unit's class at the period's end (the last change before it)."""
        out: dict[str, str | None] = {}
        rows = connection.execute(
            select(CLASS_CHANGE).where(CLASS_CHANGE.c.since < end).order_by(CLASS_CHANGE.c.since)
        )
        for row in rows:
            out[row.unit] = row.unit_class
        return out

    # -- explanations -------------------------------------------------------------------

    def explain(
        self, period: str | Period, object: str, indicator: str | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """What a number is made of: an indicator down to its cases, or an object's score down to
        its composite terms and its deductions' cases."""
        period, now = self.period(period), now or self.engine.time.now()
        kind = object.split(":", 1)[0]
        result = next(
            (r for r in self.assess(period, by=kind, now=now)["objects"] if r["object"] == object), None
        )
        if result is None:
            raise GridcaseError("not_found", f"no {kind} {object.split(':', 1)[-1]!r} to explain")
        if indicator is None:
            with read(self.engine.db) as connection:
                keys = self._object_keys(connection, object, period)
                charged = charge(self, connection, kind, period, now, reasons=True)
                cases = [c for c in charged["cases"] if c["key"] in keys]
            return {"object": object, "period": period.as_dict(), "result": result, "deduction_cases": cases}
        if indicator not in self.scoring.indicators:
            raise GridcaseError("not_found", f"no indicator {indicator!r}")
        return {
            "object": object,
            "period": period.as_dict(),
            **self._explain_indicator(period, object, indicator, result, now),
        }

    def _explain_indicator(self, period, object, indicator, result, now) -> dict[str, Any]:
        spec = self.scoring.indicators[indicator]
        value = result["values"].get(indicator)
        if indicator in self.scoring.formulas:
            names = sorted(self.scoring.formulas[indicator].names)
            return {
                "indicator": indicator,
                "value": value,
                "formula": spec["formula"],
                "inputs": [self._explain_indicator(period, object, n, result, now) for n in names],
            }
        if indicator in self.plugin_counts:  # a plugin's SQL gave the number, not cases
            fact = self.plugin_counts[indicator]
            return {
                "indicator": indicator,
                "value": value,
                "fact": fact.code,
                "description": fact.description,
            }
        return {"indicator": indicator, "value": value, "cases": self.cases(period, object, indicator, now)}

    def cases(self, period: Period, object: str, indicator: str, now: datetime) -> list[dict[str, Any]]:
        """The cases behind one count of one object, each with its reason."""
        count = next(c for c in self.counts if c.code == indicator)
        kind = object.split(":", 1)[0]
        with read(self.engine.db) as connection:
            if key_columns(count.source, kind) is None:
                return []
            keys = self._object_keys(connection, object, period)
            query = self.sql.rows_query(count, kind, keys)
            rows = connection.execute(query, params(period, now)).mappings().all()
        tz = self.engine.city.timezone
        out = []
        for row in rows:
            out.append(
                {
                    "case_id": row["case_id"],
                    "number": row["number"],
                    "class": row["class_code"],
                    "weight": row["weight"],
                    "reason": reason(count.fact, row, self.names, tz, min(period.end, now)),
                }
            )
        return out

    def _object_keys(self, connection: Connection, object: str, period: Period) -> set[tuple]:
        """The keys an object's numbers gather: itself and, for units and grids, those below it."""
        objects = self.objects(connection, object.split(":", 1)[0], period)
        obj = next((o for o in objects if o["object"] == object), None)
        if obj is None:
            raise GridcaseError("not_found", f"no {object!r}")
        if "path" not in obj:
            return {obj["key"]}
        return {o["key"] for o in objects if o["path"].startswith(obj["path"])}


def _entry(key: tuple, name: str, object_class: str | None, **extra: Any) -> dict[str, Any]:
    """A catalogue entry: its key in the fact queries, its code (the key's last part) and name,
    the class it is ranked in, and what composites select on (unit kind, roles, grid level)."""
    return {"key": key, "code": str(key[-1]), "name": name, "class": object_class, **extra}


def _roll_up(
    objects: list[dict[str, Any]], own: dict[tuple, dict[str, float]]
) -> dict[tuple, dict[str, float]]:
    """Units and grids carry the sums of everything below them; other objects just their own."""
    by_code = {o["code"]: o["key"] for o in objects}
    totals: dict[tuple, dict[str, float]] = {o["key"]: {} for o in objects}
    for obj in objects:
        targets = (
            [by_code[c] for c in obj["path"].strip("/").split("/") if c in by_code]
            if "path" in obj
            else [obj["key"]]
        )
        for target in targets:
            sums = totals[target]
            for code, value in own.get(obj["key"], {}).items():
                sums[code] = sums.get(code, 0) + value
    return totals
