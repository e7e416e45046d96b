"""What can go wrong with a callback, each mapped to the status the sender gets.

The mapping lives here and nowhere else: 4xx for faults a retry cannot fix,
503 for everything a retry can.
"""

from __future__ import annotations


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
