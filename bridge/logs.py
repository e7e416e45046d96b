"""Logging as one JSON object per line, carrying the request id of the request being served.

Never pass payloads or secrets to a log call: the formatter writes what it is given.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time

import msgspec

# Set by the access middleware for the duration of a request.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else given with `extra=` is emitted as a field.
# uvicorn adds `color_message`, the same text with terminal colours.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}

_encode = msgspec.json.Encoder().encode


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info is not None:
            line["error"] = self.formatException(record.exc_info)
        return _encode(line).decode()


_second = -1
_second_text = ""


def _utc(created: float) -> str:
    """RFC 3339 in UTC with milliseconds; the formatted second is reused within it."""
    global _second, _second_text
    whole = int(created)
    if whole != _second:
        _second, _second_text = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second_text}.{int(created % 1 * 1000):03d}Z"


def utc_now() -> str:
    return _utc(time.time())


def configure_logging(level: str) -> None:
    """JSON lines on stderr for our loggers, uvicorn's and aiokafka's alike."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # aiokafka logs every failed reconnect; the bridge reports state changes itself.
    if level != "debug":
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
