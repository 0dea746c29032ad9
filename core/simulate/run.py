"""Drive a stream of incidents through the real engine on a simulated clock.

A discrete-event loop: reports arrive at their times, and after each step a case's next step
is scheduled. The step is drawn, by the profile's `simulation.steps` weights, among the
transitions its workflow allows from the case's state, and waits a log-uniform number of
working minutes on the centre's calendar. Handling also queues behind the unit's earlier work
(`simulation.capacity`, cases a working day), which is where the late cases come from. The
time-limit sweep runs every simulated hour, as `gridcase serve` runs it, and each hour's work
is committed as one transaction.

Every draw for a case comes from its incident's `fate`, so a model that sends the case down
the same path makes the same choices on it.
"""

import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, bindparam, select

from gridcase.core.cases.evidence import Upload
from gridcase.core.db.connection import batch, read
from gridcase.core.db.models import Case, CaseUnit
from gridcase.core.errors import GridcaseError
from gridcase.core.hookspecs import hookimpl
from gridcase.core.notify.outbox import notice_channels
from gridcase.core.profile.workflow import TransitionError
from gridcase.core.simulate.city import City
from gridcase.core.simulate.workload import Incident, log_uniform
from gridcase.core.timesource import ManualTime

if TYPE_CHECKING:
    from gridcase.core.engine import Engine

CASE, CASE_UNIT = Case.__table__, CaseUnit.__table__
SELECT_CASE = select(CASE.c.workflow, CASE.c.state, CASE.c.class_code, CASE.c.kind).where(
    CASE.c.id == bindparam("case")
)
# the open cases a run inherits (`simulate --continue`): earlier days' work still in hand
INHERITED = (
    select(CASE.c.id, CASE.c.workflow, CASE.c.state, CASE.c.channel)
    .where(CASE.c.state_kind == "open", CASE.c.parent_id.is_(None), CASE.c.reported_at < bindparam("start"))
    .order_by(CASE.c.id)
)
ACTIVE_UNITS = (
    select(CASE_UNIT.c.unit)
    .where(
        CASE_UNIT.c.case_id == bindparam("case"), CASE_UNIT.c.role == bindparam("role"), CASE_UNIT.c.active
    )
    .order_by(CASE_UNIT.c.depth.desc(), CASE_UNIT.c.share.desc(), CASE_UNIT.c.id)
)
PHOTO = Upload("现场照片.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))
MAX_STEPS = 40  # a case that has gone round this often is left where it is
WORKING_DAY_MIN = 480
# refusals that mean "not this transition for this case": the simulated person tries another
REFUSED = {"guard_refused", "vetoed", "forbidden", "missing_requirements", "invalid_field"}


@dataclass
class Track:
    """What the simulator knows of a case it drives."""

    case_id: int
    rng: random.Random
    channel: tuple[str, str]  # code and kind: a step may be for some channels only
    workflow: str
    state: str
    steps: int = 0  # tries, refused ones included: MAX_STEPS ends a case that goes round
    kept: set[str] = field(default_factory=set)  # transitions that keep the state, fired once each
    refused: set[str] = field(default_factory=set)  # refused in the current state: not tried again
    # the units as the simulator set them (read from the case once): a lookup per step cost a
    # tenth of the run
    responsible: str | None = None
    handler: str | None = None


@dataclass
class Tally:
    reports: int = 0
    cases: int = 0
    duplicates: int = 0
    rejected: int = 0
    fired: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    mechanisms: Counter = field(default_factory=Counter)
    notices: Counter = field(default_factory=Counter)  # by channel: log, sms, webhook …
    classified: Counter = field(default_factory=Counter)  # free-text reports: right or wrong class
    sweeps: int = 0


class Handsets:
    """A simulated city's notices reach simulated people: each channel's sender counts them.
    Registered last, so it stands in for the real senders (an SMS gateway the city has not
    configured here, a webhook nobody listens to)."""

    def __init__(self, channels: set[str], tally: Tally) -> None:
        self.channels, self.tally = channels, tally

    @hookimpl
    def register_senders(self) -> list[Any]:
        return [_Handset(channel, self.tally.notices) for channel in sorted(self.channels)]


@dataclass
class _Handset:
    channel: str
    received: Counter

    def send(self, message: dict[str, Any]) -> None:
        self.received[self.channel] += 1


class Simulation:
    def __init__(
        self, engine: "Engine", start: datetime, end: datetime, progress: Callable[[int], None] | None = None
    ):
        self.engine = engine
        if not isinstance(engine.time, ManualTime):
            raise TypeError("a simulation moves its engine's time: give the engine a ManualTime")
        self.time = engine.time
        self.city = City(engine)
        self.start, self.end = start, end
        self.progress = progress
        spec = engine.city.simulation
        self.steps: dict[str, dict[str, Any]] = spec.get("steps", {})
        self.capacity: dict[str, float] = spec.get("capacity", {})
        self.calendar = engine.limits.deadlines.calendar(None)
        units = engine.profile.get("units", [])
        self.unit_kind = {u["code"]: u.get("kind") for u in units}
        # a case no rule routed goes to the centre (the first unit of that kind, else the first)
        self.centre = next(
            (u["code"] for u in units if u.get("kind") == "centre"), units[0]["code"] if units else None
        )
        self.unit_roles = {r.code for r in engine.city.roles.values() if r.scope == "unit_subtree"}
        working = [code for code, unit in engine.city.time_units.items() if unit.get("working")]
        self.extension_unit = (
            "work_day" if "work_day" in working else (working or list(engine.city.time_units))[0]
        )
        self.free_at: dict[str | None, datetime] = {}  # by handling unit (None: no unit handles it)
        self.queue: list[tuple[datetime, int, int, str]] = []
        self.tracks: dict[int, Track] = {}
        self.tally = Tally()
        self._seq = 0
        channels = notice_channels(engine.city)
        engine.pm.register(Handsets(channels, self.tally), name="gridcase.simulate.handsets")

    # -- the loop ----------------------------------------------------------------------------

    def run(self, stream: list[Incident]) -> Tally:
        self._inherit()
        self._arrivals = iter(stream)
        self._incident = next(self._arrivals, None)
        sweep_at = self.start
        while sweep_at <= self.end:
            # an hour's work is one transaction: the loop is the only writer, and a commit
            # for each of its operations cost a fifth of the run
            with batch(self.engine.db):
                self._sweep(sweep_at)
                sweep_at += timedelta(hours=1)
                self._until(min(sweep_at, self.end))
        self.time.set(self.end)
        return self.tally

    def _until(self, bound: datetime) -> None:
        """Play the arrivals and steps due before `bound`, in time order."""
        while True:
            step_at = self.queue[0][0] if self.queue else None
            arrival_at = self._incident.at if self._incident else None
            now = min((t for t in (step_at, arrival_at) if t is not None), default=bound)
            if now >= bound:
                return
            self.time.set(now)
            if self._incident is not None and arrival_at == now:
                self._report(self._incident)
                self._incident = next(self._arrivals, None)
            else:
                _, _, case_id, code = heapq.heappop(self.queue)
                self._fire(self.tracks[case_id], code, now)

    def _sweep(self, at: datetime) -> None:
        self.time.set(at)
        self.engine.sweep(at)
        self.tally.sweeps += 1

    def _schedule(self, track: Track, at: datetime, code: str) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (at, self._seq, track.case_id, code))

    def _inherit(self) -> None:
        """Take up the open cases of earlier days (a database simulated into before): the city's
        people go on working them from the first moment of the period, as they would."""
        with read(self.engine.db) as connection:
            inherited = connection.execute(INHERITED, {"start": self.start}).all()
        for case_id, workflow, state, channel in inherited:
            # a channel the profile no longer has (its cases came in under an older one)
            kind = (self.engine.catalogue.channels.get(channel) or {"kind": channel})["kind"]
            track = Track(
                case_id,
                random.Random(f"{case_id}@{self.start.isoformat()}"),
                (channel, kind),
                workflow,
                state,
                responsible=next(iter(self._units(case_id, "responsible")), None),
                handler=next(iter(self._units(case_id, "handling")), None),
            )
            self.tracks[case_id] = track
            self._next(track, self.start)

    # -- reports -----------------------------------------------------------------------------

    def _report(self, incident: Incident) -> None:
        report, actor = self.city.report(incident)
        self.tally.reports += 1
        if self.progress:
            self.progress(1)
        try:
            result = self.engine.intake(report, actor)
        except GridcaseError as exc:
            self.tally.rejected += 1
            self.tally.refused[f"intake:{exc.code}"] += 1
            return
        if result["duplicate"]:
            self.tally.duplicates += 1
            return
        self.tally.cases += 1
        case = self._case(result["case_id"])
        if "category" not in report:  # 一门式: did the classifier find the incident's class?
            meant = self.city.class_of(incident)
            self.tally.classified["right" if (case["kind"], case["class_code"]) == meant else "wrong"] += 1
        track = Track(
            result["case_id"],
            random.Random(incident.fate),
            (report["channel"], self.city.engine.catalogue.channels[report["channel"]]["kind"]),
            case["workflow"],
            case["state"],
            responsible=next(iter(self._units(result["case_id"], "responsible")), None),
        )
        self.tracks[track.case_id] = track
        self._next(track, incident.at)

    # -- steps -------------------------------------------------------------------------------

    def _choices(self, track: Track) -> list[tuple[str, dict[str, Any]]]:
        workflow = self.engine.catalogue.workflows[track.workflow]
        out = []
        for transition in workflow.available(track.state):
            step = self.steps.get(transition.code)
            if not step or step["weight"] <= 0 or transition.code in track.refused:
                continue
            if transition.target is None and transition.code in track.kept:
                continue
            if step.get("channels") and not set(track.channel) & set(step["channels"]):
                continue
            out.append((transition.code, step))
        return out

    def _next(self, track: Track, now: datetime) -> None:
        if track.steps >= MAX_STEPS:
            return
        choices = self._choices(track)
        if not choices:
            return
        code, step = track.rng.choices(choices, [s["weight"] for _, s in choices])[0]
        wait = log_uniform(track.rng, *step.get("minutes", (5, 60)))
        start = now
        if code == "handle":  # the unit works through its cases in turn
            unit = self._handling_unit(track)
            kind = self.unit_kind.get(unit)
            capacity = self.capacity.get(kind or "default", self.capacity.get("default", 60))
            start = max(now, self.free_at.get(unit, now))
            self.free_at[unit] = self.calendar.add(start, WORKING_DAY_MIN / capacity)
        self._schedule(track, self.calendar.add(start, wait), code)

    def _fire(self, track: Track, code: str, now: datetime) -> None:
        track.steps += 1
        workflow = self.engine.catalogue.workflows[track.workflow]
        transition = workflow.transitions[code]
        role = sorted(transition.roles)[0]
        unit = self._handling_unit(track) if role in self.unit_roles else None
        payload, reason = self._fill(track, transition)
        uploads = [PHOTO] * len(transition.evidence)
        try:
            case = self.engine.transition(
                track.case_id, code, self.city.actor(role, unit), payload, reason, uploads, brief=True
            )
        except TransitionError as exc:
            self.tally.refused[f"{code}:{exc.code}"] += 1
            if exc.code in REFUSED:  # try something else
                track.refused.add(code)
            else:  # the case moved under us (a sweep's escalation, say): look again
                self._moved(track, self._case(track.case_id)["state"])
            self._next(track, now)
            return
        self._moved(track, case["state"])
        sets = dict(transition.sets)
        moves = [self.engine.moves[name] for name in transition.moves]
        if any(m.handling for m in moves):  # a move chose the units (the unit above, say)
            track.handler = next(iter(self._units(track.case_id, "handling")), None)
        elif "units" in payload and not any(m.takes_units for m in moves):
            track.handler = payload["units"][0]
        elif sets.get("release_units"):
            track.handler = None
        if "category" in payload:  # filing may re-route
            track.responsible = next(iter(self._units(track.case_id, "responsible")), track.responsible)
        if transition.target is None:
            track.kept.add(code)
        self.tally.fired[code] += 1
        mechanism = (self.steps.get(code) or {}).get("mechanism")
        if mechanism:
            self.tally.mechanisms[mechanism] += 1
        self._next(track, now)

    @staticmethod
    def _moved(track: Track, state: str) -> None:
        if state != track.state:
            track.state, track.refused = state, set()

    def _fill(self, track: Track, transition) -> tuple[dict[str, Any], str | None]:
        """The fields a transition requires, as the person firing it would give them."""
        payload: dict[str, Any] = {}
        if "units" in transition.fields:
            payload["units"] = [track.responsible or self.centre]
        if "category" in transition.fields:
            case = self._case(track.case_id)
            payload.update(category=case["class_code"], kind=case["kind"])
            rows = self.engine.catalogue.classes[(case["kind"], case["class_code"])]["minor"].get(
                "standards", []
            )
            if rows:
                payload["standard"] = track.rng.choice(rows)["code"]
        if "amount" in transition.fields:
            payload["amount"] = f"{track.rng.choice((1, 2, 3))} {self.extension_unit}"
        if "satisfaction" in transition.fields:
            payload["satisfaction"] = track.rng.choices(
                ["satisfied", "basically", "unsatisfied"], [80, 15, 5]
            )[0]
        reason = f"模拟：{transition.name}" if transition.reason else None
        for name in transition.fields:
            payload.setdefault(name, "模拟")
        return payload, reason

    def _case(self, case_id: int) -> RowMapping:
        with read(self.engine.db) as connection:  # the hour's batch: it sees the hour's writes
            return connection.execute(SELECT_CASE, {"case": case_id}).mappings().one()

    def _units(self, case_id: int, role: str) -> list[str]:
        with read(self.engine.db) as connection:
            return list(connection.execute(ACTIVE_UNITS, {"case": case_id, "role": role}).scalars())

    def _handling_unit(self, track: Track) -> str | None:
        return track.handler or track.responsible
