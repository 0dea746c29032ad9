"""The OpenAPI 3.1 document of the JSON API, built from the same endpoint list as the routes."""

import re
from typing import Any

from gridcase.core import __version__
from gridcase.core.web.api import ENDPOINTS

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
# the same fields as the JSON body, as form fields or inside one JSON field, with photos
MULTIPART = {
    "type": "object",
    "properties": {
        "report": {"type": "string", "contentMediaType": "application/json"},
        "photo": {"type": "string", "contentEncoding": "binary"},
        # a photo taken before or after the handling, shown on that side of the case page
        "before": {"type": "string", "contentEncoding": "binary"},
        "after": {"type": "string", "contentEncoding": "binary"},
    },
}
ERROR_STATUSES = {
    "400": "Malformed request",
    "401": "Not authenticated",
    "403": "Outside the caller's roles or scope",
    "404": "No such object",
    "409": "Conflict: a stale version or a transition that cannot happen now",
    "413": "Body or file too large",
    "415": "Unsupported content type",
    "422": "Understood but invalid",
    "429": "Too many requests",
    "503": "The database did not answer; try again (an intake with the same Idempotency-Key)",
}


def document(engine: Any = None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for e in ENDPOINTS:
        creates = e.method == "POST" and e.path.endswith(("/cases", "/hotline/orders"))
        operation: dict[str, Any] = {
            "operationId": e.handler.__name__ if e.method != "DELETE" else f"{e.handler.__name__}_delete",
            "summary": e.summary,
            "parameters": [
                {"name": name, "in": where, "required": required or where == "path", "schema": schema}
                for name, where, schema, required in e.params
            ],
            "responses": {
                ("201" if creates else "200"): {
                    "description": "Created" if creates else "OK",
                    "content": {"application/json": {"schema": e.response}},
                },
                **{
                    code: {"description": text, "content": {"application/json": {"schema": ERROR}}}
                    for code, text in ERROR_STATUSES.items()
                },
            },
        }
        if creates:  # a retry with the key of a report already taken answers with its case
            operation["responses"]["200"] = {
                "description": "A retry: the case its Idempotency-Key made",
                "content": {"application/json": {"schema": e.response}},
            }
        if not e.public:
            operation["security"] = [{"bearer": []}, {"session": []}]
        if e.body is not None:
            content = {"application/json": {"schema": e.body.schema}}
            if e.multipart:
                content["multipart/form-data"] = {"schema": MULTIPART}
            operation["requestBody"] = {"required": True, "content": content}
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", e.path)
        paths.setdefault(path, {})[e.method.lower()] = operation
    title = "gridcase"
    if engine is not None:
        title += f" · {engine.profile.get('name', '')}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": __version__,
            "description": "Digital city management: cases, units, grids, time limits and assessment.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token (gridcase token create)",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "gridcase_session"},
            }
        },
    }
