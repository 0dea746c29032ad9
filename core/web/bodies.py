"""Request bodies: read within their size and nesting limits before anything parses them, then
validated against the very schema the OpenAPI document publishes for them.

    REPORT = Schema({...})        # compiled once, when the module is imported
    REPORT.check(body)            # the body, or GridcaseError with a JSON pointer to what is wrong

A schema violation is a 422 `invalid_request` whose details hold the pointer of each error
(`{"pointer": "/point/0", "errors": [{"pointer", "message"}]}`); text that breaks the rule of
`core/text.py` is a 422 `invalid_text` naming its field. A body too large is a 413, one nested
deeper than `MAX_DEPTH`, or not JSON at all, a 400.
"""

import json
import math
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from gridcase.core.cases.evidence import PHASES, Upload
from gridcase.core.errors import GridcaseError
from gridcase.core.text import PATTERN, problem

if TYPE_CHECKING:  # python-multipart defines it for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MAX_BYTES = 1_000_000
MAX_DEPTH = 32  # a report is 3 deep; Python's parser recurses, and ~1000 levels overflowed it
MAX_FILES, MAX_FIELDS = 9, 20

TEXT = {"type": "string", "pattern": PATTERN}
INTEGER, NUMBER, BOOLEAN = {"type": "integer"}, {"type": "number"}, {"type": "boolean"}


def text(**limits: Any) -> dict[str, Any]:
    """A text field's schema: the text rule, and limits such as maxLength."""
    return {**TEXT, **limits}


def value(depth: int = 3) -> dict[str, Any]:
    """Any JSON value whose text (keys included) follows the text rule, nested at most `depth`:
    for free-form fields such as a transition's payload."""
    scalars = [TEXT, NUMBER, BOOLEAN, {"type": "null"}]
    if depth == 0:
        return {"anyOf": scalars}
    inner = value(depth - 1)
    return {
        "anyOf": [
            *scalars,
            {"type": "array", "items": inner},
            {"type": "object", "propertyNames": TEXT, "additionalProperties": inner},
        ]
    }


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **more: Any) -> dict[str, Any]:
    """An object's schema whose field names follow the text rule too."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "propertyNames": TEXT,
        **more,
    }


def _pointer(error: ValidationError) -> str:
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in error.absolute_path)


class Schema:
    """A JSON Schema with its validator, built once: the document publishes `schema`, requests are
    checked against the same dictionary."""

    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self.schema = schema
        self.validator = Draft202012Validator(schema)

    def errors(self, instance: Any) -> Iterator[ValidationError]:
        return self.validator.iter_errors(instance)

    def check(self, instance: Any) -> Any:
        errors = list(self.errors(instance))
        if not errors:
            return instance
        first = best_match(errors)
        found = [{"pointer": _pointer(e), "message": _message(e)} for e in errors[:20]]
        pointer = _pointer(first)
        details = {"pointer": pointer, "field": pointer.rsplit("/", 1)[-1] or None, "errors": found}
        code = "invalid_text" if _is_text_error(first) else "invalid_request"
        raise GridcaseError(code, f"{pointer or 'the body'}: {_message(first)}", details)


def _is_text_error(error: ValidationError) -> bool:
    return error.validator == "pattern" and error.validator_value == PATTERN


def _message(error: ValidationError) -> str:
    """jsonschema's message, but never the refused text itself (it may hold what cannot be shown)."""
    if _is_text_error(error):
        return problem(error.instance) or "text is not allowed here"
    if isinstance(error.instance, (str, dict, list)) and len(repr(error.instance)) > 80:
        return f"{error.validator} {error.validator_value!r} does not hold"
    return error.message


# -- reading --------------------------------------------------------------------------

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(raw: bytes, most: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests deeper than `most`, found without parsing it."""
    if raw.count(b"[") + raw.count(b"{") <= most:  # nearly every body: no need to look closer
        return False
    depth = 0
    for byte in _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        if depth > most:
            return True
    return False


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _number(digits: str) -> float:
    number = float(digits)
    if math.isinf(number):  # 1e999: no field holds it, and the database cannot store it
        raise ValueError(f"{digits[:20]} is too large a number")
    return number


def parse(raw: bytes, what: str = "the body") -> Any:
    """The JSON value of `raw`, or a 400 saying what is wrong: not JSON, not UTF-8, NaN or
    Infinity, or nested deeper than MAX_DEPTH (checked first)."""
    if too_deep(raw):
        raise GridcaseError("bad_request", f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw or b"null", parse_constant=_constant, parse_float=_number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GridcaseError("bad_request", f"{what} is not valid JSON: {exc}") from None


async def read_json(request: Request, limit: int = MAX_BYTES) -> Any:
    """The request's JSON value, within `limit` bytes, or a 400/413/415 that says what is wrong."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise GridcaseError("unsupported_media_type", f"send application/json, not {kind or 'nothing'}")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise GridcaseError("too_large", f"the body is over {limit} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise GridcaseError("too_large", f"the body is over {limit} bytes")
    return parse(bytes(raw))


async def check_multipart_text(request: Request) -> None:
    """Refuse a multipart field whose bytes are not UTF-8. Starlette reads such a field as latin-1,
    which makes any bytes look like text, so the text rule alone would store them garbled; the
    fields' own bytes (not files') are read here first, and Starlette parses the kept body after."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        return
    raw = await request.body()
    part: dict[str, Any] = {}

    def begin() -> None:
        part.update(headers={}, field=b"", value=b"", data=bytearray())

    def header_end() -> None:
        part["headers"][part["field"].lower()] = part["value"]
        part["field"] = part["value"] = b""

    def end() -> None:
        _, options = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            try:
                bytes(part["data"]).decode("utf-8")
            except UnicodeDecodeError:
                raise GridcaseError("invalid_text", f"{name}: not UTF-8 text", {"field": name}) from None

    callbacks: MultipartCallbacks = {
        "on_part_begin": begin,
        "on_header_field": lambda data, start, stop: part.update(field=part["field"] + data[start:stop]),
        "on_header_value": lambda data, start, stop: part.update(value=part["value"] + data[start:stop]),
        "on_header_end": header_end,
        "on_part_data": lambda data, start, stop: part["data"].extend(data[start:stop]),
        "on_part_end": end,
    }
    try:
        MultipartParser(params[b"boundary"], callbacks).write(raw)
    except GridcaseError:
        raise
    except Exception:  # a malformed body: request.form() says so, as it always has
        return


async def read_body(request: Request, schema: Schema, multipart: bool = False) -> tuple[Any, list[Upload]]:
    """The body checked against `schema`, and its files: JSON, or (where `multipart`) form fields
    with a `report`/`payload` field of JSON merged in, and photo files."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (multipart and kind == "multipart/form-data"):
        body = await read_json(request)
        if not isinstance(body, dict):
            raise GridcaseError("bad_request", "the body must be a JSON object")
        return schema.check(body), []
    most = request.app.state.engine.evidence.max_bytes
    await check_multipart_text(request)
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=most)
    except Exception as exc:  # python-multipart and Starlette raise several kinds
        raise GridcaseError("bad_request", f"the multipart body cannot be read: {exc}") from None
    fields, uploads = {}, []
    for name, item in form.multi_items():
        if isinstance(item, str):
            fields[name] = item
            continue
        content = await item.read()
        if len(content) > most:
            raise GridcaseError("evidence_too_large", f"{item.filename!r} is over {most} bytes")
        wrong = problem(item.filename or "")
        if wrong is not None:
            raise GridcaseError("invalid_text", f"the file name: {wrong}", {"field": name})
        if name in PHASES:  # a photo the handset took before or after the handling
            uploads.append(Upload(item.filename or "file", content, "photo", phase=name))
        else:
            uploads.append(
                Upload(item.filename or "file", content, "photo" if name in ("photo", "photos") else name)
            )
    raw = fields.pop("report", None) or fields.pop("payload", None) or "{}"
    data = parse(raw.encode("utf-8", "surrogatepass"), "the report field")
    if not isinstance(data, dict):
        raise GridcaseError("bad_request", "the report field must be a JSON object")
    return schema.check({**fields, **data}), uploads
