"""JSON Schema (draft 2020-12) validation of a merged profile, with readable messages."""

import copy
import difflib
import hashlib
import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from gridcase.core.profile.loader import Issue, Profile
from gridcase.core.profile.located import mark_at
from gridcase.core.profile.merge import pointer

SCHEMA_BASE = "https://gridcase.dev/schemas/"
SECTION_SCHEMAS = (
    "common",
    "taxonomy",
    "units",
    "grids",
    "components",
    "workflow",
    "time_limits",
    "assessment",
    "channels",
    "roles",
    "simulation",
    "hotline",
)


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("gridcase.core").joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resources(
        (SCHEMA_BASE + f"{name}.json", Resource.from_contents(load_schema(name))) for name in SECTION_SCHEMAS
    )


def profile_schema(fragments: dict[str, dict] | None = None) -> dict[str, Any]:
    """The whole-profile schema, with plugin config blocks plugged into `config`."""
    schema = copy.deepcopy(load_schema("profile"))
    for block, fragment in sorted((fragments or {}).items()):
        schema["properties"]["config"]["properties"][block] = fragment
    return schema


def validator(fragments: dict[str, dict] | None = None) -> Draft202012Validator:
    return Draft202012Validator(
        profile_schema(fragments), registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


# digests of the profile contents found valid in this process: validating is most of opening a
# profile, and a process that opens one again and again (a test suite, the CLI's commands run
# in-process) need not repeat it
_VALID: set[bytes] = set()


def schema_issues(profile: Profile, fragments: dict[str, dict] | None = None) -> list[Issue]:
    key = _content_key(profile.data, fragments)
    if key is not None and key in _VALID:
        return []
    issues: list[Issue] = []
    for error in validator(fragments).iter_errors(profile.data):
        issues.extend(_issues_for(profile, error))
    if not issues and key is not None:
        _VALID.add(key)
    return issues


def _content_key(data: Any, fragments: dict[str, dict] | None) -> bytes | None:
    """A digest of what the schema sees; a value JSON lacks (a YAML date) is tagged with its
    type, so that it never matches the text it reads as."""
    try:
        text = json.dumps(
            [data, fragments or {}], sort_keys=True, default=lambda o: f"{type(o).__name__}:{o!r}"
        )
    except (TypeError, ValueError):  # keys of mixed types: validated every time
        return None
    return hashlib.sha256(text.encode()).digest()


def _issues_for(profile: Profile, error: ValidationError) -> list[Issue]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed or _matches_pattern(error.schema, key):
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            message = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            if path and path[-1] == "config":
                message = f"no enabled plugin provides a config block named {key!r}" + (
                    f" (did you mean {hint[0]!r}?)"
                    if hint
                    else f"; the enabled ones have: {', '.join(allowed)}"
                    if allowed
                    else ""
                )
            elif allowed:
                message += f"; allowed: {', '.join(allowed)}"
            out.append(Issue(mark_at(profile.data, path + [key], key=True), pointer(path + [key]), message))
        return out
    return [Issue(mark_at(profile.data, path), pointer(path), _message(error))]


def _matches_pattern(schema: dict, key: str) -> bool:
    return any(re.search(p, str(key)) for p in schema.get("patternProperties", {}))


_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    bool: "true/false",
    int: "a number",
    float: "a number",
}


def _message(error: ValidationError) -> str:
    value = error.instance
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in value]
        return (
            f"missing required key {missing[0]!r}"
            if len(missing) == 1
            else f"missing required keys {missing}"
        )
    if error.validator == "type":
        got = _TYPE_NAMES.get(type(value), "null" if value is None else type(value).__name__)
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        hint = (
            " (write codes as quoted text, e.g. '0101')"
            if expected == "string" and isinstance(value, (int, float))
            else ""
        )
        return f"expected {expected}, got {got}{hint}"
    if error.validator == "enum":
        return f"{value!r} is not one of: {', '.join(map(str, error.validator_value))}"
    if error.validator in ("anyOf", "oneOf"):
        description = error.schema.get("description")
        if description:
            return f"{value!r} is not valid here: expected {description[0].lower()}{description[1:]}"
        return f"{value!r} is not valid here"
    if error.validator == "pattern":
        return f"{value!r} does not match the pattern {error.validator_value}"
    if error.validator == "format" and error.validator_value == "regex":
        return f"{value!r} is not a valid regular expression"
    if error.validator == "const":
        return f"expected {error.validator_value!r}, got {value!r}"
    return error.message
