"""The declarative state machine read from a profile's `workflow` section.

Pure: no database, no clock. The engine (core/cases.py) asks it which transitions exist and
what they require, and records the result.
"""

from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from gridcase.core.errors import GridcaseError
from gridcase.core.profile.taxonomy import label_zh


class TransitionError(GridcaseError):
    """A transition that cannot happen. `code` is stable (the API maps it to a status)."""


@dataclass(frozen=True)
class State:
    code: str
    name: str
    kind: str  # open | closed


@dataclass(frozen=True)
class Transition:
    code: str
    name: str
    sources: frozenset[str]
    target: str | None  # None: the state does not change (督办, 回访)
    roles: frozenset[str]
    guards: tuple[str, ...] = ()
    moves: tuple[str, ...] = ()  # unit moves registered by plugins (register_unit_moves)
    fields: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    reason: bool = False
    starts: tuple[str, ...] = ()
    stops: tuple[str, ...] = ()
    pauses: tuple[str, ...] = ()
    resumes: tuple[str, ...] = ()
    extends: tuple[str, ...] = ()
    sets: tuple[tuple[str, bool], ...] = ()  # case flags: verified, urgent, release_units

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Transition":
        requires = spec.get("requires", {})
        return cls(
            code=spec["code"],
            name=label_zh(spec.get("name")),
            sources=frozenset(spec["from"]),
            target=spec.get("to"),
            roles=frozenset(spec["roles"]),
            guards=tuple(spec.get("guards", ())),
            moves=tuple(spec.get("moves", ())),
            fields=tuple(requires.get("fields", ())),
            evidence=tuple(requires.get("evidence", ())),
            reason=bool(requires.get("reason", False)),
            sets=tuple(sorted(spec.get("sets", {}).items())),
            **{key: tuple(spec.get(key, ())) for key in ("starts", "stops", "pauses", "resumes", "extends")},
        )

    def missing(self, payload: dict[str, Any], reason: str | None, evidence: list[str]) -> list[str]:
        """What the caller still has to supply, in words; empty when complete."""
        problems = [f"field {f!r} is required" for f in self.fields if payload.get(f) in (None, "", [])]
        if self.reason and not (reason or "").strip():
            problems.append("a reason is required")
        have = Counter(evidence)
        problems += [f"evidence of kind {kind!r} is required" for kind in self.evidence if not have[kind]]
        return problems


@dataclass(frozen=True)
class Workflow:
    code: str
    name: str
    initial: str
    starts: tuple[str, ...]
    states: dict[str, State]
    transitions: dict[str, Transition]
    separate: tuple[frozenset[str], ...] = ()  # duties one person may not combine on a case

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Workflow":
        return cls(
            code=spec["code"],
            name=label_zh(spec.get("name")),
            initial=spec["initial"],
            starts=tuple(spec.get("starts", ())),
            states={s["code"]: State(s["code"], label_zh(s.get("name")), s["kind"]) for s in spec["states"]},
            transitions={t["code"]: Transition.from_spec(t) for t in spec.get("transitions", [])},
            separate=tuple(frozenset(group) for group in spec.get("separate", ())),
        )

    def kept_apart(self, code: str) -> frozenset[str]:
        """The transitions a person who fires `code` on a case must not also have fired on it."""
        if not any(code in group for group in self.separate):
            return frozenset()
        return frozenset().union(*(group for group in self.separate if code not in group))

    def get(self, code: str) -> Transition:
        try:
            return self.transitions[code]
        except KeyError:
            raise TransitionError(
                "unknown_transition", f"workflow {self.code!r} has no transition {code!r}"
            ) from None

    def available(self, state: str, roles: AbstractSet[str] | None = None) -> list[Transition]:
        """Transitions from `state`, optionally only those one of `roles` may fire."""
        return [
            t
            for t in self.transitions.values()
            if state in t.sources and (roles is None or t.roles & set(roles))
        ]

    def check(self, transition: Transition, state: str, roles: AbstractSet[str]) -> None:
        if state not in transition.sources:
            raise TransitionError(
                "illegal_transition",
                f"{transition.code!r} ({transition.name}) cannot be fired from state {state!r}",
                {"state": state, "allowed_from": sorted(transition.sources)},
            )
        if not transition.roles & set(roles):
            raise TransitionError(
                "forbidden",
                f"{transition.code!r} needs one of the roles {', '.join(sorted(transition.roles))}",
                {"roles": sorted(transition.roles)},
            )

    def target_of(self, transition: Transition, state: str) -> str:
        return transition.target or state

    def kind_of(self, state: str) -> str:
        return self.states[state].kind

    def mermaid(self) -> str:
        """A Mermaid state diagram of the workflow (docs and the admin UI draw it)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for state in self.states.values():
            lines.append(f"    {state.code} : {state.name}")
            if state.kind == "closed":
                lines.append(f"    {state.code} --> [*]")
        for t in self.transitions.values():
            for source in sorted(t.sources):
                lines.append(f"    {source} --> {t.target or source} : {t.name}")
        return "\n".join(lines) + "\n"


def workflows(profile: dict[str, Any]) -> dict[str, Workflow]:
    return {spec["code"]: Workflow.from_spec(spec) for spec in profile["workflow"]["workflows"]}
