"""A deployment's profile, typed: `CityProfile`, built once from the validated YAML.

The engine and plugins (`ctx.profile`) read the profile's settings through it
(`engine.city.intake.component_radius_m`) rather than through chains of `.get(…, {})`: every
default is written here, once. The large, list-shaped sections (taxonomy, workflow, time-limit
rules, assessment) are indexed by the services that own them (cases.catalogue, sla.deadlines,
assess.assessor) and are not repeated here; `plain` is the whole profile as data.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_EVIDENCE_BYTES = 10 * 1024 * 1024
Section = TypeVar("Section")


def _zh(label: str | dict[str, str]) -> str:
    """A label's Chinese text: labels are a string or {zh: …, en: …}."""
    return label if isinstance(label, str) else label.get("zh", "")


@dataclass(frozen=True)
class UnitView:
    code: str
    name: str
    kind: str
    parent: str | None
    unit_class: str | None


@dataclass(frozen=True)
class Role:
    code: str
    scope: str | None  # all, unit_subtree, grids, own (None: all)
    group: str | None  # "public": a citizen's role, which sees only public fields
    contacts: str | None  # "full": sees reporters' contacts unmasked


@dataclass(frozen=True)
class Region:
    name: str
    division_code: str  # GB/T 2260
    center: tuple[float, float] | None
    area_km2: float | None


@dataclass(frozen=True)
class Codes:
    case_number: str
    grid: str | None  # a pattern grid codes must match
    component: str | None


@dataclass(frozen=True)
class IntakeSettings:
    component_radius_m: float  # 0: a component is matched only when the report names it
    evidence_max_bytes: int
    out_of_grid: dict[str, Any] | None  # 越界: the rule for a reporter outside their grids
    dedupe: dict[str, Any]  # the default dedupe rule; a class's own is merged over it


@dataclass(frozen=True)
class NotificationSettings:
    channel: str  # the sender notices go through unless their rule names another
    templates: dict[str, str]
    digests: tuple[dict[str, Any], ...]
    bulletins: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RoutingSettings:
    named_person: bool  # dispatch names the responsible person of the unit (责任人)
    command: dict[str, Any]  # command routing's shares (五所进街, 一事双责)


@dataclass(frozen=True)
class PublicSettings:
    """What citizens may do without logging in (docs/public-site.md): the public site, "not
    fixed" and the satisfaction survey. A window of None is switched off."""

    site: bool
    channel: str  # the channel the public site's reports come in on
    reopen_days: int | None  # a closed case may be reopened this many natural days after closing
    survey_days: int | None  # the survey stays open this long after closing
    survey_sms: bool  # the survey's link goes by SMS to a reporter who left a phone
    address: str  # the site's public address, which a link in an SMS starts with ("": none)

    @classmethod
    def of(cls, block: dict[str, Any]) -> "PublicSettings":
        reopen, survey = block.get("reopen") or {}, block.get("survey") or {}
        return cls(
            site=block.get("site", True),
            channel=block.get("channel", "web"),
            reopen_days=reopen.get("days", 7) if reopen.get("enabled", True) else None,
            survey_days=survey.get("days", 30) if survey.get("enabled", True) else None,
            survey_sms=survey.get("sms", True),
            address=(block.get("address") or "").rstrip("/"),
        )


@dataclass(frozen=True)
class CityProfile:
    """A deployment's profile, the sections read by key, typed; `plain` is all of it."""

    name: str
    title_zh: str
    region: Region
    codes: Codes
    timezone: ZoneInfo
    intake: IntakeSettings
    notifications: NotificationSettings
    routing: RoutingSettings
    public: PublicSettings
    tenant_unit_kinds: frozenset[str]
    escalation: tuple[dict[str, Any], ...]  # time_limits.escalation: the rungs
    time_units: dict[str, dict[str, Any]]  # time_limits.units by code (工作日, 自然日, 小时…)
    units: tuple[UnitView, ...]
    roles: dict[str, Role]
    grid_levels: tuple[str, ...]
    workflows: tuple[str, ...]
    simulation: dict[str, Any]  # the simulated workload (gridcase simulate), read by core.simulate
    plain: dict[str, Any] = field(repr=False, compare=False)
    _sections: dict[Callable[[dict[str, Any]], Any], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def division_code(self) -> str:
        return self.region.division_code

    def section(self, parse: Callable[[dict[str, Any]], Section]) -> Section:
        """A section typed by its own package (`parse` reads `plain`: HotlineSettings.of, say),
        parsed once per profile rather than on every call; those packages import this module,
        so their types cannot be fields here without an import cycle."""
        if parse not in self._sections:
            self._sections[parse] = parse(self.plain)
        return self._sections[parse]

    def role(self, code: str) -> Role:
        """A role by code; one the profile does not define has no scope, group or contacts."""
        return self.roles.get(code) or Role(code, None, None, None)

    def config(self, block: str) -> dict[str, Any]:
        """A plugin's configuration block (`config: {block: …}`), validated by the schema the
        plugin registered; {} when the profile has none."""
        return dict((self.plain.get("config") or {}).get(block) or {})

    @classmethod
    def of(cls, profile: dict[str, Any]) -> "CityProfile":
        region = profile.get("region") or {}
        codes = profile.get("codes") or {}
        intake = profile.get("intake") or {}
        notifications = profile.get("notifications") or {}
        routing = profile.get("routing") or {}
        limits = profile.get("time_limits") or {}
        title = profile.get("title")
        center = region.get("center")
        return cls(
            name=profile.get("name", ""),
            title_zh=_zh(title or ""),
            region=Region(
                name=region.get("name", ""),
                division_code=region.get("division_code", ""),
                center=(float(center[0]), float(center[1])) if center else None,
                area_km2=region.get("area_km2"),
            ),
            codes=Codes(
                case_number=codes.get("case_number", ""),
                grid=codes.get("grid"),
                component=codes.get("component"),
            ),
            timezone=ZoneInfo((limits.get("calendar") or {}).get("timezone", DEFAULT_TIMEZONE)),
            intake=IntakeSettings(
                component_radius_m=intake.get("component_radius_m", 0),
                evidence_max_bytes=(intake.get("evidence") or {}).get("max_bytes", DEFAULT_EVIDENCE_BYTES),
                out_of_grid=intake.get("out_of_grid"),
                dedupe=dict(intake.get("dedupe") or {}),
            ),
            notifications=NotificationSettings(
                channel=notifications.get("channel", "log"),
                templates=dict(notifications.get("templates") or {}),
                digests=tuple(notifications.get("digests") or ()),
                bulletins=tuple(notifications.get("bulletins") or ()),
            ),
            routing=RoutingSettings(
                named_person=bool(routing.get("named_person")), command=dict(routing.get("command") or {})
            ),
            public=PublicSettings.of(profile.get("public") or {}),
            tenant_unit_kinds=frozenset((profile.get("tenancy") or {}).get("unit_kinds") or ()),
            escalation=tuple(limits.get("escalation") or ()),
            time_units={u["code"]: u for u in limits.get("units") or ()},
            units=tuple(
                UnitView(u["code"], _zh(u["name"]), u.get("kind", ""), u.get("parent"), u.get("class"))
                for u in profile.get("units", [])
            ),
            roles={
                r["code"]: Role(r["code"], r.get("scope"), r.get("group"), r.get("contacts"))
                for r in profile.get("roles", [])
            },
            grid_levels=tuple(level["code"] for level in profile.get("grid_levels", [])),
            workflows=tuple(w["code"] for w in (profile.get("workflow") or {}).get("workflows", [])),
            simulation=dict(profile.get("simulation") or {}),
            plain=profile,
        )
