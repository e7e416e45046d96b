"""The time window a reconciliation run checks, and the durations and instants that name it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d`, or combinations such as `1h30m`."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}: expected for example 90s, 15m, 2h or 1h30m")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span <= timedelta(0):
        raise ValueError(f"invalid duration {text!r}: must be longer than 0 s")
    return span


def instant(text: str) -> datetime:
    """An RFC 3339 time with its offset (`2026-12-01T10:00:00Z`)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"invalid time {text!r}: expected RFC 3339 such as 2026-12-01T10:00:00Z")
    return moment


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"the window ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})"
            )


def lookback_window(lookback: timedelta, now: datetime | None = None) -> Window:
    end = now or datetime.now(UTC)
    return Window(end - lookback, end)
