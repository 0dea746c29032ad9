"""The 12345 bridge's inward half (`/api/v1/hotline/…`, docs/hotline.md): the platform posts
work orders, reads them, answers extensions, sends its 回访 results and fetches the photos an
answer names, with its own account's token; the centre lists the orders waiting for it, files
them with a class, or returns them. The outward half (the answers) is core/hotline/answers.py.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.core.hotline import orders
from gridcase.core.web.bodies import BOOLEAN, INTEGER, NUMBER, Schema, obj, text
from gridcase.core.web.endpoints import _engine, _int, body_of, endpoint, ok
from gridcase.core.web.identity import require

# letters, digits, '_', '.', '-': the number is part of the paths the platform calls and is sent
ORDER_NO = {"type": "string", "pattern": orders.ORDER_NO_PATTERN}
POINT = {
    "type": "array",
    "items": NUMBER,
    "minItems": 2,
    "maxItems": 2,
    "description": "[longitude, latitude]",
}
NULLABLE = {"type": ["string", "null"]}
ORDER = Schema(
    obj(
        {
            "order_no": {**ORDER_NO, "description": "the platform's order number: its idempotency key"},
            "category": {
                **text(maxLength=64),
                "description": "the platform's category (GB/T 39666 or the city's)",
            },
            "category_name": text(maxLength=200),
            "description": text(maxLength=5000),
            "address": text(maxLength=500),
            "point": POINT,
            "caller": obj(
                {"name": text(maxLength=100), "phone": text(maxLength=40)}, additionalProperties=False
            ),
            "photo_url": text(maxLength=2000),
            "urgent": BOOLEAN,
        },
        required=("order_no", "category"),
        additionalProperties=False,
    )
)
STATUS = obj(
    {
        "order_no": {"type": "string"},
        "status": {"enum": ["new", "waiting", "open", "returned", "done"]},
        "waiting_for": {"enum": ["class", "place", None]},
        "case_number": NULLABLE,
        "case_state": NULLABLE,
        "received_at": {"type": "string"},
        "return_by": {"type": "string"},
        "answers": INTEGER,
    },
    required=("order_no", "status", "case_number", "answers"),
)
PATH = [("order_no", "path", ORDER_NO, True)]


@endpoint(
    "POST",
    "/hotline/orders",
    "The 12345 platform posts a work order; its order_no is its idempotency key (a resend answers 200)",
    body=ORDER,
    response=STATUS,
)
async def post_order(request: Request) -> Response:
    actor = await require(request)
    body, _ = await body_of(request)
    answer, made = await run_in_threadpool(orders.receive, _engine(request), actor, body)
    return ok(answer, 201 if made else 200)


@endpoint(
    "GET",
    "/hotline/orders/{order_no}",
    "An order of the platform's, and its case",
    params=PATH,
    response=STATUS,
)
async def get_order(request: Request) -> Response:
    actor = await require(request)
    return ok(
        await run_in_threadpool(orders.status, _engine(request), actor, request.path_params["order_no"])
    )


RECORDED = obj({"order_no": {"type": "string"}, "recorded": BOOLEAN}, required=("order_no", "recorded"))


@endpoint(
    "POST",
    "/hotline/orders/{order_no}/extension",
    "The platform's answer to an extension (延期) asked",
    params=PATH,
    body=Schema(
        obj(
            {"approved": BOOLEAN, "note": text(maxLength=1000), "until": text(maxLength=40)},
            required=("approved",),
            additionalProperties=False,
        )
    ),
    response=RECORDED,
)
async def post_extension(request: Request) -> Response:
    actor = await require(request)
    body, _ = await body_of(request)
    order_no = request.path_params["order_no"]
    return ok(await run_in_threadpool(orders.extension_answered, _engine(request), actor, order_no, body))


@endpoint(
    "POST",
    "/hotline/orders/{order_no}/visit",
    "The platform's 回访 result; a caller not satisfied reopens the case",
    params=PATH,
    body=Schema(
        obj(
            {"satisfied": BOOLEAN, "note": text(maxLength=1000)},
            required=("satisfied",),
            additionalProperties=False,
        )
    ),
    response=obj(
        {**RECORDED["properties"], "reopened": BOOLEAN, "refused": {"type": "string"}},
        required=("order_no", "recorded", "reopened"),
    ),
)
async def post_visit(request: Request) -> Response:
    actor = await require(request)
    body, _ = await body_of(request)
    order_no = request.path_params["order_no"]
    return ok(await run_in_threadpool(orders.visited, _engine(request), actor, order_no, body))


@endpoint(
    "GET",
    "/hotline/orders/{order_no}/photos/{evidence_id}",
    "A photo an answer (办结) named, for the platform",
    params=[*PATH, ("evidence_id", "path", INTEGER, True)],
    response={"type": "string", "contentEncoding": "binary"},
)
async def get_photo(request: Request) -> Response:
    actor = await require(request)
    content, media_type = await run_in_threadpool(
        orders.photo, _engine(request), actor, request.path_params["order_no"], _int(request, "evidence_id")
    )
    return Response(content, media_type=media_type)


# -- the centre -----------------------------------------------------------------------

WAITING = {
    "type": "array",
    "items": obj(
        {
            "order_no": {"type": "string"},
            "waiting_for": {"enum": ["class", "place"]},
            "category": NULLABLE,
            "category_name": NULLABLE,
            "description": NULLABLE,
            "address": NULLABLE,
            "caller": {
                "type": ["object", "null"],
                "properties": {"name": NULLABLE, "phone": NULLABLE},
                "description": "masked (张*, 138****1111) for roles that read contacts masked",
            },
            "received_at": {"type": "string"},
            "return_by": {"type": "string"},
        },
        required=("order_no", "waiting_for"),
    ),
}


@endpoint(
    "GET", "/hotline/waiting", "The orders waiting for an operator (no class or no place)", response=WAITING
)
async def get_waiting(request: Request) -> Response:
    actor = await require(request)
    return ok(await run_in_threadpool(orders.waiting, _engine(request), actor))


@endpoint(
    "POST",
    "/hotline/orders/{order_no}/file",
    "An operator names a waiting order's class (and point), and it is filed",
    params=PATH,
    body=Schema(
        obj(
            {"category": text(maxLength=64), "kind": {"enum": ["component", "event"]}, "point": POINT},
            required=("category",),
            additionalProperties=False,
        )
    ),
    response=STATUS,
)
async def post_file(request: Request) -> Response:
    actor = await require(request)
    body, _ = await body_of(request)
    order_no = request.path_params["order_no"]
    return ok(await run_in_threadpool(orders.file_waiting, _engine(request), actor, order_no, body))


@endpoint(
    "POST",
    "/hotline/orders/{order_no}/return",
    "An operator returns (退单) a waiting order, with the reason, within the platform's time limit",
    params=PATH,
    body=Schema(
        obj({"reason": text(minLength=1, maxLength=1000)}, required=("reason",), additionalProperties=False)
    ),
    response=obj(
        {"order_no": {"type": "string"}, "status": {"type": "string"}}, required=("order_no", "status")
    ),
)
async def post_return(request: Request) -> Response:
    actor = await require(request)
    body, _ = await body_of(request)
    order_no = request.path_params["order_no"]
    return ok(
        await run_in_threadpool(orders.return_waiting, _engine(request), actor, order_no, body["reason"])
    )
