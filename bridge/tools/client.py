"""Posting a callback as the platform would, for `bridge send` and `bridge dlq replay`."""

from __future__ import annotations

import urllib.error
import urllib.request


def post(
    url: str, body: bytes, *, content_type: str = "application/json", token: str | None = None
) -> tuple[int, str]:
    """The status and body of the answer; `OSError` when the bridge cannot be reached."""
    headers = {"Content-Type": content_type}
    if token:
        headers["X-Callback-Token"] = token
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - user's URL
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
