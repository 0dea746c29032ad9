"""Tolerant accessors for profile data the schema may already have rejected: a wrong type reads
as empty, so one run reports schema problems and reference problems together."""

from collections.abc import Iterator
from typing import Any


def listed(value: Any) -> list:
    return value if isinstance(value, list) else []


def mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def codes(items: Any) -> set:
    return {i.get("code") for i in listed(items) if isinstance(i, dict) and isinstance(i.get("code"), str)}


def entries(items: Any) -> Iterator[tuple[int, dict]]:
    for i, item in enumerate(listed(items)):
        if isinstance(item, dict):
            yield i, item
