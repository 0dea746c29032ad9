"""Rate limits shared by every worker and process of a deployment, counted in the database.

A limit allows `rate` requests of one client in each window of `per` seconds (a fixed window:
the count starts again at each whole window of the clock). Each client has one `rate_count`
row: the current window and how many requests it counted. Counting is one upsert for a whole
batch of requests, sent in the transaction that writes the batch (intake.py), so a limit costs
no round trip of its own; when the write fails, its counts go with it.

The price of counting in the write's transaction: two batches of one client's reports in two
workers take turns on its row. Only one client's requests wait on each other.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from gridcase.core.db.models import RateCount
from gridcase.core.errors import GridcaseError

RATE = RateCount.__table__


def _upsert(dialect: str, rows: list[dict[str, Any]]) -> postgresql.Insert | sqlite.Insert:
    """The INSERT of the rows that counts their hits into rows already there: the same ON
    CONFLICT clause in each dialect's own INSERT."""
    if dialect == "postgresql":
        pg = postgresql.insert(RATE).values(rows)
        return pg.on_conflict_do_update(index_elements=[RATE.c.key], set_=_counted(pg.excluded))
    if dialect == "sqlite":
        lite = sqlite.insert(RATE).values(rows)
        return lite.on_conflict_do_update(index_elements=[RATE.c.key], set_=_counted(lite.excluded))
    raise KeyError(dialect)


def _counted(excluded: ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]) -> dict[str, Any]:
    """The new values of a row that counted hits before: its hits go on within its slot."""
    return {
        "hits": case(
            (RATE.c.slot == excluded.slot, RATE.c.hits + excluded.hits),
            else_=excluded.hits,
        ),
        "slot": excluded.slot,
    }


def limits(settings) -> dict[str, "Limit"]:
    """The deployment's limits by name: a citizen's reports through the JSON API, and an Open311
    account's requests, each a minute (settings `reports_per_minute`, `open311_requests_per_minute`)."""
    return {
        "intake": Limit("intake", settings.reports_per_minute, 60),
        "open311": Limit("open311", settings.open311_requests_per_minute, 60),
    }


@dataclass(frozen=True)
class Limit:
    """At most `rate` requests per `per` seconds for each client; `name` keeps limits apart."""

    name: str
    rate: int
    per: int

    def of(self, client: str) -> "Quota":
        return Quota(f"{self.name}:{client}", self)


@dataclass(frozen=True)
class Quota:
    """One client's share of a limit: what a request is counted against."""

    key: str
    limit: Limit


def take(connection: Connection, quotas: list[Quota | None], now: datetime) -> list[GridcaseError | None]:
    """Count one request against each quota (None: not limited), in one statement; for each, the
    refusal when its client is over the limit, else None. Requests refused still count: a client
    that keeps sending keeps itself refused until its window ends."""
    wanted = Counter(q.key for q in quotas if q is not None)
    if not wanted:
        return [None] * len(quotas)
    epoch = now.timestamp()
    per = {q.key: q.limit.per for q in quotas if q is not None}
    rows = [  # in the keys' order, so that two batches lock their rows in one order
        {"key": key, "slot": int(epoch // per[key]), "hits": wanted[key]} for key in sorted(wanted)
    ]
    counted = _upsert(connection.dialect.name, rows).returning(RATE.c.key, RATE.c.hits)
    # the requests of this batch come after the ones counted before it
    seen = {row.key: row.hits - wanted[row.key] for row in connection.execute(counted)}
    out: list[GridcaseError | None] = []
    for quota in quotas:
        if quota is None:
            out.append(None)
            continue
        seen[quota.key] += 1
        if seen[quota.key] <= quota.limit.rate:
            out.append(None)
        else:
            retry = math.ceil(quota.limit.per - epoch % quota.limit.per)  # when its window ends
            out.append(
                GridcaseError(
                    "rate_limited",
                    f"over {quota.limit.rate} requests in {quota.limit.per} s from this client; slow down",
                    {"retry_after": retry},
                )
            )
    return out
