"""Reading a path: the same answer for short paths (kept) and long ones (read anew)."""

from __future__ import annotations

import pytest

from bridge.http.routes import CACHED_PATH_LENGTH, CallbackPath, callback_path, route_of

SHORT_TOKEN = "t" * 40
LONG_TOKEN = "t" * (CACHED_PATH_LENGTH + 1)  # beyond the paths whose readings are kept


@pytest.mark.parametrize("token", [SHORT_TOKEN, LONG_TOKEN])
def test_a_callback_path_is_split_into_route_and_token_however_long(token: str) -> None:
    path = f"/callbacks/video-upload/{token}"
    for _ in range(2):  # the second reading of a short path is the kept one
        assert callback_path(path) == CallbackPath("/callbacks/video-upload", token)
        assert route_of(path) == "/callbacks/video-upload"


@pytest.mark.parametrize(
    ("path", "parsed", "route"),
    [
        (
            "/callbacks/video-upload",
            CallbackPath("/callbacks/video-upload", None),
            "/callbacks/video-upload",
        ),
        (
            "/callbacks/video-upload/",
            CallbackPath("/callbacks/video-upload", ""),
            "/callbacks/video-upload",
        ),
        ("/callbacks/no-such-kind/x", CallbackPath("/callbacks/no-such-kind", "x"), "other"),
        ("/callbacks/video-upload/a/b", None, "other"),
        ("/healthz", None, "/healthz"),
        ("/" + "x" * CACHED_PATH_LENGTH, None, "other"),
    ],
)
def test_other_paths(path: str, parsed: CallbackPath | None, route: str) -> None:
    for _ in range(2):
        assert callback_path(path) == parsed
        assert route_of(path) == route
