"""Scheduled bulletins (通报): last month's assessment, published on a set day of the month (泰州
publishes its ranking mid-month, on the 15th), with notices of it.

The profile's `notifications.bulletins` lists them. The first sweep after the `day` and local time
`at` assesses the previous month `by` its objects, publishes it as a snapshot (ledgers posted),
and queues notices: to each role in `notify` the top and bottom of each ranking, and to each unit
of `unit_kinds` its own rank and score. The month's run (`bulletin:<code>`, the
publication day) is claimed in the same transaction as the snapshot and the notices
(`scheduled_runs`), so it goes out once however many workers sweep.
"""

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from gridcase.core.assess.assessor import Assessor
from gridcase.core.assess.snapshots import publish_in
from gridcase.core.db.connection import read, write
from gridcase.core.notify.outbox import notice_channel, outbox_row
from gridcase.core.notify.schedule import claimed, reached, record
from gridcase.core.profile.taxonomy import label_zh

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment

SUMMARY = "【{name}】{period}考核结果已发布（第{version}版）。{rankings}"
OWN = "【{name}】{unit} {period}：排名第{rank}名，最终得分{final}。"


def publish_due(engine: "Deployment", now: datetime) -> int:
    """Publish the bulletins whose day and time have come this month; the notices made."""
    local = now.astimezone(engine.city.timezone)
    made = 0
    for bulletin in engine.city.notifications.bulletins:
        if local.day < bulletin["day"] or (
            local.day == bulletin["day"] and not reached(local, bulletin["at"])
        ):
            continue
        run = f"bulletin:{bulletin['code']}", local.date().replace(day=bulletin["day"])
        with read(engine.db) as connection:
            if claimed(connection, *run):
                continue
        # assessed before the write transaction: a month of a large city takes seconds, and
        # intake must not wait behind it
        result = Assessor(engine).assess(previous_month(local.date()), by=bulletin.get("by", "unit"), now=now)
        try:
            with write(engine.db) as connection:
                if claimed(connection, *run):
                    continue
                published = publish_in(connection, result, f"schedule:{bulletin['code']}", now)
                rows = _notices(engine, bulletin, result, published, now)
                record(connection, *run, now, rows)
        except IntegrityError:  # another sweeper claimed the month between our look and our insert
            continue
        made += len(rows)
    return made


def previous_month(day: date) -> str:
    return f"{day.year - 1}-12" if day.month == 1 else f"{day.year}-{day.month - 1:02d}"


def _notices(engine: "Deployment", bulletin, result, published, now) -> list[dict[str, Any]]:
    name = label_zh(bulletin["name"])
    period = result["period"]["label"]
    names = {o["object"]: o["name"] for o in result["objects"]}
    parts = []
    for ranking in result["rankings"]:
        ranked = [names[o] for o in ranking["objects"]]
        label = ranking["composite"] + (f"·{ranking['class']}" if ranking["class"] else "")
        parts.append(f"{label}：前三名 {'、'.join(ranked[:3])}；后三名 {'、'.join(ranked[-3:][::-1])}。")
    channel = notice_channel(engine.city, bulletin)
    payload = {"bulletin": bulletin["code"], "period": period, "snapshot": published["id"]}
    event = f"bulletin:{bulletin['code']}"
    summary = SUMMARY.format(name=name, period=period, version=published["version"], rankings="".join(parts))
    rows = [
        outbox_row(now, channel, f"role:{role}", None, event, summary, payload)
        for role in bulletin.get("notify", [])
    ]
    kinds = set(bulletin.get("unit_kinds", []))
    unit_kinds = {u["code"]: u.get("kind") for u in engine.profile.get("units", [])}
    for obj in result["objects"]:
        if obj["rank"] is None or unit_kinds.get(obj["code"]) not in kinds:
            continue
        text = OWN.format(
            name=name, unit=obj["name"], period=period, rank=obj["rank"], final=f"{obj['final']:g}"
        )
        rows.append(outbox_row(now, channel, f"unit:{obj['code']}", None, event, text, payload))
    return rows
