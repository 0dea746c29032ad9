"""The deployment's time limits as a service: the deadline rules, the clock service, and the
administrators' calendar overrides and confirmed years, taken up from the database; and the rule for
steps made offline (which of their two times stops a clock)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine as Database

from gridcase.core.context import Hooks
from gridcase.core.db.connection import write
from gridcase.core.people.actor import SYSTEM
from gridcase.core.sla import overrides as calendar_overrides
from gridcase.core.sla.clocks import Clocks
from gridcase.core.sla.deadlines import Deadlines
from gridcase.core.sla.offline import OfflineRule


class TimeLimits:
    def __init__(
        self,
        profile: dict[str, Any],
        db: Database,
        hooks: Hooks,
        taxonomy_at: Callable[[int], dict[str, Any]],
    ) -> None:
        self.db = db
        self.deadlines = Deadlines(profile, hooks, taxonomy_at)
        self.clocks = Clocks(self.deadlines)
        self.offline = OfflineRule.of(profile)  # steps made on a handset without a connection
        self._recomputed_for: tuple | None = None
        self.refresh_calendars()

    def refresh_calendars(self) -> None:
        """Take up the administrators' working-day overrides and confirmed years (the server
        does before each sweep)."""
        overrides, years = calendar_overrides.load(self.db), calendar_overrides.load_years(self.db)
        self.deadlines.apply_overrides(overrides, years)

    def use_rules(self, rules: list[dict[str, Any]]) -> None:
        self.deadlines.use_rules(rules)

    def recompute_deadlines(self, now: datetime) -> int:
        """Provisional deadlines counted again on today's calendars (the sweep runs it), in a
        transaction of its own: once a process for each set of calendars, since a deadline
        started after it was counted on them already."""
        key = self.deadlines.calendar_key
        if key == self._recomputed_for:
            return 0
        with write(self.db) as connection:
            changed = self.clocks.recompute(connection, now, SYSTEM)
        self._recomputed_for = key  # after the commit: a rolled-back recompute is tried again
        return changed
