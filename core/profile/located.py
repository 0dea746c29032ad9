"""Parse YAML (and JSON/GeoJSON, which YAML reads too) keeping where each value came from.

Profiles are merged across `extends` and several files, and every validation message must
still name the file, line and column the offending value was written at. So the parsed tree
carries its positions with it: `LocatedDict` and `LocatedList` are plain dict and list
subclasses with a `marks` side table, and the merge keeps the marks of whichever value wins.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's loader when PyYAML was built with it
    from yaml import CSafeLoader as _BaseLoader
except ImportError:
    from yaml import SafeLoader as _BaseLoader


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class LocatedDict(dict):
    """A dict whose keys remember where they and their values were written."""

    mark: Mark | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # key -> (mark of the key, mark of the value)
        self.marks: dict[Any, tuple[Mark, Mark]] = {}


class LocatedList(list):
    """A list whose items remember where they were written."""

    mark: Mark | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.marks: list[Mark | None] = [None] * len(self)


class ParseError(Exception):
    """A file could not be parsed; carries every problem found in it."""

    def __init__(self, problems: list[tuple[Mark, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{m}: {msg}" for m, msg in problems))


class _Loader(_BaseLoader):
    """YAML 1.2-like scalars: dates stay strings and only true/false are booleans.

    YAML 1.1 turns `no`, `on` and `2026-10-01` into booleans and dates, which then fail the
    JSON Schema with a confusing message. Profiles are JSON-shaped data, so keep them so.
    """


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).append(("tag:yaml.org,2002:bool", _BOOL_RE))
# Codes such as 0101 or 01001 are text: an integer never starts with a zero (YAML 1.1 would
# read 0101 as octal 65, YAML 1.2 as 101; both silently lose the code).
_INT_RE = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
for _first, _resolvers in _Loader.yaml_implicit_resolvers.items():
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, _INT_RE if tag == "tag:yaml.org,2002:int" else regexp) for tag, regexp in _resolvers
    ]


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


MAX_BYTES = 64 * 1024 * 1024  # a profile file larger than this is a mistake (grids stream in)
MAX_DEPTH = 64  # profiles nest a few levels; deeper is hostile or broken


class _TooBig(Exception):
    """Raised out of `_Builder` with the message to report at `mark`."""

    def __init__(self, mark: Mark, message: str) -> None:
        self.mark, self.message = mark, message


class _Builder:
    """Builds the located tree from the composed nodes, within bounds.

    Aliases make YAML a graph: an anchor that contains itself never ends, and a few lines of
    nested aliases ("billion laughs") expand to billions of values. So a document may build no
    more values than it has characters (each value is written at least once, except through an
    alias), nor nest deeper than MAX_DEPTH, nor hold an alias inside its own anchor.
    """

    def __init__(self, file: str, text_length: int) -> None:
        self.file = file
        self.budget = max(text_length, 10_000)
        self.open: set[int] = set()  # the nodes being built, for cycles
        self.problems: list[tuple[Mark, str]] = []
        self.loader = _Loader("")

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooBig(
                _mark(self.file, node), "aliases expand to more values than the file has characters"
            )
        if depth > MAX_DEPTH:
            raise _TooBig(_mark(self.file, node), f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self.open:
                raise _TooBig(_mark(self.file, node), "an alias refers to the anchor it is inside of")
            self.open.add(id(node))
            try:
                return (
                    self._mapping(node, depth)
                    if isinstance(node, yaml.MappingNode)
                    else self._sequence(node, depth)
                )
            finally:
                self.open.discard(id(node))
        return self.loader.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> "LocatedDict":
        out = LocatedDict()
        out.mark = _mark(self.file, node)
        for key_node, value_node in node.value:
            key = self.build(key_node, depth + 1)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self.problems.append((_mark(self.file, key_node), "mapping keys must be plain scalars"))
                continue
            if key in out:
                first = out.marks[key][0]
                self.problems.append(
                    (
                        _mark(self.file, key_node),
                        f"duplicate key {key!r} (first defined at line {first.line})",
                    )
                )
                continue
            out[key] = self.build(value_node, depth + 1)
            out.marks[key] = (_mark(self.file, key_node), _mark(self.file, value_node))
        return out

    def _sequence(self, node: yaml.SequenceNode, depth: int) -> "LocatedList":
        out = LocatedList([self.build(item, depth + 1) for item in node.value])
        out.mark = _mark(self.file, node)
        out.marks = [_mark(self.file, item) for item in node.value]
        return out


def parse_text(text: str, file: str) -> Any:
    """Parse one YAML/JSON document into located containers; raise ParseError on any problem."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(file, mark.line + 1, mark.column + 1) if mark else Mark(file, 1, 1)
        language = "JSON" if file.endswith((".json", ".geojson")) else "YAML"
        raise ParseError([(where, f"{language} syntax error: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise ParseError([(Mark(file, 1, 1), f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None:
        return None
    builder = _Builder(file, len(text))
    try:
        data = builder.build(node)
    except _TooBig as exc:
        raise ParseError([(exc.mark, exc.message)]) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise ParseError([(Mark(file, mark.line + 1, mark.column + 1), str(exc.problem))]) from None
    if builder.problems:
        raise ParseError(builder.problems)
    return data


def parse_file(path: Path, display: str | None = None) -> Any:
    """Parse a file; `display` is the name used in marks (defaults to the path as given)."""
    name = display or str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError([(Mark(name, 1, 1), f"cannot read: {exc.strerror}")]) from None
    if size > MAX_BYTES:
        raise ParseError(
            [(Mark(name, 1, 1), f"{size:,} bytes is more than a profile file may hold ({MAX_BYTES:,})")]
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError([(Mark(name, 1, 1), f"not UTF-8 text: {exc.reason}")]) from None
    return parse_text(text, name)


def to_plain(value: Any) -> Any:
    """Drop the position tables: plain dicts and lists, for dumping and for consumers."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def mark_at(root: Any, path: list | tuple, *, key: bool = False) -> Mark | None:
    """The mark of the value at `path` (a JSON-pointer-like sequence of keys and indexes).

    Falls back to the nearest enclosing container that has a mark, so every error gets a
    position even when it is about something missing. With `key=True` the mark of the key
    itself is returned for the last step (for unknown-key errors).
    """
    best: Mark | None = getattr(root, "mark", None)
    node = root
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, LocatedDict) and step in node.marks:
            key_mark, value_mark = node.marks[step]
            best = key_mark if (last and key) else value_mark
            node = node[step]
        elif isinstance(node, LocatedList) and isinstance(step, int) and 0 <= step < len(node):
            best = node.marks[step] or best
            node = node[step]
        else:
            break
    return best
