"""Where gridcase's logs go, and in which form: one line per record on standard error, as text
or as JSON (`log_format`), from `log_level` on (settings or GRIDCASE_LOG_LEVEL/_FORMAT).

Only the `gridcase` loggers are configured, so a host application's own logging is left alone;
the request log (`gridcase.access`) puts its fields on the record, which the JSON form writes
as keys of the line and the text form as `key=value`.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        line["message"] = record.getMessage()
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items() if v is not None)
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        line = f"{line} {fields}" if fields else line
        return f"{line}\n{self.formatException(record.exc_info)}" if record.exc_info else line


class _Stderr(logging.StreamHandler):
    """Standard error as it is when a record is written (a test or a daemon may swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(level: str, form: str) -> None:
    """Send the `gridcase` loggers' records from `level` on to standard error in `form`; again
    replaces, never adds, the handler."""
    logger = logging.getLogger("gridcase")
    for handler in [h for h in logger.handlers if isinstance(h, _Stderr)]:
        logger.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
