"""Published assessments (通报): immutable snapshots, versioned, with what changed since the last.

Publishing stores the whole result (append-only table) and posts its ledger amounts. Publishing
the same period again adds a version; ledgers get only the difference from what earlier versions
posted, so a ledger's sum for a period is always the latest version's amount.
"""

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import AssessmentSnapshot, LedgerEntry
from gridcase.core.errors import GridcaseError

SNAPSHOT, LEDGER = AssessmentSnapshot.__table__, LedgerEntry.__table__
COMPARED = ("final", "grade", "rank", "deducted")


def scope_of(result: dict[str, Any]) -> str:
    filters = result["filters"]
    parts = [result["by"]]
    if filters["classes"]:
        parts.append("class=" + ",".join(sorted(filters["classes"])))
    if filters["level"]:
        parts.append(f"level={filters['level']}")
    return " ".join(parts)


def digest(result: dict[str, Any]) -> str:
    """The content's fingerprint; when it was computed is not part of what it says."""
    content = {k: v for k, v in result.items() if k != "generated_at"}
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def publish(engine: Any, result: dict[str, Any], by: str | None = None) -> dict[str, Any]:
    now = engine.time.now()
    try:
        with write(engine.db) as connection:
            return publish_in(connection, result, by, now)
    except IntegrityError:
        period, scope = result["period"]["label"], scope_of(result)
        raise GridcaseError(
            "conflict", f"{period} ({scope}) was published by someone else just now; publish again"
        ) from None


def publish_in(connection: Connection, result: dict[str, Any], by: str | None, now) -> dict[str, Any]:
    """Publish inside the caller's transaction (a scheduled bulletin claims its run in the same one)."""
    period, scope = result["period"]["label"], scope_of(result)
    previous = (
        connection.execute(
            select(SNAPSHOT)
            .where(SNAPSHOT.c.period == period, SNAPSHOT.c.scope == scope)
            .order_by(SNAPSHOT.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    version = previous["version"] + 1 if previous else 1
    snapshot_id = connection.execute(
        insert(SNAPSHOT)
        .values(
            period=period,
            scope=scope,
            version=version,
            published_at=now,
            published_by=by,
            digest=digest(result),
            content=json.loads(json.dumps(result, default=str)),
        )
        .returning(SNAPSHOT.c.id)
    ).scalar_one()
    posted = _post_ledgers(connection, result, period, f"snapshot:{snapshot_id}", now)
    return {
        "id": snapshot_id,
        "period": period,
        "scope": scope,
        "version": version,
        "digest": digest(result),
        "changes": diff(previous["content"], result) if previous else [],
        "ledger_entries": posted,
    }


def _post_ledgers(connection, result, period: str, source: str, now) -> int:
    """Post each object's ledger amount, less what earlier versions of this period posted."""
    posted = {
        (row.ledger, row.object): row.amount
        for row in connection.execute(
            select(LEDGER.c.ledger, LEDGER.c.object, func.sum(LEDGER.c.amount).label("amount"))
            .where(LEDGER.c.period == period, LEDGER.c.source.like("snapshot:%"))
            .group_by(LEDGER.c.ledger, LEDGER.c.object)
        )
    }
    awards = {g["code"]: g["name"] for g in result["ledgers"] if g.get("award")}
    rows = []
    for obj in result["objects"]:
        for ledger, amount in obj["ledgers"].items():
            delta = round(amount - posted.get((ledger, obj["object"]), 0), 2)
            why = (
                f"{period} {awards[ledger]}"
                if ledger in awards
                else f"{period} 考核扣分 {obj['deducted']:g} 分"
            )
            if delta:
                rows.append(
                    {
                        "ledger": ledger,
                        "object": obj["object"],
                        "amount": delta,
                        "points": obj["deducted"],
                        "case_id": None,
                        "period": period,
                        "source": source,
                        "at": now,
                        "reason": why + ("（更正）" if (ledger, obj["object"]) in posted else ""),
                    }
                )
    if rows:
        connection.execute(insert(LEDGER), rows)
    return len(rows)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed per object: its final score, grade, rank, deductions and indicator values."""
    before = {o["object"]: o for o in old.get("objects", [])}
    changes = []
    for obj in new["objects"]:
        was = before.pop(obj["object"], None)
        if was is None:
            changes.append({"object": obj["object"], "field": "object", "was": None, "now": "added"})
            continue
        fields = [(f, was.get(f), obj.get(f)) for f in COMPARED]
        fields += [(code, was["values"].get(code), value) for code, value in obj["values"].items()]
        changes += [{"object": obj["object"], "field": f, "was": a, "now": b} for f, a, b in fields if a != b]
    changes += [{"object": o, "field": "object", "was": "present", "now": None} for o in before]
    return changes


def versions(engine: Any, period: str) -> list[dict[str, Any]]:
    with read(engine.db) as connection:
        rows = connection.execute(
            select(
                SNAPSHOT.c.id,
                SNAPSHOT.c.scope,
                SNAPSHOT.c.version,
                SNAPSHOT.c.published_at,
                SNAPSHOT.c.published_by,
                SNAPSHOT.c.digest,
            )
            .where(SNAPSHOT.c.period == period)
            .order_by(SNAPSHOT.c.scope, SNAPSHOT.c.version)
        ).mappings()
        return [dict(r) for r in rows]
