"""The bridge's paths, in one place: the public ones and `/callbacks/<kind>[/<token>]`.

Dispatch, the guards and the access log all read a path through here, so that
they agree on what is a callback, which kind, and where its token is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from bridge.kinds import KINDS

HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
# Probes and scrapes: no credentials asked, and logged at debug level only.
PUBLIC_PATHS = frozenset({HEALTHZ, READYZ, METRICS})
CALLBACK_ROUTES = frozenset(kind.route for kind in KINDS)


class CallbackPath(NamedTuple):
    route: str  # `/callbacks/<kind>`, of a known kind or not
    token: str | None  # the path's last segment, when there is one (may be empty)


# The access log, the guards and dispatch each read every request's path, and a platform
# sends the same few paths again and again: the readings of paths up to this long are
# kept, the last CACHED_PATHS of them. A longer path, which no platform sends, is read
# anew each time, so that what is kept stays small whatever a client sends.
CACHED_PATH_LENGTH = 256
CACHED_PATHS = 64

T = TypeVar("T")


def _kept(read: Callable[[str], T]) -> Callable[[str], T]:
    """`read`, its answers for short paths kept (see CACHED_PATH_LENGTH)."""
    cached = functools.lru_cache(maxsize=CACHED_PATHS)(read)

    @functools.wraps(read)
    def reading(path: str) -> T:
        return cached(path) if len(path) <= CACHED_PATH_LENGTH else read(path)

    return reading


@_kept
def callback_path(path: str) -> CallbackPath | None:
    """`/callbacks/<kind>` or `/callbacks/<kind>/<token>` split; None for any other path."""
    segments = path.split("/")
    # "/callbacks/<kind>/<token>" splits into ["", "callbacks", kind, token].
    if len(segments) in (3, 4) and not segments[0] and segments[1] == "callbacks" and segments[2]:
        return CallbackPath(
            "/callbacks/" + segments[2], segments[3] if len(segments) == 4 else None
        )
    return None


@_kept
def route_of(path: str) -> str:
    """A bounded label for a path: a public path, a callback route, or `other`.

    Never the path as sent: a callback path carries its token.
    """
    if path in PUBLIC_PATHS:
        return path
    parsed = callback_path(path)
    if parsed is not None and parsed.route in CALLBACK_ROUTES:
        return parsed.route
    return "other"
