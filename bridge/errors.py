"""What can go wrong with a callback, each mapped to the status the sender gets.

The mapping lives here and nowhere else: 4xx for faults a retry cannot fix,
503 for everything a retry can.
"""

from __future__ import annotations

import msgspec


class CallbackError(Exception):
    status: int = 500
    # Whether the raw body is kept in the dead-letter topic: only for authentic
    # input that reached the decoder.
    kept_as_dead_letter: bool = False

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class NotJson(CallbackError):
    status = 400
    kept_as_dead_letter = True


class WrongContentType(CallbackError):
    status = 415
    kept_as_dead_letter = True


class WrongShape(CallbackError):
    status = 422
    kept_as_dead_letter = True


class BodyTooLarge(CallbackError):
    status = 413


class SlowBody(CallbackError):
    status = 408


class Unauthenticated(CallbackError):
    status = 401


class Forbidden(CallbackError):
    status = 403


class Unavailable(CallbackError):
    """Kafka did not store the records, or the bridge is not ready or overloaded."""

    status = 503


def at_path(reason: str, path: str) -> str:
    """A fault's message as msgspec writes it, with its JSON path: what `located` splits."""
    return f"{reason} - at `{path}`"


def located(error: msgspec.ValidationError) -> tuple[str, str | None]:
    """msgspec's message split into its reason and its JSON path (`$.data[0].videoId`).

    The path is None when msgspec names none (the fault is at the root).
    """
    reason, marker, where = str(error).partition(" - at `")
    return reason, where.removesuffix("`") if marker else None
