"""Intake: reports from any channel become cases (or join the open case each one repeats).

Reports are taken in batches. The server gathers the reports that arrive while a batch is being
written (`web/coalesce.py`), and `intake_many` writes them together; a single report is a batch
of one. Everything that can be checked without the database is checked first (channel,
location, category, evidence, grid, tenancy), so a bad report writes nothing, holds no lock and
fails alone. The rest of the batch is written in one transaction (`intake_write.py`): one BEGIN,
one COMMIT and a few round trips for the lot instead of for each report, which is what a
PostgreSQL intake spent most of its time on.

When that transaction fails, nothing of it stays, and a batch of several is written again one
report at a time, so that one report's failure (its idempotency key raced by another worker,
text the database refuses) is its own. A retry with an idempotency key passes the same checks
as its first try, so it is answered with that try's case.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError, IntegrityError

from gridcase.core.cases.evidence import Stored, Upload
from gridcase.core.cases.idempotency import MAX_KEY, digest, scoped
from gridcase.core.context import IncomingReport
from gridcase.core.db.connection import query, write
from gridcase.core.db.models import Report, ReportContact
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.quota import Quota, take
from gridcase.core.intake.write import BY_KEY, Checked, answer_again, replayed, write_batch
from gridcase.core.places.geo import CRS, CoordinateError, to_wgs84
from gridcase.core.profile.checklists import item_class
from gridcase.core.sla.offline import device_time
from gridcase.core.text import check_text

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.people.actor import Actor

log = logging.getLogger("gridcase.intake")


def _length(column: Any) -> int:
    """A text column's length (its type is a String with one)."""
    return column.type.length


TEXT_FIELDS = (
    "channel",
    "crs",
    "description",
    "address",
    "category",
    "kind",
    "component",
    "standard",
    "item",
)
MEDIA_URL = Report.__table__.c.media_url
# the contact a report may carry, and the longest each may be (its column's length)
CONTACT_FIELDS = {c.name: _length(c) for c in ReportContact.__table__.c if c.name != "report_id"}


@dataclass(frozen=True)
class Submission:
    """A report as a client sent it: the fields, who sent it, its files and idempotency key."""

    report: Any
    actor: "Actor"
    uploads: tuple[Upload, ...] = ()
    key: str | None = None
    quota: Quota | None = None  # the rate limit it counts against (quota.py), if any


def _invalid(message: str, **details: Any) -> GridcaseError:
    return GridcaseError("invalid_report", message, details)


def check_report(engine: "Deployment", report: dict[str, Any], actor: "Actor") -> dict[str, Any]:
    """The normalised report, or GridcaseError saying what is wrong with it."""
    if not isinstance(report, dict):
        raise _invalid("a report is a mapping of fields")
    for key in TEXT_FIELDS:  # before anything uses them: a number or a list for a code was a 500
        if report.get(key) is not None and not isinstance(report[key], str):
            raise _invalid(f"{key} must be text", field=key)
        check_text(report.get(key), key)
    channel = engine.catalogue.channels.get(report.get("channel") or "")
    if channel is None or channel.get("enabled") is False:
        raise GridcaseError("unknown_channel", f"no enabled channel {report.get('channel')!r}")
    if channel.get("roles") and not set(channel["roles"]) & actor.roles:
        raise GridcaseError(
            "forbidden", f"channel {channel['code']!r} takes reports from {', '.join(channel['roles'])} only"
        )
    point = report.get("point")
    # numbers, not their text: "120.6" is what a form sends, and a client that sends it in JSON
    # has mixed up its fields (a string that only looked like a number was stored)
    if not (
        isinstance(point, (list, tuple))
        and len(point) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
    ):
        raise _invalid("point must be [longitude, latitude], two numbers", field="point")
    crs = report.get("crs") or "wgs84"
    if crs not in CRS:
        raise _invalid(f"crs is one of {', '.join(CRS)}, not {crs!r}", field="crs")
    try:
        lon, lat = to_wgs84(point[0], point[1], crs)
    except CoordinateError as exc:
        raise _invalid(str(exc), field="point") from None
    if len(report.get("description") or "") > 5000 or len(report.get("address") or "") > 500:
        raise _invalid("description (5000) or address (500) is too long")
    _check_media_and_contact(report)
    made_at = None
    if report.get("made_at") is not None:  # made on a handset offline (the field app), sent now
        made_at = device_time(report["made_at"])
        engine.limits.offline.check(made_at, engine.time.now())
    category, kind = report.get("category"), report.get("kind")
    explanation = None
    if report.get("item"):  # a patrol checklist's item names its class (禅城's 334 items)
        category, kind = item_class(engine.catalogue.checklist_items, report, channel["code"])
    if not category:
        incoming = IncomingReport(
            report.get("description") or "", report.get("address"), channel["code"], lon, lat
        )
        found = engine.hooks.call("classify_case", report=incoming)
        if not found:
            raise GridcaseError(
                "unclassifiable", "the report has no category and none could be found in its text; choose one"
            )
        category, kind, explanation = found["code"], found.get("kind"), found.get("explanation")
    info = engine.catalogue.resolve_class(category, kind)
    standard = report.get("standard")
    if standard and standard not in {row["code"] for row in info["minor"].get("standards", [])}:
        code = info["minor"]["code"]
        raise _invalid(f"standard {standard!r} is not one of class {code}'s", field="standard")
    return {
        **report,
        "description": report.get("description"),
        "channel": channel["code"],
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "category": category,
        "classified": explanation,
        "info": info,
        "urgent": bool(report.get("urgent")),
        "made_at": made_at,
    }


def _check_media_and_contact(report: dict[str, Any]) -> None:
    """A report's media_url is a web address; its contact (Open311's email, names and phone) a
    mapping of text, each within its column (db/models/cases.py ReportContact)."""
    media = report.get("media_url")
    if media is not None and not (
        isinstance(media, str)
        and urlsplit(media).scheme in ("http", "https")
        and urlsplit(media).netloc
        and len(media) <= _length(MEDIA_URL)
    ):
        raise _invalid("media_url is an http or https address of at most 2000 characters", field="media_url")
    contact = report.get("contact")
    if contact is None:
        return
    if not isinstance(contact, dict) or set(contact) - set(CONTACT_FIELDS):
        raise _invalid(f"contact is a mapping of {', '.join(CONTACT_FIELDS)}", field="contact")
    for name, value in contact.items():
        if value is not None and not (isinstance(value, str) and len(value) <= CONTACT_FIELDS[name]):
            raise _invalid(f"{name} is text of at most {CONTACT_FIELDS[name]} characters", field=name)
        check_text(value, name)


def check(engine: "Deployment", submission: Submission) -> Checked:
    """Every check that needs no database, in the order a client would fix them."""
    actor = submission.actor
    r = check_report(engine, submission.report, actor)
    stored: list[Stored] = [engine.evidence.check(u) for u in submission.uploads]
    key, request = _keyed(submission, stored)
    incoming = IncomingReport(r.get("description") or "", r.get("address"), r["channel"], r["lon"], r["lat"])
    located = engine.hooks.call("locate_case", report=incoming, grids=engine.places.grids)
    if located is None:
        raise GridcaseError(
            "out_of_area",
            f"({r['lon']:.6f}, {r['lat']:.6f}) is outside every grid of this city",
            {"point": [r["lon"], r["lat"]]},
        )
    engine.places.tenancy.require(actor, located["grids"], f"grid {located['grid']}")
    out_of_grid = _out_of_grid(engine, actor, located)
    return Checked(
        r, actor, list(submission.uploads), stored, key, request, located, out_of_grid, submission.quota
    )


def _keyed(submission: Submission, stored: list[Stored]) -> tuple[str | None, str | None]:
    """The submission's key scoped to its caller, and the digest of the request it came with."""
    key = submission.key
    if key is None:
        return None, None
    if not (isinstance(key, str) and 0 < len(key) <= MAX_KEY):
        raise _invalid(f"an idempotency key is 1 to {MAX_KEY} characters", field="idempotency_key")
    return scoped(submission.actor.id, key), digest(submission.report, [(s.kind, s.sha256) for s in stored])


def _taken_before(engine: "Deployment", submission: Submission) -> dict[str, Any] | GridcaseError | None:
    """The answer a report's key was given before, if any: a report made offline whose first
    answer was lost may be sent again once its device time is older than the profile allows,
    and it was taken when it first came."""
    try:
        key, request = _keyed(submission, [engine.evidence.check(u) for u in submission.uploads])
    except GridcaseError:  # a bad key or photo: refused when it first came too, so never taken
        return None
    with query(engine.db) as connection:
        found = BY_KEY(connection, {"key": key})
    return answer_again(found[0], key, request) if found and key is not None else None


def _out_of_grid(engine: "Deployment", actor: "Actor", located: dict[str, Any]) -> dict[str, Any] | None:
    """越界: the rule to apply when a grid-scoped reporter reports outside their grids."""
    rule = engine.city.intake.out_of_grid
    if not rule or not actor.grids or set(actor.grids) & set(located["grids"]):
        return None
    if rule["action"] == "refuse":
        raise GridcaseError(
            "out_of_grid",
            f"grid {located['grid']} is outside your responsibility grids ({', '.join(sorted(actor.grids))})",
            {"grid": located["grid"]},
        )
    return rule


def intake(
    engine: "Deployment",
    report: dict[str, Any],
    actor: "Actor",
    uploads: Sequence[Upload] = (),
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """One report: {case_id, number, duplicate, replay, event}, or the error it raises."""
    (outcome,) = intake_many(engine, [Submission(report, actor, tuple(uploads), idempotency_key)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def intake_many(engine: "Deployment", submissions: list[Submission]) -> list[dict[str, Any] | Exception]:
    """Each submission's answer, in order: what `intake` returns for it, or the exception it
    would raise. The after-transition hooks run once the reports are committed."""
    outcomes: list[dict[str, Any] | Exception | None] = [None] * len(submissions)
    checked: dict[int, Checked] = {}
    for i, submission in enumerate(submissions):
        try:
            checked[i] = check(engine, submission)
        except GridcaseError as exc:
            outcomes[i] = exc
            if exc.code == "device_time_too_old" and submission.key is not None:
                outcomes[i] = _taken_before(engine, submission) or exc
    if len(checked) > 1:
        try:
            outcomes_of = dict(zip(checked, _write(engine, list(checked.values())), strict=True))
        except Exception as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                outcomes_of = dict.fromkeys(checked, exc)  # the database went away: all fail alike
            else:  # perhaps one report's fault: each on its own
                log.warning("a batch of %d reports failed (%s); writing each alone", len(checked), exc)
                outcomes_of = {i: _write_alone(engine, c) for i, c in checked.items()}
    else:
        outcomes_of = {i: _write_alone(engine, c) for i, c in checked.items()}
    for i, outcome in outcomes_of.items():
        outcomes[i] = outcome
        if isinstance(outcome, dict) and not outcome["replay"]:
            if outcome["duplicate"]:  # the report joined a case: an event on it
                engine.hooks.after_transition(outcome["event"], outcome["event"]["transition"])
            else:
                engine.hooks.after_case_created(outcome["case_id"])
    answered = [outcome for outcome in outcomes if outcome is not None]
    assert len(answered) == len(outcomes)  # each submission was checked, then written or refused
    return answered


def _write(engine: "Deployment", checked: list[Checked]) -> list[dict[str, Any] | Exception]:
    now = engine.time.now()
    with write(engine.db) as connection:
        # the rate limits first, in the same transaction: no round trip or commit of their own
        refused = take(connection, [c.quota for c in checked], now)
        allowed = [c for c, refusal in zip(checked, refused, strict=True) if refusal is None]
        written = iter(write_batch(engine, connection, allowed, now) if allowed else ())
        return [next(written) if refusal is None else refusal for refusal in refused]


def _write_alone(engine: "Deployment", c: Checked) -> dict[str, Any] | Exception:
    try:
        return _write(engine, [c])[0]
    except IntegrityError as exc:
        # the same key won a race in another transaction: answer as that request did
        found = replay(engine, c) if c.key is not None else None
        return exc if found is None else found
    except Exception as exc:
        return exc


def replay(engine: "Deployment", c: Checked) -> dict[str, Any] | GridcaseError | None:
    """The answer an earlier request with report `c`'s idempotency key was given, if there was
    one (the refusal, when that request was another)."""
    with query(engine.db) as connection:
        found = BY_KEY(connection, {"key": c.key})
    return replayed(found[0], c) if found else None
