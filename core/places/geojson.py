"""Read a GeoJSON FeatureCollection one feature at a time, with the line and column of each.

A city's grid file can be tens of megabytes. Parsing it whole into positioned containers (as
profiles are) took a minute and gigabytes; this reads the file in chunks, decodes each feature
with the standard library's C decoder and forgets it once the caller is done, so memory
follows the largest feature, not the file. Members other than `features` (`type`, `crs`, …)
are kept, in whatever order they come.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gridcase.core.profile.located import Mark, ParseError

CHUNK = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class FeatureStream:
    """`for mark, feature in FeatureStream(path)`; afterwards `members` holds the other members."""

    def __init__(self, path: Path, display: str | None = None) -> None:
        self.path, self.name = path, display or str(path)
        self.members: dict[str, Any] = {}
        self.buf, self.pos, self.eof = "", 0, False
        # the position of buf[0] in the file, and how far lines have been counted
        self.line0, self.col0, self.counted, self.counted_line = 1, 1, 0, 1

    def __iter__(self) -> Iterator[tuple[Mark, Any]]:
        try:
            with self.path.open(encoding="utf-8-sig") as self.handle:
                yield from self._collection()
        except UnicodeDecodeError as exc:
            raise ParseError([(self.mark(), f"not UTF-8 text: {exc.reason}")]) from None

    def mark(self) -> Mark:
        """The position of the next unread character."""
        self.counted_line += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        start = self.buf.rfind("\n", 0, self.pos)
        col = self.pos - start if start >= 0 else self.col0 + self.pos
        return Mark(self.name, self.counted_line, col)

    def _fail(self, message: str) -> ParseError:
        return ParseError([(self.mark(), message)])

    def _more(self) -> bool:
        """Read another chunk, dropping what has been consumed (keeping count of its lines)."""
        if self.eof:
            return False
        chunk = self.handle.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.mark()
        done = self.buf[: self.pos]
        newline = done.rfind("\n")
        self.col0 = self.col0 + len(done) if newline < 0 else len(done) - newline
        self.buf, self.pos, self.counted = self.buf[self.pos :] + chunk, 0, 0
        return True

    def _peek(self) -> str:
        """The next character after white space ('' at the end of the file)."""
        while True:
            space = _SPACE.match(self.buf, self.pos)
            assert space is not None  # _SPACE matches the empty string too
            self.pos = space.end()
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos : self.pos + 1]

    def _expect(self, chars: str, what: str) -> str:
        char = self._peek()
        if not char or char not in chars:
            raise self._fail(f"JSON syntax error: expected {what}")
        self.pos += 1
        return char

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # a value cut by the chunk's end decodes once the next chunk is in
                if self._more():
                    continue
                self.pos = min(exc.pos, len(self.buf))
                raise self._fail(f"JSON syntax error: {exc.msg}") from None
            # a number cut by the chunk's end decodes, wrongly, as a shorter number
            if end == len(self.buf) and self._more():
                continue
            self.pos = end
            return value

    def _collection(self) -> Iterator[tuple[Mark, Any]]:
        if self._peek() != "{":
            raise self._fail("expected a GeoJSON FeatureCollection with a features list")
        self.pos += 1
        if self._peek() == "}":
            self.pos += 1
            return
        while True:
            mark = self.mark()
            key = self._value()
            if not isinstance(key, str):
                raise ParseError([(mark, "JSON syntax error: expected a member name")])
            self._expect(":", "':'")
            if key == "features" and self._peek() == "[":
                self.pos += 1
                yield from self._features()
                self.members.setdefault("features", True)
            else:
                self.members[key] = self._value()
            if self._expect(",}", "',' or '}'") == "}":
                break
        if self._peek():
            raise self._fail("JSON syntax error: extra data after the FeatureCollection")

    def _features(self) -> Iterator[tuple[Mark, Any]]:
        if self._peek() == "]":
            self.pos += 1
            return
        while True:
            mark = self.mark()
            yield mark, self._value()
            if self._expect(",]", "',' or ']'") == "]":
                return
