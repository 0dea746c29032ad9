"""One city's reading of an incident: which of its grids, classes and channels it falls on, and
who in its model acts on the case."""

import random
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import select

from gridcase.core.db.connection import read
from gridcase.core.db.models import Person
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.profile.taxonomy import label_zh

if TYPE_CHECKING:
    from gridcase.core.engine import Engine
    from gridcase.core.simulate.workload import Incident

PERSON = Person.__table__
SIM_PREFIX = "sim_"  # the simulated staff's usernames: sim_operator, sim_dispatcher, ...


WORDS_SALT = 0x5EED  # the words of a report are drawn apart from its case's later steps


class City:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        index = engine.places.grids
        empty = np.empty(0, dtype=np.intp)
        deepest = np.flatnonzero(index.depth == index.depth.max()) if len(index) else empty
        self.grids = [index.geoms[i] for i in deepest]
        self.bounds = [shapely.bounds(g) for g in self.grids]
        self.centre = engine.city.region.center or (116.4, 39.9)
        channels = engine.profile.get("channels", [])
        self.channels: dict[str, dict[str, Any]] = {}
        for channel in channels:
            self.channels.setdefault(channel["kind"], channel)
        self.fallback_channel = self.channels.get("patrol") or channels[0]
        self.classes = set(engine.catalogue.classes)
        self.free_text = set(engine.city.simulation.get("free_text", []))
        # a patrol checklist's first item of each class: grid workers report what the list names
        self.items: dict[tuple[str | None, str, str], str] = {}
        for code, item in engine.catalogue.checklist_items.items():
            for channel in item["channels"] or [None]:
                self.items.setdefault((channel, item["kind"], item["class"]), code)
        self.stand_ins: dict[tuple[str, str], tuple[str, str]] = {}
        self.staff = self._staff()

    def _staff(self) -> dict[str, int]:
        """One simulated person per role, so every event has an actor a bulletin can name."""
        roles = list(self.engine.city.roles)
        # named as the pages name the role (a timeline shows the name, never the code)
        titles = {r["code"]: r.get("name") for r in self.engine.profile.get("roles", [])}
        with read(self.engine.db) as connection:
            known = dict(
                connection.execute(
                    select(PERSON.c.username, PERSON.c.id).where(PERSON.c.username.like(f"{SIM_PREFIX}%"))
                ).all()
            )
        for role in roles:
            name = SIM_PREFIX + role
            if name not in known:
                known[name] = add_person(
                    self.engine.db, name, f"模拟{label_zh(titles.get(role)) or role}", [role]
                )
        return {role: known[SIM_PREFIX + role] for role in roles}

    # -- the incident, read by this city ---------------------------------------------------

    def point(self, incident: "Incident") -> list[float]:
        """A point inside the grid the incident falls on (the same place, for a repeat)."""
        if not self.grids:
            return [self.centre[0] + (incident.v - 0.5) * 0.05, self.centre[1] + (incident.w - 0.5) * 0.05]
        i = min(int(incident.u * len(self.grids)), len(self.grids) - 1)
        geometry, (x0, y0, x1, y1) = self.grids[i], self.bounds[i]
        for k in range(8):  # a few tries along a low-discrepancy walk, then the grid's own point
            v, w = (incident.v + 0.618034 * k) % 1, (incident.w + 0.381966 * k) % 1
            x, y = x0 + v * (x1 - x0), y0 + w * (y1 - y0)
            if shapely.intersects_xy(geometry, x, y):
                return [round(x, 7), round(y, 7)]
        inner = geometry.representative_point()
        return [round(inner.x, 7), round(inner.y, 7)]

    def class_of(self, incident: "Incident") -> tuple[str, str]:
        key = (incident.kind, incident.code)
        if key in self.classes:
            return key
        if key not in self.stand_ins:
            # a city without the class takes its first of the same major class, else of the kind
            kind, code = key
            same_major = sorted(c for c in self.classes if c[0] == kind and c[1][:2] == code[:2])
            same_kind = sorted(c for c in self.classes if c[0] == kind)
            self.stand_ins[key] = (same_major or same_kind or sorted(self.classes))[0]
        return self.stand_ins[key]

    def channel_of(self, incident: "Incident") -> dict[str, Any]:
        """`simulation.channels` names a channel by its code, or by its kind (the first of it)."""
        key = incident.channel_kind
        return self.engine.catalogue.channels.get(key) or self.channels.get(key, self.fallback_channel)

    def report(self, incident: "Incident") -> tuple[dict[str, Any], Actor]:
        channel = self.channel_of(incident)
        kind, code = self.class_of(incident)
        report = {"channel": channel["code"], "category": code, "kind": kind, "point": self.point(incident)}
        item = self.items.get((channel["code"], kind, code)) or self.items.get((None, kind, code))
        if item:
            report = {"channel": channel["code"], "item": item, "point": report["point"]}
        words = self.engine.catalogue.classes[(kind, code)]["minor"].get("aliases")
        if channel["code"] in self.free_text and words:  # 一门式: the citizen says what they see
            word = random.Random(incident.fate ^ WORDS_SALT).choice(words)
            report = {
                "channel": report["channel"],
                "description": f"{word}，请尽快处理",
                "point": report["point"],
            }
        role = (channel.get("roles") or ["operator"])[0]
        return report, self.actor(role)

    # -- people ----------------------------------------------------------------------------

    def actor(self, role: str, unit: str | None = None) -> Actor:
        return Actor.of(role, id=self.staff.get(role), unit=unit)
