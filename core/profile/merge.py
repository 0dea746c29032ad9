"""Merge a profile over the one it extends.

The rules (documented in docs/profiles.md, "Inheritance"):

* mappings merge deeply, key by key; the extending profile wins on scalars;
* a list whose items are all mappings with a `code` is a *keyed list*: items merge by code,
  new codes are appended in order, and `{code: X, $remove: true}` drops an inherited item;
* any other list is replaced whole;
* a mapping carrying `$replace: true` replaces the inherited mapping instead of merging.
"""

from typing import Any

from gridcase.core.profile.located import LocatedDict, LocatedList, Mark

REMOVE = "$remove"
REPLACE = "$replace"
KEY = "code"

Problem = tuple[Mark | None, str, str]  # (where, json pointer, message)


def pointer(path: list) -> str:
    """RFC 6901 JSON pointer for a path of keys and indexes."""
    if not path:
        return "/"
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def is_keyed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and KEY in item for item in value)
    )


def find_duplicate_codes(value: Any, path: list, problems: list[Problem]) -> None:
    """Report a code written twice in one keyed list of one file (merging would hide it)."""
    if isinstance(value, dict):
        for k, v in value.items():
            find_duplicate_codes(v, path + [k], problems)
    elif isinstance(value, list):
        if is_keyed(value):
            seen: dict[Any, int] = {}
            for i, item in enumerate(value):
                code = item[KEY]
                if code in seen:
                    problems.append(
                        (
                            _item_mark(value, i, KEY),
                            pointer(path + [i, KEY]),
                            f"duplicate code {code!r} (also at {pointer(path + [seen[code]])})",
                        )
                    )
                else:
                    seen[code] = i
        for i, item in enumerate(value):
            find_duplicate_codes(item, path + [i], problems)


def _item_mark(items: list, index: int, key: str | None = None) -> Mark | None:
    item = items[index]
    if key is not None and isinstance(item, LocatedDict) and key in item.marks:
        return item.marks[key][1]
    if isinstance(items, LocatedList):
        return items.marks[index]
    return None


def strip_directives(value: Any) -> Any:
    """Remove `$replace` markers and `$remove` items from a tree that merges over nothing."""
    if isinstance(value, dict):
        value.pop(REPLACE, None)
        if isinstance(value, LocatedDict):
            value.marks.pop(REPLACE, None)
        for v in value.values():
            strip_directives(v)
    elif isinstance(value, list):
        keep = [i for i, item in enumerate(value) if not (isinstance(item, dict) and item.get(REMOVE))]
        if len(keep) != len(value):
            marks = getattr(value, "marks", None)
            items = [value[i] for i in keep]
            value[:] = items
            if isinstance(value, LocatedList) and marks is not None:
                value.marks = [marks[i] for i in keep]
        for item in value:
            strip_directives(item)
    return value


def merge(base: Any, over: Any, path: list, problems: list[Problem]) -> Any:
    """Return `over` merged onto `base`; neither input is modified."""
    if isinstance(over, dict) and over.get(REPLACE) is True:
        return strip_directives(_copy(over))
    if isinstance(base, dict) and isinstance(over, dict):
        out = _copy(base)
        for key, value in over.items():
            if key == REPLACE:
                continue
            out[key] = (
                merge(base[key], value, path + [key], problems)
                if key in base
                else strip_directives(_copy(value))
            )
            if isinstance(over, LocatedDict) and isinstance(out, LocatedDict):
                out.marks[key] = over.marks[key]
        return out
    if is_keyed(base) and isinstance(over, list) and all(isinstance(i, dict) and KEY in i for i in over):
        return _merge_keyed(base, over, path, problems)
    return strip_directives(_copy(over))


def _merge_keyed(base: list, over: list, path: list, problems: list[Problem]) -> LocatedList:
    items = list(base)
    marks = list(getattr(base, "marks", [None] * len(base)))
    index = {item[KEY]: i for i, item in enumerate(items)}
    removed: set[int] = set()
    for j, item in enumerate(over):
        code = item[KEY]
        at = index.get(code)
        if item.get(REMOVE) is True:
            if at is None or at in removed:
                problems.append(
                    (
                        _item_mark(over, j, KEY),
                        pointer(path + [j]),
                        f"$remove: no inherited entry with code {code!r}",
                    )
                )
            else:
                removed.add(at)
            continue
        if at is None or at in removed:
            index[code] = len(items)
            items.append(strip_directives(_copy(item)))
            marks.append(_item_mark(over, j))
        else:
            items[at] = merge(items[at], item, path + [at], problems)
            marks[at] = _item_mark(over, j) or marks[at]
    out = LocatedList([item for i, item in enumerate(items) if i not in removed])
    out.marks = [m for i, m in enumerate(marks) if i not in removed]
    out.mark = getattr(over, "mark", None) or getattr(base, "mark", None)
    return out


def _copy(value: Any) -> Any:
    """A shallow-structure copy that keeps marks (leaf scalars are immutable)."""
    if isinstance(value, dict):
        out = LocatedDict({k: _copy(v) for k, v in value.items()})
        if isinstance(value, LocatedDict):
            out.marks = dict(value.marks)
            out.mark = value.mark
        return out
    if isinstance(value, list):
        out_list = LocatedList([_copy(v) for v in value])
        if isinstance(value, LocatedList):
            out_list.marks = list(value.marks)
            out_list.mark = value.mark
        return out_list
    return value
