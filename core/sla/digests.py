"""Daily digests: each unit's results of the day, sent at a set local time (和平's 17:30 SMS).

The profile's `notifications.digests` lists them. Each has a local time `at`, the `unit_kinds`
whose units get one, an optional `channel` and `template` (fields `{unit}`, `{date}`, `{new}`,
`{closed}`, `{overdue}`). The sweep sends a day's digest once its time has passed, once however
many workers sweep (`scheduled_runs`).

The figures count a unit as the responsible unit (新增, 办结 that day) and as the owner of a
running handling clock past its deadline (超期未处置 at the moment of sending).
"""

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from gridcase.core.db.connection import write
from gridcase.core.db.models import Case, CaseUnit, Clock
from gridcase.core.notify.outbox import notice_channel, outbox_row
from gridcase.core.notify.schedule import claimed, reached, record
from gridcase.core.profile.taxonomy import label_zh

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment

CASE, CASE_UNIT, CLOCK = (t.__table__ for t in (Case, CaseUnit, Clock))
TEMPLATE = "【每日通报】{unit} {date}：新增{new}件，办结{closed}件，超期未处置{overdue}件。"


def send_due(engine: "Deployment", now: datetime) -> int:
    """Send the digests whose time has passed today and that have not gone out; the notices made."""
    local = now.astimezone(engine.city.timezone)
    made = 0
    for digest in engine.city.notifications.digests:
        if not reached(local, digest["at"]):
            continue
        try:
            rows = _send(engine, digest, local, now)
        except IntegrityError:  # another sweeper claimed the day between our look and our insert
            continue
        made += len(rows)
    return made


def _send(engine: "Deployment", digest, local: datetime, now: datetime) -> list[dict]:
    """Claim the day's digest and queue its notices in one transaction; none if it was claimed."""
    with write(engine.db) as connection:
        if claimed(connection, digest["code"], local.date()):
            return []
        rows = _notices(connection, engine, digest, local, now)
        record(connection, digest["code"], local.date(), now, rows)
    return rows


def _notices(connection: Connection, engine: "Deployment", digest, local: datetime, now) -> list[dict]:
    kinds = set(digest["unit_kinds"])
    units = {u["code"]: u for u in engine.profile.get("units", []) if u.get("kind") in kinds}
    start = datetime.combine(local.date(), time(), local.tzinfo)
    day = (start, start + timedelta(days=1))
    responsible = (
        (CASE_UNIT.c.case_id == CASE.c.id) & (CASE_UNIT.c.role == "responsible") & CASE_UNIT.c.active
    )
    new = _by_unit(connection, CASE.c.reported_at, responsible, day, units)
    closed = _by_unit(connection, CASE.c.closed_at, responsible, day, units)
    overdue: dict[str, int] = dict(
        connection.execute(
            select(CLOCK.c.owner, func.count())
            .where(CLOCK.c.status == "running", CLOCK.c.stage == "handle", CLOCK.c.deadline < now)
            .where(CLOCK.c.owner.in_(units))
            .group_by(CLOCK.c.owner)
        ).all()
    )
    channel = notice_channel(engine.city, digest)
    template = digest.get("template", TEMPLATE)
    rows = []
    for code, unit in units.items():
        figures = {"new": new.get(code, 0), "closed": closed.get(code, 0), "overdue": overdue.get(code, 0)}
        text = template.format(
            unit=label_zh(unit.get("name")) or code, date=local.date().isoformat(), **figures
        )
        payload = {"digest": digest["code"], "day": local.date().isoformat(), **figures}
        rows.append(outbox_row(now, channel, f"unit:{code}", None, f"digest:{digest['code']}", text, payload))
    return rows


def _by_unit(connection: Connection, moment, responsible, day, units) -> dict[str, int]:
    query = (
        select(CASE_UNIT.c.unit, func.count(func.distinct(CASE.c.id)))
        .where(responsible, moment >= day[0], moment < day[1], CASE_UNIT.c.unit.in_(units))
        .group_by(CASE_UNIT.c.unit)
    )
    return dict(connection.execute(query).all())
