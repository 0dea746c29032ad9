"""The JSON API's patrol track (core/patrol/track.py): a handset sends its person's points in
batches, each point kept or refused on its own; the person and the centre read a day's track."""

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.core.errors import GridcaseError
from gridcase.core.patrol import track as patrol
from gridcase.core.web.api_cases import MOMENT
from gridcase.core.web.bodies import INTEGER, NUMBER, TEXT, Schema, obj, value
from gridcase.core.web.endpoints import _engine, _int, body_of, endpoint, ok
from gridcase.core.web.identity import require

# each point is checked on its own (patrol.check_point), so that one bad point refuses itself
# and not the batch; the schema holds only the batch's shape and the text rule
BATCH = Schema(
    obj(
        {
            "points": {
                "type": "array",
                "minItems": 1,
                "maxItems": patrol.MOST_POINTS,
                "items": value(1),
            }
        },
        required=("points",),
        additionalProperties=False,
    )
)
RECORDED = obj(
    {
        "received": INTEGER,
        "kept": INTEGER,
        "refused": {
            "type": "array",
            "items": obj(
                {"index": INTEGER, "code": TEXT, "message": TEXT, "field": {"type": ["string", "null"]}},
                required=("index", "code", "message"),
            ),
        },
    },
    required=("received", "kept", "refused"),
)
POINT = obj(
    {
        "made_at": MOMENT,
        "lon": NUMBER,
        "lat": NUMBER,
        "accuracy": {"type": ["number", "null"]},
        "arrived_at": MOMENT,
    },
    required=("made_at", "lon", "lat", "arrived_at"),
)
TRACK = obj(
    {
        "person": {"type": "object"},
        "date": {"type": "string", "format": "date"},
        "points": {"type": "array", "items": POINT},
    },
    required=("person", "date", "points"),
)


@endpoint(
    "POST",
    "/track",
    "Send points of the caller's patrol track (made_at with its offset, lon, lat, accuracy in "
    "metres); a point sent again is kept once, a bad one is refused by its index",
    body=BATCH,
    response=RECORDED,
)
async def send_track(request: Request) -> Response:
    actor = await require(request)
    body, _ = await body_of(request)
    return ok(await run_in_threadpool(patrol.record, _engine(request), actor, body["points"]))


def day_of(engine, raw: str | None) -> date:
    """A day as YYYY-MM-DD; today in the city's zone when none is given."""
    if not raw:
        return engine.time.now().astimezone(engine.city.timezone).date()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise GridcaseError("invalid_request", "date is a day, YYYY-MM-DD", {"field": "date"}) from None


@endpoint(
    "GET",
    "/track",
    "A person's patrol track of a day in the city's zone (their own; anyone's for the centre)",
    params=[
        ("person", "query", INTEGER, False),
        ("date", "query", {"type": "string", "format": "date"}, False),
    ],
    response=TRACK,
)
async def get_track(request: Request) -> Response:
    actor = await require(request)
    engine = _engine(request)
    person = _int(request, "person") if request.query_params.get("person") else actor.id
    if person is None:
        raise GridcaseError("invalid_request", "name the person whose track to read", {"field": "person"})
    day = day_of(engine, request.query_params.get("date"))
    return ok(await run_in_threadpool(patrol.day_track, engine, actor, person, day))
