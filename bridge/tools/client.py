"""Posting a callback as the platform would, for `bridge send` and `bridge dlq replay`."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request


def post(
    url: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    token: str | None = None,
    token_header: str = "",
) -> tuple[int, str]:
    """The status and body of the answer; `OSError` when the bridge cannot be reached.

    A token travels in `token_header`, the header the bridge reads tokens from
    (`BRIDGE_AUTH_HEADER`), or in the path when there is none, as the platform sends it.
    """
    headers = {"Content-Type": content_type}
    if token and token_header:
        headers[token_header] = token
    elif token:
        url = f"{url.rstrip('/')}/{urllib.parse.quote(token, safe='')}"
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - user's URL
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
