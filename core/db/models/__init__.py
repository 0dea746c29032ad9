"""The tables, by area. Cases hold current state and denormalised facts for fast queries; the
`case_event` rows are the truth and are append-only. Import tables from here."""

from gridcase.core.db.models.cases import (
    Case,
    CaseEvent,
    CaseUnit,
    Clock,
    Counter,
    DigestRun,
    Evidence,
    NoticeRead,
    Outbox,
    RateCount,
    Report,
    ReportContact,
    Timer,
    TransitionKey,
)
from gridcase.core.db.models.hotline import HotlineOrder
from gridcase.core.db.models.people import (
    ApiToken,
    LoginAttempt,
    PatrolPoint,
    Person,
    Responsibility,
    Unit,
    UnitClassChange,
    UnitCommand,
    WebSession,
)
from gridcase.core.db.models.places import Component, Grid
from gridcase.core.db.models.records import (
    AssessmentSnapshot,
    CalendarOverride,
    CalendarYear,
    LedgerEntry,
    SettingChange,
    TaxonomyChange,
)
from gridcase.core.db.models.types import UTCDateTime

__all__ = [
    "ApiToken", "AssessmentSnapshot", "CalendarOverride", "CalendarYear", "Case", "CaseEvent", "CaseUnit",
    "Clock",
    "Component", "Counter", "DigestRun", "Evidence", "Grid", "HotlineOrder", "LedgerEntry", "LoginAttempt",
    "NoticeRead",
    "Outbox", "PatrolPoint",
    "Person", "RateCount", "Report", "ReportContact", "Responsibility", "SettingChange", "TaxonomyChange",
    "Timer", "TransitionKey", "Unit", "UnitClassChange", "UnitCommand", "UTCDateTime", "WebSession",
]  # fmt: skip
