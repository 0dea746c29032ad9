"""What text gridcase takes and what it emits: one rule for every entry point and every encoder.

Text is refused when it is not valid Unicode (a lone UTF-16 surrogate, which JSON's `\\ud800`
escapes can carry, cannot be encoded as UTF-8, so the database driver failed half-way through a
write) or when it holds a control character other than tab and a line break (NUL cannot be
stored by PostgreSQL; U+0001 and the like make XML invalid for every Open311 client; U+FFFE and
U+FFFF are not XML characters either). Carriage returns are line breaks too: browsers send a
textarea's lines as CRLF.

    check_text(value, "description")   # the value, or GridcaseError("invalid_text") naming the field
    check_fields({"name": …})          # each text value of a flat mapping (a form, a CSV row)
    clean_text(value)                  # for encoders: illegal characters become U+FFFD
    clean_all(data)                    # the same for every text in nested lists and dicts

`PATTERN` is the same rule as a regular expression, published in the OpenAPI document's string
schemas, so the JSON API's schema validation refuses exactly what `check_text` refuses.
"""

import re
from collections.abc import Mapping
from typing import Any

from gridcase.core.errors import GridcaseError

# C0 controls but tab, LF and CR; DEL and the C1 controls; surrogates; the two non-characters XML forbids
# (as escapes, so that the pattern is plain ASCII wherever it is published: JSON, ECMA regexes)
ILLEGAL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
PATTERN = f"^[^{ILLEGAL}]*$"
_illegal = re.compile(f"[{ILLEGAL}]")
REPLACEMENT = "\ufffd"


def first_illegal(value: str) -> int | None:
    """The position of the first character text may not hold, or None."""
    found = _illegal.search(value)
    return None if found is None else found.start()


def problem(value: str) -> str | None:
    """What is wrong with the text, in words, or None when it may be taken."""
    at = first_illegal(value)
    if at is None:
        return None
    char = value[at]
    kind = "is not valid Unicode" if "\ud800" <= char <= "\udfff" else "is a control character"
    return f"character {at + 1} (U+{ord(char):04X}) {kind}"


def check_text(value: Any, field: str) -> Any:
    """`value` unchanged when it is not text or is text that may be taken; else
    GridcaseError("invalid_text") with the field's name in its details."""
    if isinstance(value, str):
        wrong = problem(value)
        if wrong is not None:
            raise GridcaseError("invalid_text", f"{field}: {wrong}", {"field": field})
    return value


def check_fields(fields: Mapping[str, Any], prefix: str = "", decoded: bool = False) -> None:
    """Every text key and value of a flat mapping (a form's fields, a CSV row) checked. With
    `decoded`, the fields were decoded from bytes with replacement (Starlette's forms are), so a
    U+FFFD marks bytes that were not UTF-8, and is refused as they would have been."""
    for name, value in fields.items():
        for text, field in ((name, f"{prefix}{name!r} (a field's name)"), (value, f"{prefix}{name}")):
            check_text(text, field)
            if decoded and isinstance(text, str) and REPLACEMENT in text:
                raise GridcaseError("invalid_text", f"{field}: not valid UTF-8", {"field": field})


def clean_text(value: str) -> str:
    """The text with every character no encoder may emit replaced by U+FFFD: defence in depth
    for rows stored before these checks existed."""
    return _illegal.sub(REPLACEMENT, value) if _illegal.search(value) else value


def clean_all(value: Any) -> Any:
    """`value` with every text in it, through nested lists and dicts, cleaned as by `clean_text`:
    for encoders of whole answers (Open311's, the bulletin's)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list | tuple):
        return type(value)(clean_all(item) for item in value)  # a tuple stays hashable: a key
    if isinstance(value, dict):
        return {clean_all(key): clean_all(item) for key, item in value.items()}
    return value
